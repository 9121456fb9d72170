"""Notifications of a call's selection result: selection sends its signals (selection.signals)
and this module, connected by init_app, tells each applicant their outcome when the result is
published, that it is final when an objection window ends, and the office's answer to their
objection. Titles are formatted when shown, in the reader's language; each names the call."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..applications.models import Application
from ..calls.models import CallOffering
from ..catalogue.models import Agreement, Partner
from ..extensions import db
from ..mail.operations import queue_mails
from ..selection import signals as selection_signals
from ..selection.models import AllocationOutcome
from . import events
from .events import deadline_data, notify
from .labels import present
from .models import Notification

events.declare(
    "selection.placed",
    "selection_published",
    _l("Selection result of %(call)s: you have a place at %(offering)s"),
)
events.declare(
    "selection.waitlisted",
    "selection_published",
    _l("Selection result of %(call)s: you are on the waiting list"),
)
events.declare(
    "selection.not_placed",
    "selection_published",
    _l("Selection result of %(call)s: you have not been placed"),
)
events.declare(
    "selection.final",
    "selection_final",
    _l("The selection result of %(call)s is final"),
)
events.declare(
    "selection.objection_answered",
    "selection_objection_answered",
    _l("Your objection to the selection result of %(call)s is answered"),
)


def _outcomes(run_id: int):
    """Each applicant of the run with their outcome and place, in rank order."""
    return db.session.execute(
        sa.select(AllocationOutcome.outcome, Application, Partner.name)
        .join(Application, Application.id == AllocationOutcome.application_id)
        .outerjoin(CallOffering, CallOffering.id == AllocationOutcome.offering_id)
        .outerjoin(Agreement, Agreement.id == CallOffering.agreement_id)
        .outerjoin(Partner, Partner.id == Agreement.partner_id)
        .where(AllocationOutcome.run_id == run_id)
        .options(joinedload(Application.student), joinedload(Application.call))
        .order_by(AllocationOutcome.rank)
    ).all()


def _published(publication, **_):
    rows = _outcomes(publication.run_id)
    for outcome in sorted({o for o, _a, _p in rows}, key=lambda o: o.value):
        _notify_all(
            f"selection.{outcome.value}",
            [(a, {"offering": partner or ""}) for o, a, partner in rows if o is outcome],
            publication,
            f"publication-{publication.id}",
            outcome=outcome.value,
        )


def _finalised(publication, **_):
    _notify_all(
        "selection.final",
        [(a, {}) for _o, a, _p in _outcomes(publication.run_id)],
        publication,
        f"publication-{publication.id}-final",
    )


def _notify_all(kind_name, people, publication, key, **shared):
    """What `notify` does for each applicant, for all of them at once: one statement finds who
    was already told (the same dedup keys as notify's), one rendering per language and time
    zone serves every mail (queue_mails), one INSERT adds the notifications. `people`:
    (application, its own values) pairs; `shared` holds what the template tests."""
    kind = events.EVENTS[kind_name]
    fresh = _not_yet_told(kind_name, people, key)
    if not fresh:
        return
    call = fresh[0][1].call
    window = (
        deadline_data(publication.window_ends_at, call.timezone)
        if publication.window_ends_at is not None
        else {}
    )
    common = {"call": call.title, **shared, **window}
    mailed = [(k, a, own) for k, a, own in fresh if events.wants_mail_now(a.student, kind)]
    mails = queue_mails(
        kind.template,
        [a.student for _k, a, _own in mailed],
        [dict(own, link=events.absolute(_path(a))) for _k, a, own in mailed],
        present(common),
        objs=[a for _k, a, _own in mailed],
    )
    mail_ids = {k: m.id for (k, _a, _own), m in zip(mailed, mails, strict=True)}
    db.session.add_all(
        Notification(
            dedup_key=k,
            user_id=a.student_id,
            kind=kind_name,
            object_type="Application",
            object_id=str(a.id),
            data={**common, **own, "application_id": a.id, "path": _path(a)},
            mail_id=mail_ids.get(k),
        )
        for k, a, own in fresh
    )


def _not_yet_told(kind_name, people, key):
    """(dedup key, application, own values) of the active applicants not told yet."""
    keyed = {
        f"{kind_name}:{key}-{a.id}:{a.student_id}": (a, own)
        for a, own in people
        if a.student.active
    }
    told = set(
        db.session.scalars(
            sa.select(Notification.dedup_key).where(Notification.dedup_key.in_(list(keyed)))
        )
    )
    return [(k, a, own) for k, (a, own) in keyed.items() if k not in told]


def _path(application) -> str:
    return f"/applications/{application.id}/selection"


def _objection_answered(objection, **_):
    application = objection.application
    notify(
        "selection.objection_answered",
        [application.student],
        obj=application,
        data={
            "application_id": application.id,
            "path": _path(application),
            "call": application.call.title,
            "upheld": objection.status.value == "upheld",
            "answer": objection.answer,
        },
        key=f"objection-{objection.id}-answered",
    )


def init_app(app):
    selection_signals.published.connect(_published)
    selection_signals.finalised.connect(_finalised)
    selection_signals.objection_answered.connect(_objection_answered)
