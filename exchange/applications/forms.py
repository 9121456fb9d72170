from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from wtforms import FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..accounts.models import CEFR
from ..calls.models import DocumentKind
from ..catalogue.reference import language_choices
from ..core.cache import LRUCache
from ..core.forms import TextArea, TextInput, html_params
from ..core.views import chooser, options_html
from .labels import DOCUMENT_LABELS
from .operations import STATEMENT_LIMIT

LANGUAGE_ROWS = 3
LEVELS = [("", "—")] + [(c.name, c.value) for c in CEFR]


# The language rows' options per language of the page: computed from that key alone.
_language_options = LRUCache("language_options", maxsize=16)


def _languages_html():
    return _language_options.get_or_set(
        str(get_locale()), lambda: options_html([("", "—"), *language_choices()])
    )


class SharedOptions:
    """A <select> widget for the fields of a form that offer one long list of choices (each
    language row offers every language): the options are joined once, and each select only
    marks its own value as selected."""

    def __init__(self, html):
        self.options = chooser(html)

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        options = self.options(field.data)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class LanguageRow(Form):
    language = SelectField(_l("Language"), choices=[], validate_choice=False)
    level = SelectField(_l("Level"), choices=LEVELS, validate_choice=False)
    test_name = StringField(_l("Test"), validators=[Length(max=64)], widget=TextInput())


class DetailsForm(FlaskForm):
    # Widgets that join their attributes as plain text (`core.forms.html_params`).
    statement = TextAreaField(
        _l("Statement of motivation"), validators=[Length(max=STATEMENT_LIMIT)], widget=TextArea()
    )
    gpa = StringField(_l("GPA"), widget=TextInput())
    gpa_scale = StringField(_l("GPA scale"), widget=TextInput())
    languages = FieldList(FormField(LanguageRow), min_entries=LANGUAGE_ROWS, max_entries=6)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The choices are not validated (validate_choice=False): save_details checks the codes.
        languages = SharedOptions(_languages_html())
        levels = SharedOptions(options_html(LEVELS))
        for row in self.languages:
            row.language.widget = languages
            row.level.widget = levels


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
