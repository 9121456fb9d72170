"""The chain template form, and the plain-language labels of a chain's steps."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from ..accounts.models import UnitFunction
from .models import ApproverRule, RestartFrom

FORM_ROWS = 6  # step rows on a new chain's form; an edit shows two blank rows more than it has

RULE_LABELS = {
    ApproverRule.UNIT_ADVISOR: _l("An advisor of the student's unit"),
    ApproverRule.UNIT_ROLE: _l("Someone with a function in the student's unit"),
    ApproverRule.INTERNATIONAL_OFFICE: _l("The international office"),
    ApproverRule.NAMED_USER: _l("A named person"),
}
UNIT_ROLE_LABELS = {
    UnitFunction.DEAN: _l("The dean of the student's unit"),
    UnitFunction.ADVISOR: _l("Anyone with the advisor function in the student's unit"),
}
FUNCTION_CHOICES = [
    (UnitFunction.DEAN.value, _l("Dean")),
    (UnitFunction.ADVISOR.value, _l("Advisor")),
]
RESTART_LABELS = {
    RestartFrom.FIRST_STEP: _l("From the first step"),
    RestartFrom.RETURNING_STEP: _l("From the step that returned it (earlier approvals stand)"),
}


def approver_phrase(step):
    """Who approves `step`, as a sentence subject."""
    if step.rule is ApproverRule.UNIT_ROLE:
        return UNIT_ROLE_LABELS.get(step.unit_function, RULE_LABELS[step.rule])
    if step.rule is ApproverRule.NAMED_USER:
        name = step.approver.name if step.approver is not None else "?"
        return _l("%(name)s, by name", name=name)
    return RULE_LABELS[step.rule]


def describe_step(step):
    """ "An advisor of the student's unit — 5 days — a rejection ends the chain — may return
    for changes" (without the number)."""
    parts = [
        approver_phrase(step),
        lazy_ngettext("%(num)d day", "%(num)d days", step.time_limit_days),
        _l("a rejection ends the chain")
        if step.rejection_ends
        else _l("a rejection is recorded and the chain goes on"),
        _l("may return for changes") if step.may_return else _l("cannot return for changes"),
    ]
    return " — ".join(str(p) for p in parts)


class StepForm(Form):
    """One row of the chain form (a sub-form: the chain form carries the CSRF token)."""

    position = IntegerField(_l("Order"), validators=[Optional()])
    name = StringField(_l("Step name"), validators=[Length(max=120)])
    rule = SelectField(
        _l("Who approves"),
        choices=[("", "—")] + [(r.value, label) for r, label in RULE_LABELS.items()],
        default="",
    )
    unit_function = SelectField(
        _l("Function in the unit"), choices=[("", "—")] + FUNCTION_CHOICES, default=""
    )
    # Choices come from the database; the operation checks the person (validate_choice off).
    approver = SelectField(_l("Named person"), validate_choice=False, default="")
    time_limit_days = IntegerField(_l("Days to decide"), validators=[Optional()], default=7)
    rejection_ends = BooleanField(_l("A rejection ends the chain"), default=True)
    may_return = BooleanField(_l("May return for changes"), default=True)


class ChainForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    restart_from = SelectField(
        _l("After the student resubmits a returned application, the chain starts again"),
        choices=[(r.value, label) for r, label in RESTART_LABELS.items()],
        default=RestartFrom.FIRST_STEP.value,
    )
    steps = FieldList(FormField(StepForm), min_entries=FORM_ROWS, max_entries=10)

    def __init__(self, *args, approvers=(), **kwargs):
        self._approvers = [("", "—")] + [(str(u.id), f"{u.name} <{u.email}>") for u in approvers]
        super().__init__(*args, **kwargs)

    def process(self, *args, **kwargs):
        # Processing makes new rows (the GET form is processed again with the chain's data).
        super().process(*args, **kwargs)
        for row in self.steps:
            row.approver.choices = self._approvers
