"""Human labels of account enumerations, translatable."""

from flask_babel import lazy_gettext as _l

from ..mail.models import MailStatus
from .models import DegreeLevel, Role, UnitFunction, UnitKind

ROLE_LABELS = {
    Role.STUDENT: _l("Student"),
    Role.ADVISOR: _l("Advisor"),
    Role.COORDINATOR: _l("Coordinator"),
    Role.ADMIN: _l("Admin"),
}
UNIT_KIND_LABELS = {
    UnitKind.SCHOOL: _l("School"),
    UnitKind.COLLEGE: _l("College"),
    UnitKind.KEY_LABORATORY: _l("Key laboratory"),
    UnitKind.DEPARTMENT: _l("Department"),
}
FUNCTION_LABELS = {
    UnitFunction.MEMBER: _l("Member"),
    UnitFunction.ADVISOR: _l("Advisor"),
    UnitFunction.DEAN: _l("Dean"),
}
DEGREE_LABELS = {
    DegreeLevel.BACHELOR: _l("Bachelor"),
    DegreeLevel.MASTER: _l("Master"),
    DegreeLevel.DOCTORAL: _l("Doctoral"),
}


def template_globals():
    return {
        "Role": Role,
        "MailStatus": MailStatus,
        "role_label": ROLE_LABELS.get,
        "unit_kind_label": UNIT_KIND_LABELS.get,
        "function_label": FUNCTION_LABELS.get,
        "degree_label": DEGREE_LABELS.get,
    }


def init_app(app):
    app.jinja_env.globals.update(template_globals())
