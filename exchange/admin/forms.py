from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp

from ..accounts.labels import FUNCTION_LABELS, ROLE_LABELS, UNIT_KIND_LABELS
from ..core.forms import CheckboxesField


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    roles = CheckboxesField(
        _l("Roles"),
        choices=[(r.value, label) for r, label in ROLE_LABELS.items()],
        validators=[DataRequired(message=_l("Choose at least one role."))],
    )
    units = SelectMultipleField(_l("Units"), coerce=int, validators=[Optional()])
    function = SelectField(
        _l("Function in these units"),
        choices=[(f.value, label) for f, label in FUNCTION_LABELS.items()],
    )

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.units.choices = [(u.id, f"{u.code} · {u.name}") for u in units]


class UnitForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=32),
            Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Letters, digits, - and _ only.")),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    name_native = StringField(_l("Name in Chinese (optional)"), validators=[Length(max=200)])
    kind = SelectField(
        _l("Kind"), choices=[(k.value, label) for k, label in UNIT_KIND_LABELS.items()]
    )
    student_count = IntegerField(
        _l("Enrolled students"), validators=[Optional(), NumberRange(min=0, max=1_000_000)]
    )
    active = BooleanField(_l("Active"), default=True)
