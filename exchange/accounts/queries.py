"""Read-side pieces about people that other features' lists reuse."""

import sqlalchemy as sa

from ..core.search import contains
from .models import StudentProfile, User


def person_matches(text):
    """A person whose name, e-mail or student number contains `text`. The statement must
    outer-join StudentProfile (staff have none)."""
    return sa.or_(
        contains(sa.func.lower(User.name), text),
        contains(User.email_key, text),
        contains(sa.func.lower(StudentProfile.student_number), text),
    )
