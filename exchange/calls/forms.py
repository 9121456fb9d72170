from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..core.forms import CheckboxesField
from ..core.i18n import timezone_choices
from ..core.params import whole
from .labels import DOCUMENT_LABELS, TERM_LABELS

# "T" first: it is what a datetime-local input expects back.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _when(label, required=True):
    return DateTimeLocalField(
        label,
        format=LOCAL_FORMATS,
        validators=[DataRequired() if required else Optional()],
    )


class CallForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    academic_year = IntegerField(
        _l("Academic year"), validators=[DataRequired(), NumberRange(2000, 2200)]
    )
    term = SelectField(_l("Term"), choices=[(t.value, label) for t, label in TERM_LABELS.items()])
    description = TextAreaField(_l("Description for students"), validators=[Length(max=20000)])
    timezone = SelectField(_l("Time zone of the dates"), validators=[DataRequired()])
    opens_at = _when(_l("Opens"))
    closes_at = _when(_l("Application deadline"))
    decision_at = _when(_l("Decision date"), required=False)
    nomination_deadline = _when(_l("Nomination deadline"), required=False)
    max_choices = IntegerField(
        _l("Choices a student may rank"), validators=[Optional(), NumberRange(1, 10)], default=3
    )
    required_documents = CheckboxesField(
        _l("Required documents"),
        choices=[(kind.value, label) for kind, label in DOCUMENT_LABELS.items()],
    )
    # Choices from the database; save_call checks the chain (validate_choice off).
    approval_chain_id = SelectField(_l("Approval chain"), validate_choice=False, default="")

    def __init__(self, *args, chains=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z) for z in timezone_choices()]
        self.approval_chain_id.choices = [("", _l("International office only"))] + [
            (str(c.id), c.name if c.active else _l("%(name)s (inactive)", name=c.name))
            for c in chains
        ]


class OfferingsForm(FlaskForm):
    """Only the CSRF token: the rows (one per agreement, 200 and more) are read by
    `offering_rows` from fields named offer / places-<id> / shown."""


def offering_rows(formdata):
    """([(agreement_id, places as typed)] ticked, [agreement ids the form showed])."""
    shown = [i for i in (whole(raw) for raw in formdata.getlist("shown")) if i is not None]
    ticked = {whole(raw) for raw in formdata.getlist("offer")} - {None}
    rows = [
        (agreement_id, formdata.get(f"places-{agreement_id}", ""))
        for agreement_id in shown
        if agreement_id in ticked
    ]
    return rows, shown
