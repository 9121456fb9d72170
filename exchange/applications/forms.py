from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..accounts.models import CEFR
from ..calls.models import DocumentKind
from ..catalogue.reference import language_choices
from .labels import DOCUMENT_LABELS
from .operations import STATEMENT_LIMIT

LANGUAGE_ROWS = 3


class LanguageRow(Form):
    language = SelectField(_l("Language"), choices=[], validate_choice=False)
    level = SelectField(
        _l("Level"),
        choices=[("", "—")] + [(c.name, c.value) for c in CEFR],
        validate_choice=False,
    )
    test_name = StringField(_l("Test"), validators=[Length(max=64)])


class DetailsForm(FlaskForm):
    statement = TextAreaField(
        _l("Statement of motivation"), validators=[Length(max=STATEMENT_LIMIT)]
    )
    gpa = StringField(_l("GPA"))
    gpa_scale = StringField(_l("GPA scale"))
    languages = FieldList(FormField(LanguageRow), min_entries=LANGUAGE_ROWS, max_entries=6)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        options = [("", "—")] + list(language_choices())
        for row in self.languages:
            row.language.choices = options


class DocumentForm(FlaskForm):
    kind = SelectField(
        _l("Kind of document"), choices=[(k.value, DOCUMENT_LABELS[k]) for k in DocumentKind]
    )
    file = FileField(_l("File (PDF, PNG or JPEG)"), validators=[FileRequired()])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


class CommentForm(FlaskForm):
    comment = TextAreaField(
        _l("Comment to the student"), validators=[DataRequired(), Length(max=2000)]
    )
