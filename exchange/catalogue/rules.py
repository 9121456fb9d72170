"""What a partner and an agreement must be: the data a form, the importer or the API gives,
checked field by field in the order of the form into the values to store. The problems come
as (field, message) pairs; operations.py writes only data without any."""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from ..accounts.models import CEFR
from ..core.validation import clean_text
from . import reference
from .models import CEFR_RANK, AgreementStatus, AgreementType, PartnerStatus

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


# --- an agreement's fields, checked one by one in the order of the form ------------------------------------------------------------------------------


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
