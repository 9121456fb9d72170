"""Form pieces every feature's forms and views use."""

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import SelectMultipleField, widgets
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.widgets.core import clean_key


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def html_params(**kwargs):
    """The same attributes as `wtforms.widgets.html_params`, joined as plain text: it formats
    a Markup per attribute (~20 µs each), and a page of a few forms renders a hundred."""
    params = []
    for key, value in sorted(kwargs.items()):
        if value is True:
            params.append(escape(clean_key(key)))
        elif value is not False:
            text = str(escape(value)).replace('"', "&quot;")
            params.append(f'{escape(clean_key(key))}="{text}"')
    return Markup(" ".join(params))


class TextInput(widgets.TextInput):
    """wtforms' text input, its attributes joined by `html_params`."""

    html_params = staticmethod(html_params)


class TextArea(widgets.TextArea):
    """wtforms' text area, its attributes joined by `html_params`."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in dir(flags):
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        params = html_params(name=field.name, **kwargs)
        return Markup(f"<textarea {params}>\r\n{escape(field._value())}</textarea>")


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
