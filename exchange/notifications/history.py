"""The words histories use (audit log, the history blocks of partners, calls and chains) for
the keys features record: actions, objects, fields and enumerated values. Registered with
`core.audit`, which knows no feature; this package reads every feature, so it names them."""

from flask_babel import LazyString, lazy_pgettext
from flask_babel import lazy_gettext as _l

from ..accounts.labels import DEGREE_LABELS, FUNCTION_LABELS, ROLE_LABELS, UNIT_KIND_LABELS
from ..applications.labels import STATUS_LABELS
from ..calls.labels import CALL_STATUS_LABELS, DOCUMENT_LABELS, TERM_LABELS
from ..catalogue import reference
from ..catalogue.labels import (
    AGREEMENT_STATUS_LABELS,
    AGREEMENT_TYPE_LABELS,
    PARTNER_STATUS_LABELS,
)
from ..core.audit import register_labels
from .labels import DECISION_LABELS, STEP_NAMES

ACTIONS = {
    "agreement.created": _l("Agreement created"),
    "agreement.updated": _l("Agreement changed"),
    "agreement.terminated": _l("Agreement terminated"),
    "agreement.document_attached": _l("Agreement document attached"),
    "partner.created": _l("Partner created"),
    "partner.updated": _l("Partner changed"),
    "partner.status_changed": _l("Partner status changed"),
    "partner.contact_added": _l("Contact added"),
    "partner.contact_removed": _l("Contact removed"),
    "call.created": _l("Call created"),
    "call.updated": _l("Call changed"),
    "call.offerings_changed": _l("Places offered changed"),
    "call.scheduled": _l("Call scheduled"),
    "call.unscheduled": _l("Call back to draft"),
    "call.opened": _l("Call opened"),
    "call.closed": _l("Call closed"),
    "call.cloned": _l("Call copied"),
    "chain.created": _l("Approval chain created"),
    "chain.updated": _l("Approval chain changed"),
    "application.created": _l("Draft started"),
    "application.details_saved": _l("Application details saved"),
    "application.choices_saved": _l("Choices saved"),
    "application.document_uploaded": _l("Document uploaded"),
    "application.document_deleted": _l("Document deleted"),
    "application.submitted": _l("Submitted"),
    "application.resubmitted": _l("Submitted again"),
    "application.withdrawn": _l("Withdrawn"),
    "application.in_review": _l("In review"),
    "application.returned": _l("Returned for changes"),
    "application.approved": _l("Approved"),
    "application.rejected": _l("Rejected"),
    "application.step_approved": _l("Step approved"),
    "application.step_rejected": _l("Step rejected"),
    "application.step_returned": _l("Step returned for changes"),
    "application.note_added": _l("Internal note"),
    "approval.substitute_named": _l("Substitute named"),
    "approval.substitute_ended": _l("Substitute ended"),
    "approval.substitute_removed": _l("Substitute removed"),
    "user.created": _l("User created"),
    "user.updated": _l("User changed"),
    "user.invited": _l("User invited"),
    "user.activated": _l("User activated"),
    "user.deactivated": _l("User deactivated"),
    "user.roles_changed": _l("Roles changed"),
    "user.units_changed": _l("Units changed"),
    "unit.created": _l("Unit created"),
    "unit.updated": _l("Unit changed"),
    "auth.login": _l("Signed in"),
    "auth.logout": _l("Signed out"),
    "auth.login_failed": _l("Failed sign-in"),
    "auth.password_changed": _l("Password changed"),
    "auth.password_reset": _l("Password reset"),
    "auth.reset_requested": _l("Password reset requested"),
    "auth.reset_requested_unknown": _l("Password reset requested for an unknown address"),
}
OBJECTS = {
    "Partner": _l("Partner"),
    "Agreement": _l("Agreement"),
    "Call": _l("Call"),
    "Application": _l("Application"),
    "ApprovalChain": _l("Approval chain"),
    "User": _l("User"),
    "Unit": _l("Unit"),
}
FIELDS = {
    # calls
    "title": _l("Title"),
    "academic_year": _l("Academic year"),
    "term": _l("Term"),
    "description": _l("Description"),
    "timezone": _l("Time zone"),
    "max_choices": _l("Maximum choices"),
    "required_documents": _l("Required documents"),
    "approval_chain": _l("Approval chain"),
    "opens_at": _l("Opens"),
    "closes_at": _l("Application deadline"),
    "decision_at": _l("Decision"),
    "nomination_deadline": _l("Nomination deadline"),
    "added": _l("Added"),
    "removed": _l("Removed"),
    "places": _l("Places"),
    "by": _l("By"),
    # partners and agreements
    "name": _l("Name"),
    "name_native": _l("Native name"),
    "country": _l("Country"),
    "city": _l("City"),
    "region": _l("Region"),
    "website": _l("Website"),
    "hei_id": _l("EWP hei-id"),
    "domains": _l("Domains"),
    "languages": _l("Languages of instruction"),
    "status": _l("Status"),
    "type": _l("Type"),
    "code": _l("Code"),
    "first_academic_year": _l("First academic year"),
    "last_academic_year": _l("Last academic year"),
    "places_per_year": _l("Places per year"),
    "months_per_mobility": _l("Months per mobility"),
    "all_units": _l("All units"),
    "units": _l("Units"),
    "bachelor": _l("Bachelor"),
    "master": _l("Master"),
    "doctoral": _l("Doctoral"),
    "subject_areas": _l("Subject areas"),
    "language": _l("Language"),
    "language_level": _l("Language level"),
    "min_gpa": _l("Minimum GPA"),
    "min_gpa_scale": _l("GPA scale"),
    "notes": _l("Notes"),
    "contact": _l("Contact"),
    "email": _l("E-mail"),
    # approvals and accounts
    "step": _l("Step"),
    "round": _l("Round"),
    "position": _l("Position"),
    "decision": _l("Decision"),
    "comment": _l("Comment"),
    "on_behalf_of": _l("On behalf of"),
    "rule": _l("Approver"),
    "time_limit_days": _l("Time limit (days)"),
    "rejection_ends": _l("A rejection ends the chain"),
    "may_return": _l("May return for changes"),
    "roles": _l("Roles"),
    "active": _l("Active"),
    # "From" and "To" of a change, not of a mail (发件人/收件人).
    "from": lazy_pgettext("change", "From"),
    "to": lazy_pgettext("change", "To"),
    "remember": _l("Remember me"),
    "length": _l("Length"),
}


def _by_value(labels):
    return {getattr(k, "value", k): v for k, v in labels.items()}


def _named(codes, name):
    """Codes shown by their names in the reader's language ("fi en" -> "Finnish, English")."""
    return {code: LazyString(name, code) for code in codes}


_LANGUAGES = _named(reference.language_codes(), reference.language_name)


VALUES = {
    "term": _by_value(TERM_LABELS),
    "type": _by_value(AGREEMENT_TYPE_LABELS),
    "decision": DECISION_LABELS,
    "step": STEP_NAMES,
    "roles": _by_value(ROLE_LABELS),
    "required_documents": _by_value(DOCUMENT_LABELS),
    "by": {"schedule": _l("the schedule")},
    "subject_areas": _named(reference.isced_fields(), reference.isced_label),
    "languages": _LANGUAGES,
    "language": _LANGUAGES,
    "country": _named(reference.country_codes(), reference.country_name),
    # A status may be a call's, an application's, a partner's or an agreement's: the words are
    # the same where their values meet ("draft", "active").
    "status": {
        **_by_value(PARTNER_STATUS_LABELS),
        **_by_value(AGREEMENT_STATUS_LABELS),
        **_by_value(STATUS_LABELS),
        **_by_value(CALL_STATUS_LABELS),
    },
    "*": {
        **_by_value(UNIT_KIND_LABELS),
        **_by_value(FUNCTION_LABELS),
        **_by_value(DEGREE_LABELS),
    },
}


def register():
    register_labels(actions=ACTIONS, objects=OBJECTS, fields=FIELDS, values=VALUES)
