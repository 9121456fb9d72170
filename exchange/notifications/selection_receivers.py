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
from ..selection import signals as selection_signals
from ..selection.models import AllocationOutcome
from . import events
from .events import deadline_data, notify

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


def _result_data(application, publication, **extra):
    data = {
        "application_id": application.id,
        "path": f"/applications/{application.id}/selection",
        "call": application.call.title,
        **extra,
    }
    if publication.window_ends_at is not None:
        data.update(deadline_data(publication.window_ends_at, application.call.timezone))
    return data


def _published(publication, **_):
    for outcome, application, partner in _outcomes(publication.run_id):
        notify(
            f"selection.{outcome.value}",
            [application.student],
            obj=application,
            data=_result_data(
                application,
                publication,
                outcome=outcome.value,
                offering=partner,
            ),
            key=f"publication-{publication.id}-{application.id}",
        )


def _finalised(publication, **_):
    for outcome, application, _partner in _outcomes(publication.run_id):
        notify(
            "selection.final",
            [application.student],
            obj=application,
            data=_result_data(application, publication, outcome=outcome.value),
            key=f"publication-{publication.id}-{application.id}-final",
        )


def _objection_answered(objection, **_):
    application = objection.application
    notify(
        "selection.objection_answered",
        [application.student],
        obj=application,
        data={
            "application_id": application.id,
            "path": f"/applications/{application.id}/selection",
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
