"""Import of agreements: the partner by hei-id (or name and country), type, years, places,
months, levels, subject areas, language, minimum GPA and eligible units. Agreements are
checked by the catalogue's own rules (catalogue.operations.normalise_agreement) and written by
its operation (save_agreement), so an imported agreement is one the form could have made."""

import re
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from ...accounts.models import Unit
from ...catalogue.models import Agreement, Partner
from ...catalogue.operations import agreement_state, save_agreement
from ...catalogue.rules import AgreementData, normalise_agreement
from ...extensions import db
from ..profiles import parse_degree
from ..tables import Issue, Plan, check_applicable, planned, record_applied, start_plan

LIST_SEPARATORS = re.compile(r"[\s,;|、，]+")


def _split(text):
    return [part for part in LIST_SEPARATORS.split(text or "") if part]


# --- agreements ------------------------------------------------------------------------------

AGREEMENT_ALIASES = {
    "code": "code",
    "协议编号": "code",
    "partner_hei_id": "partner_hei_id",
    "hei_id": "partner_hei_id",
    "partner_name": "partner_name",
    "partner": "partner_name",
    "合作院校": "partner_name",
    "partner_country": "partner_country",
    "country": "partner_country",
    "国家": "partner_country",
    "type": "type",
    "类型": "type",
    "first_year": "first_year",
    "first_academic_year": "first_year",
    "起始学年": "first_year",
    "last_year": "last_year",
    "last_academic_year": "last_year",
    "终止学年": "last_year",
    "places": "places",
    "places_per_year": "places",
    "名额": "places",
    "months": "months",
    "months_per_mobility": "months",
    "月数": "months",
    "levels": "levels",
    "degree_levels": "levels",
    "学历层次": "levels",
    "subject_areas": "subject_areas",
    "学科领域": "subject_areas",
    "language": "language",
    "语言": "language",
    "language_level": "language_level",
    "语言等级": "language_level",
    "min_gpa": "min_gpa",
    "最低绩点": "min_gpa",
    "min_gpa_scale": "min_gpa_scale",
    "绩点满分": "min_gpa_scale",
    "units": "units",
    "eligible_units": "units",
    "适用单位": "units",
    "status": "status",
    "状态": "status",
}
AGREEMENT_COLUMNS = (
    "code",
    "partner_hei_id",
    "partner_name",
    "partner_country",
    "type",
    "first_year",
    "last_year",
    "places",
    "months",
    "levels",
    "subject_areas",
    "language",
    "language_level",
    "min_gpa",
    "min_gpa_scale",
    "units",
    "status",
)
AGREEMENT_REQUIRED = ("type", "first_year", "last_year")
COLUMN_ORDER = {name: index for index, name in enumerate(AGREEMENT_COLUMNS)}  # problems so


def _partners(table):
    hei_ids = {row.get("partner_hei_id", "").strip().lower() for _l, row in table.rows} - {""}
    names = {row.get("partner_name", "").strip().lower() for _l, row in table.rows} - {""}
    by_hei, by_name = {}, {}
    if hei_ids:
        for partner in db.session.scalars(
            sa.select(Partner).where(Partner.hei_id.in_(sorted(hei_ids)))
        ):
            by_hei[partner.hei_id] = partner
    if names:
        for partner in db.session.scalars(
            sa.select(Partner).where(Partner.name_key.in_(sorted(names)))
        ):
            by_name.setdefault((partner.name_key, partner.country), []).append(partner)
    return by_hei, by_name


def plan_agreements(content: bytes, filename: str, progress=None) -> Plan:
    table, plan = start_plan(content, filename, AGREEMENT_ALIASES, AGREEMENT_REQUIRED)
    if table is None:
        return plan
    if "partner_hei_id" not in table.columns and "partner_name" not in table.columns:
        plan.problems.append(
            Issue(
                1,
                "partner_hei_id",
                _("Name the partner by partner_hei_id or by partner_name and partner_country."),
            )
        )
        return plan
    units = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    by_hei, by_name = _partners(table)
    seen: dict = {}
    for line, row in table.rows:
        if progress:
            progress(1)
        problems: list = []
        partner = _partner(row, by_hei, by_name, problems)
        unit_codes = _unit_codes(row, units, problems)
        data = _agreement_data(row, unit_codes, problems)
        values, rule_problems = normalise_agreement(data)
        problems.extend((_column(f), str(m)) for f, m in rule_problems)
        if problems:
            problems.sort(key=lambda problem: COLUMN_ORDER.get(problem[0], len(COLUMN_ORDER)))
            plan.report(line, problems)
            continue
        key = (
            partner.id,
            values["code"]
            or (values["type"].value, values["first_academic_year"], values["last_academic_year"]),
        )
        if key in seen:
            plan.problems.append(
                Issue(
                    line,
                    "code",
                    _("The same agreement is also on line %(other)d.", other=seen[key]),
                )
            )
            continue
        seen[key] = line
        agreement = _existing_agreement(partner, values)
        after = agreement_state(_Shadow(values, sorted(unit_codes)))
        before = agreement_state(agreement) if agreement is not None else dict.fromkeys(after)
        given = {"data": data, "partner": partner, "units": [units[c] for c in unit_codes]}
        plan.items.append(planned(line, given, agreement, before, after))
    return plan


def _partner(row, by_hei, by_name, problems):
    """The catalogue's partner the row names by hei-id, or by a name and country that name
    exactly one partner."""
    hei = row.get("partner_hei_id", "").strip().lower()
    name = row.get("partner_name", "").strip()
    country = row.get("partner_country", "").strip().upper()
    partner = by_hei.get(hei) if hei else None
    if partner is None and not hei and name:
        found = by_name.get((name.lower(), country), [])
        partner = found[0] if len(found) == 1 else None
    if partner is None:
        who = hei or f"{name} ({country})"
        problems.append(
            (
                "partner_hei_id" if hei else "partner_name",
                _("No partner “%(who)s” in the catalogue.", who=who[:80]),
            )
        )
    return partner


def _levels(row, problems):
    levels = []
    for word in _split(row.get("levels", "")):
        level = parse_degree(word)
        if level is None:
            problems.append(
                (
                    "levels",
                    _(
                        "“%(value)s” is not a degree level (bachelor, master, doctoral or 本科, 硕士, 博士).",
                        value=word[:32],
                    ),
                )
            )
        else:
            levels.append(level.value)
    return levels


def _unit_codes(row, units, problems):
    codes = [c.upper() for c in _split(row.get("units", ""))]
    for code in codes:
        if code not in units:
            problems.append(("units", _("Unknown unit code “%(code)s”.", code=code[:32])))
    return codes


def _agreement_data(row, unit_codes, problems):
    """The row as the agreement form's data (the catalogue's rules check the rest)."""
    return AgreementData(
        type=row.get("type", "").strip().lower(),
        first_academic_year=row.get("first_year", ""),
        last_academic_year=row.get("last_year", ""),
        places_per_year=row.get("places") or 1,
        months_per_mobility=row.get("months") or 5,
        code=row.get("code", ""),
        status=(row.get("status") or "active").strip().lower(),
        all_units=not unit_codes,
        degree_levels=_levels(row, problems) or ["bachelor", "master"],
        subject_areas=_split(row.get("subject_areas", "")),
        language=row.get("language", "").strip(),
        language_level=row.get("language_level", "").strip(),
        min_gpa=row.get("min_gpa", "").strip() or None,
        min_gpa_scale=row.get("min_gpa_scale", "").strip() or Decimal("4.00"),
    )


def _column(field_name):
    return {
        "first_academic_year": "first_year",
        "last_academic_year": "last_year",
        "places_per_year": "places",
        "months_per_mobility": "months",
        "degree_levels": "levels",
        "unit_ids": "units",
    }.get(field_name, field_name)


class _Shadow:
    """The values an agreement would have, shaped for agreement_state()."""

    def __init__(self, values, unit_codes):
        for key, value in values.items():
            setattr(self, key, value)
        self.units = [_Code(code) for code in unit_codes]


class _Code:
    def __init__(self, code):
        self.code = code


def _existing_agreement(partner, values):
    stmt = (
        sa.select(Agreement)
        .where(Agreement.partner_id == partner.id)
        .options(selectinload(Agreement.units))
    )
    if values["code"]:
        stmt = stmt.where(Agreement.code == values["code"])
    else:
        stmt = stmt.where(
            Agreement.type == values["type"],
            Agreement.first_academic_year == values["first_academic_year"],
            Agreement.last_academic_year == values["last_academic_year"],
        )
    return db.session.scalars(stmt.order_by(Agreement.id)).first()


def apply_agreements(plan: Plan, *, actor, progress=None) -> Plan:
    check_applicable(plan, actor)
    for item in plan.items:
        if item.action != "unchanged":
            save_agreement(
                item.obj,
                item.values["partner"],
                item.values["data"],
                units=item.values["units"],
                actor=actor,
            )
        if progress:
            progress(1)
    return record_applied(plan, "agreements.imported", "Agreement", actor=actor)
