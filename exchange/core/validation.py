"""What every feature's operations use to check input: one error carrying all the problems
of a form at once, the cleaning every free-text field gets, and the GPA check the profile and
the application share."""

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from .errors import DomainError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ValidationFailed(DomainError):
    """Several problems at once: [(field, message)]."""

    def __init__(self, problems):
        super().__init__(problems[0][1], problems[0][0])
        self.problems = problems


def clean_text(value, limit=None):
    """`value` stripped, without control characters, cut to `limit` characters."""
    value = CONTROL_CHARACTERS.sub("", (value or "").strip())
    return value[:limit] if limit else value


def parse_decimal(value):
    """A GPA or score typed as text ("3,6" or "3.60") to two places; None when empty.
    Raises ValueError for anything that is not a finite number."""
    value = (value or "").strip().replace(",", ".")
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError from None
    if not number.is_finite():
        raise ValueError
    return number.quantize(Decimal("0.01"))


DEFAULT_GPA_SCALE = Decimal("4.00")


def _gpa_scale(text):
    """The GPA scale typed as `text` (empty: 4.00), or None when it is no possible scale."""
    try:
        scale = parse_decimal(text)
    except ValueError:
        return None
    if scale is None:
        return DEFAULT_GPA_SCALE
    return scale if Decimal("0") < scale <= Decimal("100") else None


def gpa_on_scale(gpa_text, scale_text, problems):
    """(GPA, scale) typed as text, checked against each other; an empty scale is 4.00. The
    GPA's problems come before its scale's, as in the forms. None when there is a problem."""
    found = len(problems)
    scale = _gpa_scale(scale_text)
    try:
        gpa = parse_decimal(gpa_text)
    except ValueError:
        problems.append(("gpa", _l("Enter the GPA as a number, for example 3.45.")))
        gpa = None
    if gpa is not None and scale is not None and not Decimal("0") <= gpa <= scale:
        problems.append(("gpa", _l("The GPA must be between 0 and %(scale)s.", scale=f"{scale:f}")))
    if scale is None:
        problems.append(("gpa_scale", _l("The GPA scale must be between 0 and 100.")))
    return None if len(problems) > found else (gpa, scale)
