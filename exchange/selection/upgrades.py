"""Places that free up (a decline, an expiry, an upgrade away) go to the best-ranked student
who ranked that offering above what they hold now: a waitlisted student, or a holder of a
lower choice who has not opted out. Moving a holder frees their old place in turn, so the
chain runs until no freed place finds a taker.

Capacity is guarded by the offering's fill row: a place is taken by
`filled = filled + 1 WHERE filled < places` (checked by its row count) and the CHECK
constraint on the row; a student is moved by a conditional UPDATE of their current offer and
application, so two transactions never move the same student twice."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from ..accounts.models import StudentProfile
from ..applications.models import (
    Application,
    ApplicationChoice,
    ApplicationEvent,
    ApplicationStatus,
)
from ..extensions import db
from . import signals
from .models import (
    AllocationOutcome,
    AllocationRun,
    OfferingFill,
    OfferingQuota,
    OfferSettings,
    OfferStatus,
    RunKind,
    SelectionOffer,
)

DEFAULT_DAYS = 7


def take_place(offering_id: int) -> bool:
    """One place of the offering, if one is free (atomic on every database)."""
    result = db.session.execute(
        sa.update(OfferingFill)
        .where(OfferingFill.offering_id == offering_id, OfferingFill.filled < OfferingFill.places)
        .values(filled=OfferingFill.filled + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_place(offering_id: int) -> None:
    db.session.execute(
        sa.update(OfferingFill)
        .where(OfferingFill.offering_id == offering_id, OfferingFill.filled > 0)
        .values(filled=OfferingFill.filled - 1)
        .execution_options(synchronize_session=False)
    )


def offer_days(call_id: int) -> int:
    days = db.session.scalar(sa.select(OfferSettings.days).where(OfferSettings.call_id == call_id))
    return days or DEFAULT_DAYS


def _latest_run(call_id: int):
    return (
        sa.select(sa.func.max(AllocationRun.id))
        .where(AllocationRun.call_id == call_id, AllocationRun.kind == RunKind.COMMITTED)
        .scalar_subquery()
    )


def candidates(call_id: int, offering_id: int, skip: set[int], now: datetime):
    """(application id, choice rank of the offering, held offer or None) of the best
    candidate. A holder whose open offer has expired (the beat has not come yet) is none."""
    held = sa.orm.aliased(SelectionOffer)
    statement = (
        sa.select(Application.id, ApplicationChoice.rank, held)
        .join(ApplicationChoice, ApplicationChoice.application_id == Application.id)
        .join(
            AllocationOutcome,
            sa.and_(
                AllocationOutcome.application_id == Application.id,
                AllocationOutcome.run_id == _latest_run(call_id),
            ),
        )
        .outerjoin(
            held,
            sa.and_(
                held.application_id == Application.id,
                held.status.in_((OfferStatus.OPEN, OfferStatus.ACCEPTED)),
            ),
        )
        .where(
            Application.call_id == call_id,
            ApplicationChoice.offering_id == offering_id,
            sa.or_(
                Application.status == ApplicationStatus.WAITLISTED,
                sa.and_(
                    Application.status.in_((ApplicationStatus.PLACED, ApplicationStatus.ACCEPTED)),
                    held.choice_rank > ApplicationChoice.rank,
                    held.no_upgrades.is_(False),
                    sa.or_(held.status == OfferStatus.ACCEPTED, held.expires_at > now),
                ),
            ),
        )
        .order_by(AllocationOutcome.rank)
    )
    if skip:
        statement = statement.where(Application.id.not_in(skip))
    return db.session.execute(statement.limit(1)).first()


def _move(call_id, application_id, held: SelectionOffer | None, offering_id, choice, now) -> bool:
    """Give the candidate the place (already taken on the fill row): supersede their offer
    and update their application, both only if nobody moved them meanwhile."""
    status = ApplicationStatus.PLACED
    if held is not None:
        superseded = db.session.execute(
            sa.update(SelectionOffer)
            .where(SelectionOffer.id == held.id, SelectionOffer.status == held.status)
            .values(status=OfferStatus.UPGRADED, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        if superseded.rowcount != 1:
            return False
        if held.status is OfferStatus.ACCEPTED:  # they accepted a lower choice already
            status = ApplicationStatus.ACCEPTED
        before = (
            ApplicationStatus.ACCEPTED
            if held.status is OfferStatus.ACCEPTED
            else ApplicationStatus.PLACED
        )
        where = Application.placed_offering_id == held.offering_id
    else:
        before, where = ApplicationStatus.WAITLISTED, sa.true()
    moved = db.session.execute(
        sa.update(Application)
        .where(Application.id == application_id, Application.status == before, where)
        .values(
            status=status, placed_offering_id=offering_id, status_changed_at=now, updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return False
    offer = SelectionOffer(
        application_id=application_id,
        offering_id=offering_id,
        choice_rank=choice,
        status=OfferStatus.ACCEPTED if status is ApplicationStatus.ACCEPTED else OfferStatus.OPEN,
        upgrade=True,
        created_at=now,
        expires_at=now + timedelta(days=offer_days(call_id)),
        answered_at=now if status is ApplicationStatus.ACCEPTED else None,
    )
    db.session.add(offer)
    db.session.add(
        ApplicationEvent(
            application_id=application_id,
            at=now,
            action="offer_upgraded",
            from_status=before,
            to_status=status,
        )
    )
    db.session.flush()
    signals.offer_changed.send(
        offer, change="upgraded", before=before.value, after=status.value, previous=held
    )
    return True


def _group_of(application_id: int):
    return db.session.execute(
        sa.select(Application.unit_id, StudentProfile.degree_level)
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .where(Application.id == application_id)
    ).one()


def quota_full(offering_id: int, application_id: int) -> bool:
    """Whether the offering's quota for the student's unit or degree level is taken (the
    allocation's quotas hold for upgrades too)."""
    quotas = db.session.execute(
        sa.select(OfferingQuota.unit_id, OfferingQuota.degree_level, OfferingQuota.places).where(
            OfferingQuota.offering_id == offering_id
        )
    ).all()
    if not quotas:
        return False
    unit_id, level = _group_of(application_id)
    for q_unit, q_level, places in quotas:
        if (q_unit is not None and q_unit != unit_id) or (q_level is not None and q_level != level):
            continue
        group = (
            Application.unit_id == q_unit
            if q_unit is not None
            else StudentProfile.degree_level == q_level
        )
        taken = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SelectionOffer)
            .join(Application, Application.id == SelectionOffer.application_id)
            .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
            .where(
                SelectionOffer.offering_id == offering_id,
                SelectionOffer.status.in_((OfferStatus.OPEN, OfferStatus.ACCEPTED)),
                group,
            )
        )
        if taken >= places:
            return True
    return False


def fill_places(call_id: int, offering_ids: list[int], now: datetime) -> int:
    """Run the upgrade chain from the freed offerings until it is stable; the number of moves."""
    queue, moves = list(offering_ids), 0
    while queue:
        offering_id = queue.pop(0)
        tried: set[int] = set()
        while (row := candidates(call_id, offering_id, tried, now)) is not None:
            application_id, choice, held = row
            tried.add(application_id)
            if quota_full(offering_id, application_id):
                continue
            if not take_place(offering_id):
                break  # full again (another transaction took the place)
            if not _move(call_id, application_id, held, offering_id, choice, now):
                release_place(offering_id)  # the candidate moved meanwhile: try the next
                continue
            moves += 1
            if held is not None:
                release_place(held.offering_id)
                queue.append(held.offering_id)
    return moves
