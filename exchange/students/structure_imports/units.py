"""Import of units: code, name, name in Chinese, kind, parent and student count. Each row is
checked column by column; parents are set last, so a parent may come later in the file than
its children."""

import sqlalchemy as sa
from flask_babel import gettext as _

from ...accounts import operations as accounts
from ...accounts.models import Unit, UnitKind
from ...extensions import db
from ..tables import Plan, check_applicable, planned, record_applied, start_plan

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
    table, plan = start_plan(content, filename, UNIT_ALIASES, UNIT_REQUIRED)
    if table is None:
        return plan
    existing = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    codes_of = {u.id: u.code for u in existing.values()}
    known = set(existing) | {row.get("code", "").strip().upper() for _line, row in table.rows}
    seen: dict = {}
    for line, row in table.rows:
        if progress:
            progress(1)
        problems: list = []
        values = _unit_values(row, known, seen, problems)
        if problems:
            plan.report(line, problems)
            continue
        seen[values["code"]] = line
        unit = existing.get(values["code"])
        before = dict.fromkeys(values) if unit is None else _unit_state(unit, codes_of)
        given = {k: v for k, v in values.items() if k in UNIT_REQUIRED or k in table.columns}
        plan.items.append(planned(line, given, unit, before, given))
    return plan


def _unit_values(row, known, seen, problems):
    """The row's values, checked column by column in the order of the template."""
    code = _code(row, seen, problems)
    name = _name(row, problems)
    kind = _kind(row, problems)
    return {
        "code": code,
        "name": name[:200],
        "name_native": row.get("name_native", "").strip()[:200] or None,
        "kind": kind.value if kind else None,
        "parent": _parent(row, code, known, problems),
        "student_count": _student_count(row, problems),
    }


def _code(row, seen, problems):
    code = row.get("code", "").strip().upper()
    if not code:
        problems.append(("code", _("The %(name)s is empty.", name="code")))
    elif len(code) > 32:
        problems.append(("code", _("The code is longer than 32 characters.")))
    elif code in seen:
        problems.append(
            ("code", _("The code %(code)s is also on line %(other)d.", code=code, other=seen[code]))
        )
    return code


def _name(row, problems):
    name = row.get("name", "").strip()
    if not name:
        problems.append(("name", _("The %(name)s is empty.", name="name")))
    return name


def _kind(row, problems):
    kind = KIND_WORDS.get(row.get("kind", "").strip().lower())
    if kind is None:
        problems.append(
            (
                "kind",
                _(
                    "“%(value)s” is not a kind of unit (school, college, key_laboratory, "
                    "department).",
                    value=row.get("kind", "")[:32],
                ),
            )
        )
    return kind


def _parent(row, code, known, problems):
    """The parent's code: a unit that exists or that the file creates, not the unit itself."""
    parent = row.get("parent", "").strip().upper() or None
    if parent and parent == code:
        problems.append(("parent", _("A unit cannot be its own parent.")))
    elif parent and parent not in known:
        problems.append(("parent", _("Unknown unit code “%(code)s”.", code=parent[:32])))
    return parent


def _student_count(row, problems):
    count = row.get("student_count", "").strip()
    if count and not count.isdigit():
        problems.append(("student_count", _("The student count is a whole number.")))
        return None
    return int(count) if count else None


def _unit_state(unit, codes_of):
    return {
        "code": unit.code,
        "name": unit.name,
        "name_native": unit.name_native,
        "kind": unit.kind.value,
        "parent": codes_of.get(unit.parent_id),
        "student_count": unit.student_count,
    }


def apply_units(plan: Plan, *, actor, progress=None) -> Plan:
    check_applicable(plan, actor)
    for item in plan.items:
        if item.action != "unchanged":
            _save(item, actor)
        if progress:
            progress(1)
    # Parents last: a parent may come later in the file than its children.
    by_code = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    for item in plan.items:
        if "parent" in item.values and "parent" in item.changes:
            parent = by_code.get(item.values["parent"]) if item.values["parent"] else None
            by_code[item.values["code"]].parent_id = parent.id if parent else None
    db.session.flush()
    return record_applied(plan, "units.imported", "Unit", actor=actor)


def _save(item, actor):
    unit, v = item.obj, item.values
    accounts.save_unit(
        unit,
        code=v["code"],
        name=v["name"],
        name_native=v.get("name_native", unit.name_native if unit else None),
        kind=UnitKind(v["kind"]),
        student_count=v.get("student_count", unit.student_count if unit else None),
        active=unit.active if unit else True,
        actor=actor,
    )
