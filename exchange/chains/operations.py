"""State changes on approval chain templates: create, edit (a new version), (de)activate.

A running chain never changes with its template: each application's ApplicationStep rows
copy the rules when it is submitted (approvals.operations.start_chain), so an edit here replaces the
template's step rows and bumps the version without touching any application. Every change is
validated and audited with a before/after diff; the caller commits."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from ..accounts.models import Role, UnitFunction, User, UserRole
from ..core import audit
from ..core.validation import ValidationFailed, clean_text
from ..extensions import db
from . import hooks
from .models import ApprovalChain, ApprovalStepTemplate, ApproverRule, RestartFrom

__all__ = ["ChainData", "StepData", "ValidationFailed", "save_chain", "set_chain_active"]

MAX_STEPS = 10
APPROVER_ROLES = Role.APPROVERS
# A unit's members are its students: only its advisors or its dean may approve by function.
UNIT_ROLE_FUNCTIONS = (UnitFunction.DEAN, UnitFunction.ADVISOR)


def _enum(enum_cls, value):
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(clean_text(value))
    except ValueError:
        return None


def _whole(value):
    """An int, None when blank, or False when it is not a whole number."""
    if value is None or str(value).strip() == "":
        return None
    if isinstance(value, bool):
        return False
    try:
        return int(str(value).strip())
    except ValueError:
        return False


@dataclass
class StepData:
    """One step as the office enters it. `position` orders the steps (blank: the row order)."""

    name: str = ""
    rule: ApproverRule | str | None = None
    unit_function: UnitFunction | str | None = None
    approver: int | str | None = None  # a user id, for NAMED_USER
    time_limit_days: int | str | None = 7
    rejection_ends: bool = True
    may_return: bool = True
    position: int | str | None = None

    def is_blank(self) -> bool:
        """An unused row of the form: nothing chosen that says who approves."""
        return not (
            clean_text(self.name)
            or clean_text(getattr(self.rule, "value", self.rule))
            or clean_text(getattr(self.unit_function, "value", self.unit_function))
            or clean_text(str(self.approver or ""))
        )


@dataclass
class ChainData:
    name: str
    description: str = ""
    restart_from: RestartFrom | str = RestartFrom.FIRST_STEP
    steps: list[StepData] = field(default_factory=list)

    def normalised(self):
        """(values to store, problems [(field, message)]). Blank step rows are left out; the
        others are ordered by position (then row) and numbered 1, 2, … Problems of a step are
        reported on the field `steps-<row>-<name>`, `row` being its index in `steps`."""
        problems = []
        name = clean_text(self.name)
        if not name:
            problems.append(("name", _l("Enter a name for the chain.")))
        elif len(name) > 200:
            problems.append(("name", _l("The name is longer than 200 characters.")))
        restart = _enum(RestartFrom, self.restart_from or RestartFrom.FIRST_STEP.value)
        if restart is None:
            problems.append(("restart_from", _l("Choose where the chain starts again.")))
            restart = RestartFrom.FIRST_STEP
        rows = []
        for row, step in enumerate(self.steps or []):
            if step.is_blank():
                continue
            position = _whole(step.position)
            if position is False or (position is not None and not 1 <= position <= 99):
                problems.append(
                    (
                        f"steps-{row}-position",
                        _l("The order must be a whole number from 1 to 99."),
                    )
                )
                position = None
            rows.append((position if position is not None else row + 1, row, step))
        rows.sort(key=lambda item: (item[0], item[1]))
        if not rows:
            problems.append(("steps", _l("Add at least one step.")))
        elif len(rows) > MAX_STEPS:
            problems.append(("steps", _l("A chain has at most %(num)d steps.", num=MAX_STEPS)))
        steps = [
            self._step(number, row, step, problems)
            for number, (_position, row, step) in enumerate(rows, start=1)
        ]
        values = {
            "name": name[:200],
            "description": clean_text(self.description, 5000) or None,
            "restart_from": restart,
            "steps": steps,
        }
        return values, problems

    @staticmethod
    def _step(number, row, step, problems):
        """The stored rule of one step (with `row` to report the approver's problems on)."""

        def problem(name, message):
            problems.append((f"steps-{row}-{name}", message))

        rule = _enum(ApproverRule, step.rule) if step.rule else None
        if rule is None:
            problem("rule", _l("Step %(num)d: choose who approves.", num=number))
        function = None
        if rule is ApproverRule.UNIT_ROLE:
            function = _enum(UnitFunction, step.unit_function) if step.unit_function else None
            if function not in UNIT_ROLE_FUNCTIONS:
                problem(
                    "unit_function",
                    _l(
                        "Step %(num)d: choose the function (dean or advisor) of the person "
                        "in the student's unit who approves.",
                        num=number,
                    ),
                )
                function = None
        approver_id = None
        if rule is ApproverRule.NAMED_USER:
            approver_id = _whole(step.approver)
            if not approver_id:
                problem("approver", _l("Step %(num)d: choose the person who approves.", num=number))
                approver_id = None
        days = _whole(step.time_limit_days)
        if days is None or days is False or not 1 <= days <= 365:
            problem(
                "time_limit_days",
                _l("Step %(num)d: the time limit must be from 1 to 365 days.", num=number),
            )
            days = 7
        name = clean_text(step.name)
        if len(name) > 120:
            problem("name", _l("Step %(num)d: the name is longer than 120 characters.", num=number))
        return {
            "row": row,
            "position": number,
            "name": name[:120] or (str(RULE_NAMES[rule]) if rule else ""),
            "rule": rule,
            "unit_function": function,
            "approver_id": approver_id,
            "time_limit_days": days,
            "rejection_ends": bool(step.rejection_ends),
            "may_return": bool(step.may_return),
        }


# Default step names, when the office leaves the name empty (stored, so not lazy at use).
RULE_NAMES = {
    ApproverRule.UNIT_ADVISOR: _l("Unit advisor"),
    ApproverRule.UNIT_ROLE: _l("Unit"),
    ApproverRule.INTERNATIONAL_OFFICE: _l("International office"),
    ApproverRule.NAMED_USER: _l("Approver"),
}
STEP_FIELDS = (
    "name",
    "rule",
    "unit_function",
    "approver_id",
    "time_limit_days",
    "rejection_ends",
    "may_return",
)


def can_approve(user) -> bool:
    """Whether `user` may be named as the approver of a step."""
    return user is not None and user.active and user.has_role(*APPROVER_ROLES)


def approver_choices():
    """Active advisors, coordinators and admins, by name."""
    # Filtered in SQL: there are thousands of students and a few dozen staff.
    staff = sa.select(UserRole.user_id).where(UserRole.role.in_(APPROVER_ROLES))
    return db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True), User.id.in_(staff))
        .order_by(User.name, User.id)
    ).all()


def _step_line(step) -> str:
    """A step as one language-neutral line of the audit trail."""
    who = step.rule.value
    if step.unit_function is not None:
        who += f":{step.unit_function.value}"
    if step.approver_id is not None:
        who += f":user {step.approver_id}"
    flags = [
        f"{step.time_limit_days}d",
        "rejection ends" if step.rejection_ends else "rejection continues",
        "may return" if step.may_return else "no return",
    ]
    return f"{step.position}. {step.name} ({who}; {', '.join(flags)})"


def chain_state(chain) -> dict:
    return {
        "name": chain.name,
        "description": chain.description,
        "restart_from": chain.restart_from.value if chain.restart_from else None,
        "steps": [_step_line(s) for s in chain.steps],
        "active": chain.active,
    }


def _rules(steps) -> list[tuple]:
    return [tuple(getattr(s, f) for f in STEP_FIELDS) for s in steps]


def _diff(before, after):
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def find_chain_by_name(name):
    return db.session.scalar(
        sa.select(ApprovalChain).where(sa.func.lower(ApprovalChain.name) == name.lower())
    )


def _check_approvers(steps, problems):
    ids = {s["approver_id"] for s in steps if s["approver_id"]}
    users = (
        {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}
        if ids
        else {}
    )
    for step in steps:
        if not step["approver_id"]:
            continue
        user = users.get(step["approver_id"])
        if user is None:
            message = _l("Step %(num)d: there is no such user.", num=step["position"])
        elif not can_approve(user):
            message = _l(
                "Step %(num)d: %(name)s cannot approve: only active advisors, coordinators "
                "and admins can.",
                num=step["position"],
                name=user.name,
            )
        else:
            continue
        problems.append((f"steps-{step['row']}-approver", message))


def save_chain(chain, data: ChainData, *, actor):
    """Create (chain=None) or update a chain template. Returns (chain, changed fields).

    When the steps or the restart policy change, the version goes up by one and the step rows
    are replaced; applications submitted earlier keep the steps they copied."""
    values, problems = data.normalised()
    if values["name"]:
        other = find_chain_by_name(values["name"])
        if other is not None and other is not chain:
            problems.append(
                ("name", _l("Another chain is already called “%(name)s”.", name=other.name))
            )
    _check_approvers(values["steps"], problems)
    if problems:
        raise ValidationFailed(problems)
    creating = chain is None
    before = {} if creating else chain_state(chain)
    if creating:
        chain = ApprovalChain(version=1, active=True)
        db.session.add(chain)
    new_steps = [
        ApprovalStepTemplate(position=s["position"], **{f: s[f] for f in STEP_FIELDS})
        for s in values["steps"]
    ]
    policy_changed = chain.restart_from is not values["restart_from"]
    steps_changed = _rules(chain.steps) != _rules(new_steps)
    chain.name = values["name"]
    chain.description = values["description"]
    chain.restart_from = values["restart_from"]
    if steps_changed:
        # The old rows go first: (chain, position) is unique, and the unit of work would
        # insert the new rows before deleting the old ones.
        chain.steps.clear()
        db.session.flush()
        chain.steps.extend(new_steps)
    if not creating and (steps_changed or policy_changed):
        chain.version += 1
    db.session.flush()
    changed = _diff(before, chain_state(chain))
    if changed:
        if not creating and (steps_changed or policy_changed):
            changed["version"] = [chain.version - 1, chain.version]
        audit.record(
            "approval_chain.created" if creating else "approval_chain.updated",
            chain,
            actor=actor,
            details=changed,
        )
    return chain, changed


def set_chain_active(chain, active: bool, *, actor):
    """An inactive chain can no longer be chosen for a call; calls using it keep it."""
    if chain.active is active:
        return False
    chain.active = active
    audit.record(
        "approval_chain.activated" if active else "approval_chain.deactivated",
        chain,
        actor=actor,
        details={"active": [not active, active]},
    )
    return True


# --- read models -------------------------------------------------------------------------


def chains_with_usage(*, active_only=False):
    """[(chain with its steps, number of calls using it)] by name: three statements whatever
    the number of chains."""
    query = (
        sa.select(ApprovalChain)
        .options(selectinload(ApprovalChain.steps))
        .order_by(sa.func.lower(ApprovalChain.name), ApprovalChain.id)
    )
    if active_only:
        query = query.where(ApprovalChain.active.is_(True))
    chains = db.session.scalars(query).all()
    counts = hooks.call_counts()
    return [(c, counts.get(c.id, 0)) for c in chains]


def chain_choices(current_id=None):
    """The chains a call may use: the active ones, and the one it has (even if inactive)."""
    query = sa.select(ApprovalChain).order_by(sa.func.lower(ApprovalChain.name))
    condition = ApprovalChain.active.is_(True)
    if current_id is not None:
        condition = sa.or_(condition, ApprovalChain.id == current_id)
    return db.session.scalars(query.where(condition)).all()
