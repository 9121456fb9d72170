"""Form pieces every feature's forms and views use."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state."""


def add_error(field, message):
    """Show `message` under `field` (whose errors may still be the initial tuple)."""
    field.errors = [*(field.errors or ()), str(message)]


def show_problems(form, exc, *, fallback=None, find=None):
    """Put each problem of a DomainError (or ValidationFailed's list) under the field it
    names, else under `fallback`; returns the messages that found no field."""
    find = find or (lambda form, name: getattr(form, name or "", None))
    general = []
    for name, message in getattr(exc, "problems", [(exc.field, exc.message)]):
        field = find(form, name) or fallback
        if field is None:
            general.append(str(message))
        else:
            add_error(field, message)
    return general
