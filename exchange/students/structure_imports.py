"""Imports of units (code, name, kind, parent) and of agreements (partner by hei-id or name +
country, type, years, places, months, levels, subject areas, language, minimum GPA, eligible
units), with the same preview, all-or-nothing and idempotence as the roster. Agreements are
checked by the catalogue's own rules (catalogue.operations.normalise_agreement) and written by
its operation (save_agreement), so an imported agreement is one the form could have made."""

import re
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from ..accounts import operations as accounts
from ..accounts.models import Role, Unit, UnitKind
from ..catalogue.models import Agreement, Partner
from ..catalogue.operations import (
    AgreementData,
    agreement_state,
    normalise_agreement,
    save_agreement,
)
from ..core import audit
from ..core.errors import DomainError, NotAllowed
from ..extensions import db
from .profiles import parse_degree
from .tables import Issue, Plan, Planned, read_table

LIST_SEPARATORS = re.compile(r"[\s,;|、，]+")


def _split(text):
    return [part for part in LIST_SEPARATORS.split(text or "") if part]


def _require_admin(actor):
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("Only an admin can import."))


# --- units -----------------------------------------------------------------------------------

UNIT_ALIASES = {
    "code": "code",
    "unit_code": "code",
    "代码": "code",
    "单位代码": "code",
    "name": "name",
    "名称": "name",
    "单位名称": "name",
    "name_native": "name_native",
    "中文名称": "name_native",
    "kind": "kind",
    "类型": "kind",
    "parent": "parent",
    "上级单位": "parent",
    "student_count": "student_count",
    "学生人数": "student_count",
}
UNIT_COLUMNS = ("code", "name", "name_native", "kind", "parent", "student_count")
UNIT_REQUIRED = ("code", "name", "kind")
KIND_WORDS = {
    **{kind.value: kind for kind in UnitKind},
    "key laboratory": UnitKind.KEY_LABORATORY,
    "学院": UnitKind.SCHOOL,
    "书院": UnitKind.COLLEGE,
    "重点实验室": UnitKind.KEY_LABORATORY,
    "系": UnitKind.DEPARTMENT,
}


def plan_units(content: bytes, filename: str, progress=None) -> Plan:
    table = read_table(content, filename, UNIT_ALIASES, UNIT_REQUIRED)
    plan = Plan(total=len(table.rows), problems=list(table.problems))
    if any(p.line in (None, 1) for p in table.problems):
        return plan
    existing = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    parents_of = {u.id: u.code for u in existing.values()}
    file_codes = {row.get("code", "").strip().upper() for _line, row in table.rows}
    seen = {}
    for line, row in table.rows:
        if progress:
            progress(1)
        problems = []
        code = row.get("code", "").strip().upper()
        name = row.get("name", "").strip()
        for column, value in (("code", code), ("name", name)):
            if not value:
                problems.append(Issue(line, column, _("The %(name)s is empty.", name=column)))
        if len(code) > 32:
            problems.append(Issue(line, "code", _("The code is longer than 32 characters.")))
        if code in seen:
            problems.append(
                Issue(
                    line,
                    "code",
                    _("The code %(code)s is also on line %(other)d.", code=code, other=seen[code]),
                )
            )
        kind = KIND_WORDS.get(row.get("kind", "").strip().lower())
        if kind is None:
            problems.append(
                Issue(
                    line,
                    "kind",
                    _(
                        "“%(value)s” is not a kind of unit (school, college, key_laboratory, "
                        "department).",
                        value=row.get("kind", "")[:32],
                    ),
                )
            )
        parent = row.get("parent", "").strip().upper() or None
        if parent and parent == code:
            problems.append(Issue(line, "parent", _("A unit cannot be its own parent.")))
        elif parent and parent not in existing and parent not in file_codes:
            problems.append(
                Issue(line, "parent", _("Unknown unit code “%(code)s”.", code=parent[:32]))
            )
        count = row.get("student_count", "").strip()
        if count and not count.isdigit():
            problems.append(Issue(line, "student_count", _("The student count is a whole number.")))
        if problems:
            plan.problems.extend(problems)
            continue
        seen[code] = line
        values = {
            "code": code,
            "name": name[:200],
            "name_native": row.get("name_native", "").strip()[:200] or None,
            "kind": kind.value,
            "parent": parent,
            "student_count": int(count) if count else None,
        }
        unit = existing.get(code)
        before = (
            dict.fromkeys(values)
            if unit is None
            else {
                "code": unit.code,
                "name": unit.name,
                "name_native": unit.name_native,
                "kind": unit.kind.value,
                "parent": parents_of.get(unit.parent_id),
                "student_count": unit.student_count,
            }
        )
        after = {
            k: v for k, v in values.items() if k in ("code", "name", "kind") or k in table.columns
        }
        changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
        action = "create" if unit is None else ("update" if changes else "unchanged")
        plan.items.append(Planned(line, action, after, unit, changes))
    return plan


def apply_units(plan: Plan, *, actor, progress=None) -> Plan:
    _require_admin(actor)
    if plan.problems:
        raise DomainError(_("The file has problems; nothing was imported."))
    units = {}
    for item in plan.items:
        if item.action == "unchanged":
            units[item.values["code"]] = item.obj
            continue
        unit, v = item.obj, item.values
        units[v["code"]] = accounts.save_unit(
            unit,
            code=v["code"],
            name=v["name"],
            name_native=v.get("name_native", unit.name_native if unit else None),
            kind=UnitKind(v["kind"]),
            student_count=v.get("student_count", unit.student_count if unit else None),
            active=unit.active if unit else True,
            actor=actor,
        )
        if progress:
            progress(1)
    # Parents last: a parent may come later in the file than its children.
    by_code = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    for item in plan.items:
        if "parent" in item.values and "parent" in item.changes:
            parent = by_code.get(item.values["parent"]) if item.values["parent"] else None
            by_code[item.values["code"]].parent_id = parent.id if parent else None
    db.session.flush()
    audit.record(
        "units.imported",
        actor=actor,
        object_type="Unit",
        details={"rows": plan.total, "created": plan.created, "updated": plan.updated},
    )
    plan.applied = True
    return plan


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
    table = read_table(content, filename, AGREEMENT_ALIASES, AGREEMENT_REQUIRED)
    plan = Plan(total=len(table.rows), problems=list(table.problems))
    if any(p.line in (None, 1) for p in table.problems):
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
    seen = {}
    for line, row in table.rows:
        if progress:
            progress(1)
        problems = []
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
                Issue(
                    line,
                    "partner_hei_id" if hei else "partner_name",
                    _("No partner “%(who)s” in the catalogue.", who=who[:80]),
                )
            )
        levels = []
        for word in _split(row.get("levels", "")):
            level = parse_degree(word)
            if level is None:
                problems.append(
                    Issue(
                        line,
                        "levels",
                        _(
                            "“%(value)s” is not a degree level (bachelor, master, doctoral or 本科, 硕士, 博士).",
                            value=word[:32],
                        ),
                    )
                )
            else:
                levels.append(level.value)
        unit_codes = [c.upper() for c in _split(row.get("units", ""))]
        for code in unit_codes:
            if code not in units:
                problems.append(
                    Issue(line, "units", _("Unknown unit code “%(code)s”.", code=code[:32]))
                )
        data = AgreementData(
            type=row.get("type", "").strip().lower(),
            first_academic_year=row.get("first_year", ""),
            last_academic_year=row.get("last_year", ""),
            places_per_year=row.get("places") or 1,
            months_per_mobility=row.get("months") or 5,
            code=row.get("code", ""),
            status=(row.get("status") or "active").strip().lower(),
            all_units=not unit_codes,
            degree_levels=levels or ["bachelor", "master"],
            subject_areas=_split(row.get("subject_areas", "")),
            language=row.get("language", "").strip(),
            language_level=row.get("language_level", "").strip(),
            min_gpa=row.get("min_gpa", "").strip() or None,
            min_gpa_scale=row.get("min_gpa_scale", "").strip() or Decimal("4.00"),
        )
        values, rule_problems = normalise_agreement(data)
        problems.extend(Issue(line, _column(f), str(m)) for f, m in rule_problems)
        if problems:
            plan.problems.extend(problems)
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
        changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
        action = "create" if agreement is None else ("update" if changes else "unchanged")
        plan.items.append(
            Planned(
                line,
                action,
                {"data": data, "partner": partner, "units": [units[c] for c in unit_codes]},
                agreement,
                changes,
            )
        )
    return plan


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
    _require_admin(actor)
    if plan.problems:
        raise DomainError(_("The file has problems; nothing was imported."))
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
    audit.record(
        "agreements.imported",
        actor=actor,
        object_type="Agreement",
        details={"rows": plan.total, "created": plan.created, "updated": plan.updated},
    )
    plan.applied = True
    return plan
