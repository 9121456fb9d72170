"""State changes on partners and agreements. Every change is validated here (forms, the
importer and the API all come through), audited with a before/after diff, and the caller
commits."""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from ..accounts.models import CEFR
from ..core import audit, uploads
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.validation import ValidationFailed, clean_text
from ..extensions import db
from . import reference
from .models import (
    CEFR_RANK,
    Agreement,
    AgreementStatus,
    AgreementType,
    Partner,
    PartnerContact,
    PartnerStatus,
)

DOMAIN_RE = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
URL_RE = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


@dataclass
class PartnerData:
    name: str
    country: str
    name_native: str = ""
    city: str = ""
    region: str = ""
    website: str = ""
    hei_id: str = ""
    domains: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    description: str = ""
    status: str = "active"

    def normalised(self):
        """(cleaned values, problems). Values are what would be stored; the problems come
        field by field in the order of the form."""
        problems = []
        name = _partner_name(self, problems)
        country = _country(self, problems)
        website = _website(self, problems)
        hei_id, domains = _domains(self, problems)
        languages = _partner_languages(self, problems)
        status = _partner_status(self, problems)
        values = {
            "name": name[:255],
            "name_key": name.lower()[:255],
            "name_native": clean_text(self.name_native, 255) or None,
            "country": country,
            "city": clean_text(self.city, 120) or None,
            "region": clean_text(self.region, 120) or None,
            "website": website[:255] or None,
            "hei_id": hei_id or None,
            "domains": domains,
            "languages": " ".join(languages),
            "description": clean_text(self.description) or None,
            "status": status,
        }
        return values, problems


# --- a partner's fields, checked one by one in the order of the form --------------------------


def _partner_name(data, problems):
    name = clean_text(data.name)
    if not name:
        problems.append(("name", _l("Enter the partner's name.")))
    elif len(name) > 255:
        problems.append(("name", _l("The name is longer than 255 characters.")))
    return name


def _country(data, problems):
    country = reference.normalise_country(data.country)
    if country is None:
        problems.append(
            (
                "country",
                _l(
                    "“%(value)s” is not an ISO 3166 country code.",
                    value=clean_text(data.country, 40),
                ),
            )
        )
    return country


def _website(data, problems):
    website = clean_text(data.website)
    if website and not URL_RE.match(website):
        problems.append(("website", _l("The website must start with http:// or https://.")))
    return website


def _domain(raw, field_name, problems):
    """`raw` as an internet domain (lower case, without www.), or "" when blank or not one."""
    domain = clean_text(raw).lower().removeprefix("www.") if raw else ""
    if domain and not DOMAIN_RE.match(domain):
        problems.append(
            (field_name, _l("“%(value)s” is not an internet domain.", value=domain[:60]))
        )
        return ""
    return domain


def _domains(data, problems):
    """(hei-id, the domains as stored): the hei-id first, then the others, each once. Without
    a hei-id, the first other domain stands for it."""
    hei_id = _domain(data.hei_id, "hei_id", problems)
    domains = []
    for domain in [hei_id, *(_domain(raw, "domains", problems) for raw in data.domains)]:
        if domain and domain not in domains:
            domains.append(domain)
    text = " ".join(domains)
    if len(text) >= 1000:
        problems.append(("domains", _l("Too many domains.")))
    return hei_id or (domains[0] if domains else ""), text[:1000]


def _language_code(raw, field_name, problems):
    """`raw` as an ISO 639-1 code, or None (and a problem) when it is not one."""
    code = reference.normalise_language(raw)
    if code is None:
        problems.append(
            (
                field_name,
                _l("“%(value)s” is not an ISO 639-1 language code.", value=clean_text(raw, 20)),
            )
        )
    return code


def _partner_languages(data, problems):
    languages = []
    for raw in data.languages:
        code = _language_code(raw, "languages", problems)
        if code is not None and code not in languages:
            languages.append(code)
    return languages


def _partner_status(data, problems):
    try:
        return PartnerStatus(clean_text(data.status).lower() or "active")
    except ValueError:
        problems.append(("status", _l("The status must be active or inactive.")))
        return PartnerStatus.ACTIVE


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


@dataclass
class AgreementData:
    type: str
    first_academic_year: int | str
    last_academic_year: int | str
    places_per_year: int | str = 1
    months_per_mobility: int | str = 5
    code: str = ""
    status: str = "draft"
    all_units: bool = True
    unit_ids: list[int] = field(default_factory=list)
    degree_levels: list[str] = field(default_factory=lambda: ["bachelor", "master"])
    subject_areas: list[str] = field(default_factory=list)
    language: str = ""
    language_level: str = ""
    min_gpa: Decimal | str | None = None
    min_gpa_scale: Decimal | str = Decimal("4.00")
    notes: str = ""


def _int(value, field_name, problems, label):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        problems.append((field_name, _l("%(label)s must be a whole number.", label=label)))
        return None


def _decimal(value, field_name, problems, label):
    if value is None or str(value).strip() == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        problems.append((field_name, _l("%(label)s must be a number.", label=label)))
        return None
    if not number.is_finite():
        problems.append((field_name, _l("%(label)s must be a number.", label=label)))
        return None
    return number


def _agreement_type(data, problems):
    try:
        return AgreementType(data.type)
    except ValueError:
        problems.append(("type", _l("Choose the type of agreement.")))
        return None


def _agreement_status(data, problems):
    try:
        status = AgreementStatus(data.status)
        if status is not AgreementStatus.EXPIRED:  # expiry is the beat's, never a choice
            return status
    except ValueError:
        pass
    problems.append(("status", _l("The status must be draft, active or terminated.")))
    return AgreementStatus.DRAFT


def _academic_years(data, problems):
    first = _int(data.first_academic_year, "first_academic_year", problems, _l("First year"))
    last = _int(data.last_academic_year, "last_academic_year", problems, _l("Last year"))
    for name, year in (("first_academic_year", first), ("last_academic_year", last)):
        if year is not None and not 1950 <= year <= 2200:
            problems.append((name, _l("The academic year must be between 1950 and 2200.")))
    if first is not None and last is not None and last < first:
        problems.append(
            ("last_academic_year", _l("The last academic year cannot come before the first."))
        )
    return first, last


def _places(data, problems):
    places = _int(data.places_per_year, "places_per_year", problems, _l("Places"))
    if places is not None and not 0 <= places <= 10_000:
        problems.append(("places_per_year", _l("Places must be between 0 and 10000.")))
    return places


def _months(data, problems):
    months = _int(data.months_per_mobility, "months_per_mobility", problems, _l("Months"))
    if months is not None and not 1 <= months <= 60:
        problems.append(("months_per_mobility", _l("Months must be between 1 and 60.")))
    return months


def _degree_levels(data, problems):
    levels = set(data.degree_levels or [])
    if not levels or not levels <= {"bachelor", "master", "doctoral"}:
        problems.append(("degree_levels", _l("Choose at least one degree level.")))
    return levels


def _subject_areas(data, problems):
    subjects = []
    for code in data.subject_areas or []:
        code = clean_text(code)
        if code not in reference.isced_fields():
            problems.append(
                ("subject_areas", _l("“%(value)s” is not an ISCED-F 2013 code.", value=code[:20]))
            )
        elif code not in subjects:
            subjects.append(code)
    return subjects


def _language(data, problems):
    return _language_code(data.language, "language", problems) if data.language else None


def _language_level(data, problems):
    if not data.language_level:
        return None
    try:
        return CEFR(str(data.language_level).upper())
    except ValueError:
        problems.append(("language_level", _l("The level must be a CEFR level A1 to C2.")))
        return None


def _gpa(data, problems):
    scale = _decimal(data.min_gpa_scale, "min_gpa_scale", problems, _l("GPA scale")) or Decimal(4)
    if scale <= 0 or scale > 100:
        problems.append(("min_gpa_scale", _l("The GPA scale must be between 0 and 100.")))
    gpa = _decimal(data.min_gpa, "min_gpa", problems, _l("Minimum GPA"))
    if gpa is not None and not 0 <= gpa <= scale:
        problems.append(
            (
                "min_gpa",
                _l("The minimum GPA must lie between 0 and the scale (%(scale)s).", scale=scale),
            )
        )
    return gpa, scale


def normalise_agreement(data: AgreementData):
    """The agreement's column values from `data`, and the problems found, field by field in
    the order of the form."""
    problems: list = []
    kind = _agreement_type(data, problems)
    status = _agreement_status(data, problems)
    first, last = _academic_years(data, problems)
    places = _places(data, problems)
    months = _months(data, problems)
    levels = _degree_levels(data, problems)
    subjects = _subject_areas(data, problems)
    language = _language(data, problems)
    level = _language_level(data, problems)
    if (language is None) != (level is None) and not problems:
        problems.append(
            ("language_level", _l("Give both the language and its CEFR level, or neither."))
        )
    gpa, scale = _gpa(data, problems)
    values = {
        "type": kind,
        "status": status,
        "code": clean_text(data.code, 64) or None,
        "first_academic_year": first,
        "last_academic_year": last,
        "places_per_year": places,
        "months_per_mobility": months,
        "all_units": bool(data.all_units),
        "bachelor": "bachelor" in levels,
        "master": "master" in levels,
        "doctoral": "doctoral" in levels,
        "subject_areas": " ".join(subjects),
        "language": language,
        "language_level": level,
        "language_rank": CEFR_RANK[level] if level else None,
        "min_gpa": gpa,
        "min_gpa_scale": scale,
        "notes": clean_text(data.notes) or None,
    }
    return values, problems


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
