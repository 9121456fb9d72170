"""What applications answer the packages below them: how a call is used (calls' hooks) and
how many students went to a partner (the catalogue's). Connected in init_app."""

import sqlalchemy as sa

from ..calls import hooks as call_hooks
from ..calls.models import CallOffering
from ..catalogue import hooks as catalogue_hooks
from ..catalogue.models import Agreement
from ..extensions import db
from .models import Application, ApplicationChoice, ApplicationStatus

# Applications that reached the host: the student really went (or is going) there.
WENT = (ApplicationStatus.HOST_ACCEPTED, ApplicationStatus.DEPARTED, ApplicationStatus.COMPLETED)


def application_count(call_id) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Application)
            .where(Application.call_id == call_id)
        )
        or 0
    )


def most_choices_ranked(call_id) -> int | None:
    return db.session.scalar(
        sa.select(sa.func.max(ApplicationChoice.rank))
        .join(Application, Application.id == ApplicationChoice.application_id)
        .where(Application.call_id == call_id)
    )


def times_chosen(offering_ids) -> dict[int, int]:
    if not offering_ids:
        return {}
    rows = db.session.execute(
        sa.select(ApplicationChoice.offering_id, sa.func.count())
        .where(ApplicationChoice.offering_id.in_(list(offering_ids)))
        .group_by(ApplicationChoice.offering_id)
    )
    return {offering_id: count for offering_id, count in rows}


def status_counts(call_ids) -> dict[int, dict[ApplicationStatus, int]]:
    if not call_ids:
        return {}
    found: dict[int, dict[ApplicationStatus, int]] = {}
    for call_id, status, count in db.session.execute(
        sa.select(Application.call_id, Application.status, sa.func.count())
        .where(Application.call_id.in_(list(call_ids)))
        .group_by(Application.call_id, Application.status)
    ):
        found.setdefault(call_id, {})[status] = count
    return {
        call_id: {s: counts[s] for s in ApplicationStatus if s in counts}
        for call_id, counts in found.items()
    }


def applications_of(student_id, call_ids) -> dict[int, Application]:
    if not call_ids:
        return {}
    return {
        a.call_id: a
        for a in db.session.scalars(
            sa.select(Application).where(
                Application.student_id == student_id, Application.call_id.in_(list(call_ids))
            )
        )
    }


def students_sent(partner_id):
    return (
        sa.select(sa.func.count())
        .select_from(Application)
        .join(CallOffering, CallOffering.id == Application.placed_offering_id)
        .join(Agreement, Agreement.id == CallOffering.agreement_id)
        .where(Agreement.partner_id == partner_id, Application.status.in_(WENT))
        .scalar_subquery()
    )


def init_app(app):
    call_hooks.application_count.provide(application_count)
    call_hooks.most_choices_ranked.provide(most_choices_ranked)
    call_hooks.times_chosen.provide(times_chosen)
    call_hooks.status_counts.provide(status_counts)
    call_hooks.applications_of.provide(applications_of)
    catalogue_hooks.students_sent.provide(students_sent)
