"""The review part of the application page (the chain's steps, internal notes and, when it
is the viewer's turn, the decision), which approvals hands to the page through
`applications.review`'s registry: the page shows it to its reviewers, never to its student."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import defaultload, joinedload, lazyload, with_expression

from ..accounts.models import User
from ..applications import review as page_review
from ..applications.models import Application
from ..core.database import utcnow
from .models import ApplicationStep, StepStatus
from .operations import current_step, decider_for, max_round
from .queue import QUEUE_ROLES


@dataclass
class Review:
    """What the application page shows those who review it."""

    step: ApplicationStep | None  # the current step, when this user may decide it
    on_behalf_of: User | None
    steps: list  # the steps of the latest round
    notes: list  # internal notes, oldest first
    now: datetime
    in_queue: bool  # it is in the user's queue (the page links back to it)
    side_template: ClassVar[str] = "approvals/_review_side.html"
    notes_template: ClassVar[str] = "approvals/_review_notes.html"

    @property
    def back(self):
        """The breadcrumb back to the queue, when the application is in it."""
        return (_l("Approvals"), url_for("approvals.queue")) if self.in_queue else None


def review_of(application, user, today: date, now=None) -> Review:
    step = current_step(application)
    allowed, on_behalf = decider_for(user, step, today) if step is not None else (False, None)
    latest = max_round(application)
    return Review(
        step=step if allowed else None,
        on_behalf_of=on_behalf if allowed else None,
        steps=[s for s in application.steps if s.round == latest],
        notes=[e for e in application.events if e.internal and e.action == "note"],
        now=now or utcnow(),
        in_queue=allowed and user.has_role(*QUEUE_ROLES),
    )


def _for_page(application, user) -> Review | None:
    if application.student_id == user.id:
        return None  # the student never sees the review
    now = utcnow()
    return review_of(application, user, now.date(), now)


def _steps_with_people():
    """The application's steps, when the page asks for them (they load in one statement),
    with the people they name (only their names are shown: their roles and units load when
    asked for, not eagerly as User's relationships otherwise do)."""
    names_only = (lazyload(User.role_rows), lazyload(User.memberships))
    return defaultload(Application.steps).options(
        *(
            joinedload(person).options(*names_only)
            for person in (
                ApplicationStep.decided_by,
                ApplicationStep.on_behalf_of,
                ApplicationStep.approver,
            )
        )
    )


def _waiting_step(column):
    """The first waiting step's `column` (in the order of `Application.steps`), a scalar
    subquery of the statement that loads the application: the page's "waiting for" line
    needs no statement of its own."""
    return (
        sa.select(column)
        .where(
            ApplicationStep.application_id == Application.id,
            ApplicationStep.status == StepStatus.WAITING,
        )
        .order_by(ApplicationStep.round, ApplicationStep.position)
        .limit(1)
        .correlate(Application)
        .scalar_subquery()
    )


def _waiting_step_columns():
    return (
        with_expression(
            Application.waiting_step_name, sa.func.coalesce(_waiting_step(ApplicationStep.name), "")
        ),
        with_expression(Application.waiting_step_due, _waiting_step(ApplicationStep.due_at)),
    )


def register() -> None:
    page_review.provide(_for_page, _steps_with_people(), *_waiting_step_columns())
