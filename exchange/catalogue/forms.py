from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..accounts.labels import DEGREE_LABELS
from ..accounts.models import CEFR
from ..core.forms import CheckboxesField
from . import reference
from .labels import AGREEMENT_STATUS_LABELS, AGREEMENT_TYPE_LABELS, PARTNER_STATUS_LABELS


class PartnerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=255)])
    name_native = StringField(_l("Name in its own script"), validators=[Length(max=255)])
    country = SelectField(_l("Country"), validators=[DataRequired()])
    region = StringField(_l("State or province"), validators=[Length(max=120)])
    city = StringField(_l("City"), validators=[Length(max=120)])
    website = URLField(_l("Website"), validators=[Optional(), Length(max=255)])
    hei_id = StringField(_l("EWP hei-id (main internet domain)"), validators=[Length(max=255)])
    domains = StringField(_l("Other internet domains"), validators=[Length(max=900)])
    languages = SelectMultipleField(_l("Languages of instruction"))
    description = TextAreaField(_l("Description"), validators=[Length(max=20000)])
    status = SelectField(
        _l("Status"), choices=[(s.value, label) for s, label in PARTNER_STATUS_LABELS.items()]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Choose a country"))] + reference.country_choices()
        self.languages.choices = reference.language_choices()


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = StringField(_l("Role"), validators=[Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=64)])


class AgreementForm(FlaskForm):
    code = StringField(_l("Reference"), validators=[Length(max=64)])
    type = SelectField(
        _l("Type"), choices=[(t.value, label) for t, label in AGREEMENT_TYPE_LABELS.items()]
    )
    status = SelectField(
        _l("Status"),
        choices=[
            (s.value, label) for s, label in AGREEMENT_STATUS_LABELS.items() if s.value != "expired"
        ],
    )
    first_academic_year = IntegerField(
        _l("First academic year"), validators=[DataRequired(), NumberRange(1950, 2200)]
    )
    last_academic_year = IntegerField(
        _l("Last academic year"), validators=[DataRequired(), NumberRange(1950, 2200)]
    )
    places_per_year = IntegerField(
        _l("Places per year"), validators=[Optional(), NumberRange(0, 10000)], default=1
    )
    months_per_mobility = IntegerField(
        _l("Months per mobility"), validators=[Optional(), NumberRange(1, 60)], default=5
    )
    degree_levels = CheckboxesField(
        _l("Degree levels"),
        choices=[(level.value, label) for level, label in DEGREE_LABELS.items()],
    )
    all_units = BooleanField(_l("Open to students of all units"), default=True)
    unit_ids = SelectMultipleField(_l("Eligible units"), coerce=int, validators=[Optional()])
    subject_areas = SelectMultipleField(_l("Subject areas (ISCED-F 2013)"))
    language = SelectField(_l("Language requirement"))
    language_level = SelectField(
        _l("Minimum level (CEFR)"), choices=[("", "—")] + [(c.value, c.value) for c in CEFR]
    )
    min_gpa = DecimalField(_l("Minimum GPA"), validators=[Optional()], places=2)
    min_gpa_scale = DecimalField(_l("GPA scale"), validators=[Optional()], places=2, default=4)
    notes = TextAreaField(_l("Notes"), validators=[Length(max=20000)])

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_ids.choices = [(u.id, f"{u.code} · {u.name}") for u in units]
        self.subject_areas.choices = reference.isced_choices()
        self.language.choices = [("", _l("None"))] + reference.language_choices()


class TerminateForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class DocumentForm(FlaskForm):
    document = FileField(_l("Signed agreement (PDF)"), validators=[FileRequired()])
