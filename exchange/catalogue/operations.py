"""State changes on partners and agreements. Every change is validated here (forms, the
importer and the API all come through), audited with a before/after diff, and the caller
commits."""

from decimal import Decimal

from flask_babel import lazy_gettext as _l

from ..core import audit, uploads
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.validation import ValidationFailed, clean_text
from ..extensions import db
from .models import (
    Agreement,
    AgreementStatus,
    Partner,
    PartnerContact,
    PartnerStatus,
)
from .rules import AgreementData, PartnerData, normalise_agreement


def partner_state(partner):
    return {
        "name": partner.name,
        "name_native": partner.name_native,
        "country": partner.country,
        "city": partner.city,
        "region": partner.region,
        "website": partner.website,
        "hei_id": partner.hei_id,
        "domains": partner.domains,
        "languages": partner.languages,
        "description": partner.description,
        "status": partner.status.value if partner.status else None,
    }


def _diff(before, after):
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def find_partner_by_hei_id(hei_id):
    return db.session.scalar(db.select(Partner).where(Partner.hei_id == hei_id))


def save_partner(partner, data: PartnerData, *, actor, audit_action=None):
    """Create (partner=None) or update a partner. Returns (partner, changed fields)."""
    values, problems = data.normalised()
    if values["hei_id"]:
        other = find_partner_by_hei_id(values["hei_id"])
        if other is not None and other is not partner:
            problems.append(
                (
                    "hei_id",
                    _l(
                        "Another partner (%(name)s) already has the hei-id %(hei)s.",
                        name=other.name,
                        hei=values["hei_id"],
                    ),
                )
            )
    if problems:
        raise ValidationFailed(problems)
    creating = partner is None
    before = {} if creating else partner_state(partner)
    if not creating and set(values["languages"].split()) == set(partner.languages.split()):
        values["languages"] = partner.languages  # the same ones, as a form lists them
    if creating:
        partner = Partner()
        db.session.add(partner)
    for key, value in values.items():
        setattr(partner, key, value)
    partner.refresh_search_text()
    changed = _diff(before, partner_state(partner))
    if changed:
        db.session.flush()
        audit.record(
            audit_action or ("partner.created" if creating else "partner.updated"),
            partner,
            actor=actor,
            details=changed,
        )
    return partner, changed


def set_partner_status(partner, status: PartnerStatus, *, actor):
    if partner.status is status:
        return False
    before = partner.status.value
    partner.status = status
    audit.record(
        "partner.status_changed", partner, actor=actor, details={"status": [before, status.value]}
    )
    return True


def add_contact(partner, *, name, role, email, phone, actor):
    name = clean_text(name, 200)
    if not name:
        raise DomainError(_l("Enter the contact's name."), "name")
    email = clean_text(email, 254) or None
    if email and ("@" not in email or " " in email):
        raise DomainError(_l("Enter a valid e-mail address."), "email")
    contact = PartnerContact(
        partner=partner,
        name=name,
        role=clean_text(role, 200) or None,
        email=email,
        phone=clean_text(phone, 64) or None,
    )
    db.session.add(contact)
    db.session.flush()
    audit.record(
        "partner.contact_added", partner, actor=actor, details={"contact": name, "email": email}
    )
    return contact


def remove_contact(contact, *, actor):
    audit.record(
        "partner.contact_removed", contact.partner, actor=actor, details={"contact": contact.name}
    )
    db.session.delete(contact)


# --- agreements ------------------------------------------------------------------------------


def agreement_state(agreement):
    state = {}
    for key in (
        "code",
        "first_academic_year",
        "last_academic_year",
        "places_per_year",
        "months_per_mobility",
        "all_units",
        "bachelor",
        "master",
        "doctoral",
        "subject_areas",
        "language",
        "notes",
    ):
        state[key] = getattr(agreement, key)
    for key in ("type", "status", "language_level"):
        value = getattr(agreement, key)
        state[key] = value.value if value is not None else None
    for key in ("min_gpa", "min_gpa_scale"):
        value = getattr(agreement, key)
        state[key] = None if value is None else str(Decimal(value).quantize(Decimal("0.01")))
    state["units"] = sorted(u.code for u in agreement.units)
    return state


def save_agreement(agreement, partner, data: AgreementData, *, units, actor):
    """Create (agreement=None) or update an agreement of `partner`."""
    values, problems = normalise_agreement(data)
    if not values["all_units"] and not units:
        problems.append(("unit_ids", _l("Choose the eligible units, or open it to all units.")))
    if (
        agreement is not None
        and agreement.status is AgreementStatus.TERMINATED
        and values["status"] is not AgreementStatus.TERMINATED
    ):
        problems.append(
            ("status", _l("A terminated agreement cannot be reopened; create a new one."))
        )
    if problems:
        raise ValidationFailed(problems)
    creating = agreement is None
    before = {} if creating else agreement_state(agreement)
    if creating:
        agreement = Agreement(partner=partner)
        db.session.add(agreement)
    if values["status"] is AgreementStatus.TERMINATED and agreement.terminated_at is None:
        agreement.terminated_at = utcnow()
    for key, value in values.items():
        setattr(agreement, key, value)
    agreement.units = [] if values["all_units"] else list(units)
    db.session.flush()
    changed = _diff(before, agreement_state(agreement))
    if changed:
        audit.record(
            "agreement.created" if creating else "agreement.updated",
            agreement,
            actor=actor,
            details={"partner_id": partner.id, **changed},
        )
    return agreement, changed


def terminate_agreement(agreement, *, reason, actor):
    if agreement.status is AgreementStatus.TERMINATED:
        return False
    reason = clean_text(reason, 500)
    if not reason:
        raise DomainError(_l("Give the reason for terminating the agreement."), "reason")
    before = agreement.status.value
    agreement.status = AgreementStatus.TERMINATED
    agreement.terminated_at = utcnow()
    audit.record(
        "agreement.terminated",
        agreement,
        actor=actor,
        details={
            "partner_id": agreement.partner_id,
            "status": [before, "terminated"],
            "reason": reason,
        },
    )
    return True


def attach_document(agreement, stream, filename, *, actor):
    """Store the signed agreement (PDF only, judged by content) outside static/."""
    try:
        stored = uploads.store(stream, "agreements", ("application/pdf",))
    except DomainError as exc:
        raise DomainError(_l("The signed agreement must be a PDF file."), "document") from exc
    old = agreement.document_path
    agreement.document_name = uploads.safe_filename(filename, "agreement.pdf")
    agreement.document_path = stored.stored_name
    agreement.document_sha256 = stored.sha256
    agreement.document_size = stored.size
    audit.record(
        "agreement.document_attached",
        agreement,
        actor=actor,
        details={
            "partner_id": agreement.partner_id,
            "name": agreement.document_name,
            "sha256": agreement.document_sha256,
            "size": stored.size,
            "replaced": old is not None,
        },
    )
    return stored.stored_name


def document_path(agreement):
    return uploads.path_of("agreements", agreement.document_path)
