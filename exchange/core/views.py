"""Small helpers shared by the HTML views."""

from flask import flash

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
