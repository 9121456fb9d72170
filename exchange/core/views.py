"""Small helpers shared by the HTML views."""

from flask import flash
from markupsafe import Markup, escape

from ..extensions import db
from .errors import DomainError


def run_and_flash(operation, success):
    """Run `operation`; commit and flash `success`, or roll back and flash the domain error.
    Returns whether it worked."""
    try:
        operation()
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return False
    db.session.commit()
    flash(success, "success")
    return True


def options_html(items):
    """The <option>s of (value, label) pairs, joined in Python: a select of hundreds costs
    well under a millisecond (a template loop, or Markup.format, costs ~0.1 ms an option)."""
    return Markup(
        "".join(
            f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in items
        )
    )


def chooser(html):
    """A function of the chosen value: the <option>s of `html` with that one selected."""

    def chosen(value):
        if value is None or value == "":
            return html
        mark = f'<option value="{escape(value)}">'
        return Markup(str(html).replace(mark, mark[:-1] + " selected>", 1))

    return chosen
