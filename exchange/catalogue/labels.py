from flask_babel import lazy_gettext as _l

from . import reference
from .academic import label as year_label
from .models import AgreementStatus, AgreementType, PartnerStatus

PARTNER_STATUS_LABELS = {PartnerStatus.ACTIVE: _l("Active"), PartnerStatus.INACTIVE: _l("Inactive")}
AGREEMENT_TYPE_LABELS = {
    AgreementType.BILATERAL: _l("Bilateral student exchange"),
    AgreementType.DUAL_DEGREE: _l("Dual degree"),
    AgreementType.JOINT_TRAINING: _l("Joint training"),
    AgreementType.SUMMER_SCHOOL: _l("Summer school"),
    AgreementType.RESEARCH_VISIT: _l("Research visit"),
}
AGREEMENT_STATUS_LABELS = {
    AgreementStatus.DRAFT: _l("Draft"),
    AgreementStatus.ACTIVE: _l("Active"),
    AgreementStatus.EXPIRED: _l("Expired"),
    AgreementStatus.TERMINATED: _l("Terminated"),
}
STATUS_BADGES = {
    AgreementStatus.DRAFT: "text-bg-secondary",
    AgreementStatus.ACTIVE: "text-bg-success",
    AgreementStatus.EXPIRED: "text-bg-warning",
    AgreementStatus.TERMINATED: "text-bg-danger",
}


def template_globals():
    return {
        "AgreementType": AgreementType,
        "agreement_type_label": AGREEMENT_TYPE_LABELS.get,
        "agreement_status_label": AGREEMENT_STATUS_LABELS.get,
        "agreement_status_badge": STATUS_BADGES.get,
        "partner_status_label": PARTNER_STATUS_LABELS.get,
        "country_name": reference.country_name,
        "language_name": reference.language_name,
        "isced_name": reference.isced_name,
        "continents": reference.CONTINENTS,
        "year_label": year_label,
    }


def init_app(app):
    app.jinja_env.globals.update(template_globals())
