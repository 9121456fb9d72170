"""Notifications of what happens to applications, steps and calls: the lower packages send
signals (applications.signals, approvals.signals, calls.signals) and this module, connected
by init_app, turns each into the notification its people receive."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..accounts import logins
from ..accounts.models import Role, User, UserRole
from ..approvals import signals as approval_signals
from ..approvals.operations import approvers_of
from ..calls import signals as call_signals
from ..extensions import db
from . import events, offer_notices, selection_receivers
from .events import application_data, deadline_data, notify

# Titles are formatted when shown, in the reader's language; each names the call.
events.declare(
    "application.submitted",
    "application_submitted",
    _l("Your application to %(call)s is submitted"),
)
events.declare(
    "step.waiting",
    "step_waiting",
    _l("The application of %(student)s to %(call)s waits for your decision"),
)
events.declare("step.decided", "step_decided", _l("%(step)s: %(decision)s — %(call)s"))
events.declare(
    "application.returned",
    "application_returned",
    _l("Your application to %(call)s was returned for changes"),
)
events.declare(
    "application.approved", "application_approved", _l("Your application to %(call)s is approved")
)
events.declare(
    "application.rejected", "application_rejected", _l("Your application to %(call)s is rejected")
)


def _chain_started(application, *, steps, **_):
    notify(
        "application.submitted",
        [application.student],
        obj=application,
        data=application_data(application),
        key=f"application-{application.id}-submitted-r{steps[0].round}",
    )


def _step_activated(step, *, application, context, **_):
    notify(
        "step.waiting",
        [u for u in approvers_of(step) if u.id != application.student_id],
        obj=application,
        data=application_data(application, step),
        key=f"step-{step.id}",
        context=context,
    )


def _step_decided(step, *, application, decision, outcome, context, **_):
    if outcome == "decided":  # more steps follow: the student hears of this one
        kind, key = "step.decided", f"step-{step.id}-decided"
        data = application_data(application, step, decision=decision.value)
    else:  # one event, one message: the ending says it all
        kind, data = f"application.{outcome}", application_data(application, step)
        key = (
            f"application-{application.id}-approved-r{step.round}"
            if outcome == "approved"
            else f"step-{step.id}-{outcome}"
        )
    notify(kind, [application.student], obj=application, data=data, key=key, context=context)


def _review_cancelled(application, *, waiting_on, reason, **_):
    # Those it was waiting on are told it no longer needs them (never the student).
    notify(
        "application.withdrawn",
        [u for u in waiting_on if u.id != application.student_id],
        obj=application,
        data=application_data(application, reason=reason),
        key=f"application-{application.id}-withdrawn",
    )


def _call_opened(call, **_):
    """Tell the students that a call has opened (in the same transaction as the opening)."""
    students = db.session.scalars(
        sa.select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.STUDENT, User.active.is_(True))
        .order_by(User.id)
    ).all()
    notify(
        "call.opened",
        students,
        obj=call,
        data={
            "call": call.title,
            "path": f"/calls/{call.id}",
            **deadline_data(call.closes_at, call.timezone),
        },
        key=f"call-{call.id}-opened",
    )


def init_app(app):
    # The navigation's badge: the unread count comes with the user, in the login statement.
    logins.add_login_column("unread_notifications", events.unread_subquery)
    approval_signals.chain_started.connect(_chain_started)
    approval_signals.step_activated.connect(_step_activated)
    approval_signals.step_decided.connect(_step_decided)
    approval_signals.review_cancelled.connect(_review_cancelled)
    call_signals.opened.connect(_call_opened)
    selection_receivers.init_app(app)
    offer_notices.init_app(app)
