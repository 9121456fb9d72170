"""What every feature's operations use to check input: one error carrying all the problems
of a form at once, and the cleaning every free-text field gets."""

import re
from decimal import Decimal, InvalidOperation

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
