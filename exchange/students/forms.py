from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from ..accounts.labels import DEGREE_LABELS
from ..accounts.models import CEFR, DegreeLevel
from ..catalogue.reference import country_choices, language_choices


class ProfileForm(FlaskForm):
    student_number = StringField(_l("Student number"), validators=[Length(max=32)])
    unit_id = SelectField(_l("Unit"), choices=[], validate_choice=False)
    degree_level = SelectField(_l("Degree level"), choices=[], validate_choice=False)
    programme = StringField(_l("Programme"), validators=[Length(max=200)])
    year_of_study = StringField(_l("Year of study"))
    gpa = StringField(_l("GPA"))
    gpa_scale = StringField(_l("GPA scale"))
    nationality = SelectField(_l("Nationality"), choices=[], validate_choice=False)
    date_of_birth = StringField(_l("Date of birth"), render_kw={"type": "date"})
    phone = StringField(_l("Telephone"), validators=[Length(max=40)])
    emergency_contact = StringField(_l("Emergency contact (name)"), validators=[Length(max=200)])
    emergency_phone = StringField(_l("Emergency contact (telephone)"), validators=[Length(max=40)])

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.degree_level.choices = [("", "—")] + [
            (lvl.value, DEGREE_LABELS[lvl]) for lvl in DegreeLevel
        ]
        self.nationality.choices = [("", "—")] + list(country_choices())
        self.unit_id.choices = [("", "—")] + [(str(u.id), f"{u.code} — {u.name}") for u in units]


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[], validate_choice=False)
    level = SelectField(
        _l("CEFR level"),
        choices=[("", "—")] + [(c.name, c.value) for c in CEFR],
        validate_choice=False,
    )
    test_name = StringField(_l("Test"), validators=[Length(max=64)])
    score = StringField(_l("Score"), validators=[Length(max=32)])
    taken_on = StringField(_l("Date taken"), render_kw={"type": "date"})
    certificate = FileField(_l("Certificate (PDF, PNG or JPEG)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [("", "—")] + list(language_choices())


class ImportForm(FlaskForm):
    file = FileField(_l("File (CSV or XLSX)"), validators=[FileRequired()])


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])
    kind = HiddenField(validators=[DataRequired()])
    deactivate_missing = BooleanField(_l("Deactivate the students missing from this roster"))


class PlainForm(FlaskForm):
    """A form with its CSRF token only (buttons that post)."""
