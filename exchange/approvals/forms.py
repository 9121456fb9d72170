"""The substitutes page's form (the chain form is chains')."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired


class SubstituteForm(FlaskForm):
    # The operation checks the person, with a clearer message than "Not a valid choice".
    substitute = SelectField(
        _l("Substitute"),
        validators=[DataRequired(message=_l("Choose your substitute."))],
        validate_choice=False,
    )
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[DataRequired()])

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.substitute.choices = [("", _l("Choose a person"))] + [
            (str(u.id), f"{u.name} <{u.email}>") for u in candidates
        ]
