"""What the publication pages show: the office's page (the publication and its objections),
the student's part of their result page, and the masked ranked list for the applicants, each
in a fixed number of statements. The masked list reads only the columns it shows."""

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..accounts.models import StudentProfile, User
from ..applications.models import Application
from ..calls.models import Call, CallOffering
from ..catalogue.models import Agreement, Partner
from ..extensions import db
from .models import AllocationOutcome, Objection, ObjectionStatus, Publication
from .publication import last_committed_run, objection_of, outcome_in, publication_of

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def masked_name(name: str | None) -> str:
    """ "Li Wei" -> "Li W.": the first name as written and the initial of the last; one word
    -> its initial; a name in Chinese (or Japanese, Korean) characters keeps its first
    character, the family name, and masks the rest ("王小明" -> "王**")."""
    words = (name or "").replace(",", " ").split()
    if not words:
        return "—"
    if CJK.search(words[0]):
        joined = "".join(words)
        return joined[0] + "*" * max(len(joined) - 1, 1)
    if len(words) == 1:
        return words[0][0].upper() + "."
    return f"{words[0]} {words[-1][0].upper()}."


def masked_number(number: str | None) -> str:
    """ "2023010001" -> "2023****01": the middle of a student number masked (at least half of
    a short one)."""
    number = (number or "").strip()
    if not number:
        return "—"
    if len(number) >= 8:
        return number[:4] + "****" + number[-2:]
    keep = len(number) // 4
    return number[:keep] + "*" * (len(number) - 2 * keep) + (number[-keep:] if keep else "")


# --- the office -------------------------------------------------------------------------------


@dataclass
class ObjectionRow:
    objection: Objection
    student: str
    rank: int | None
    outcome: str | None
    answered_by: str | None


def office_page(call: Call, now: datetime) -> dict:
    publication = publication_of(call.id)
    page: dict = {"call": call, "publication": publication, "now": now, "objections": []}
    if publication is None:
        page["run"] = last_committed_run(call.id)
        return page
    answerer = sa.orm.aliased(User)
    rows = db.session.execute(
        sa.select(Objection, User.name, AllocationOutcome.rank, AllocationOutcome.outcome)
        .add_columns(answerer.name)
        .join(Application, Application.id == Objection.application_id)
        .join(User, User.id == Application.student_id)
        .outerjoin(
            AllocationOutcome,
            sa.and_(
                AllocationOutcome.application_id == Objection.application_id,
                AllocationOutcome.run_id == publication.run_id,
            ),
        )
        .outerjoin(answerer, answerer.id == Objection.answered_by_id)
        .where(Objection.publication_id == publication.id)
        .order_by(Objection.status != ObjectionStatus.OPEN, Objection.filed_at, Objection.id)
    ).all()
    page["objections"] = [
        ObjectionRow(o, name, rank, getattr(outcome, "value", None), by)
        for o, name, rank, outcome, by in rows
    ]
    page["open_count"] = sum(r.objection.status is ObjectionStatus.OPEN for r in page["objections"])
    return page


# --- the student ------------------------------------------------------------------------------


def student_part(application: Application, now: datetime) -> dict | None:
    """The publication as the student's result page shows it: whether it is final, the window,
    their objection and whether they may still file one. None before publication."""
    publication = publication_of(application.call_id)
    if publication is None or outcome_in(publication, application.id) is None:
        return None
    objection = objection_of(publication, application.id)
    return {
        "publication": publication,
        "final": publication.is_final(now),
        "objection": objection,
        "may_object": objection is None and publication.window_open(now),
    }


@dataclass
class ListRow:
    rank: int
    name: str
    number: str
    score: float
    outcome: str
    offering: str | None
    mine: bool


def may_see_list(publication: Publication | None, user: User, staff: bool) -> bool:
    """The office always; an applicant of the published run once the office shows the list."""
    if publication is None:
        return False
    if staff:
        return True
    if not publication.list_shown:
        return False
    return (
        db.session.scalar(
            sa.select(AllocationOutcome.id)
            .join(Application, Application.id == AllocationOutcome.application_id)
            .where(
                AllocationOutcome.run_id == publication.run_id, Application.student_id == user.id
            )
            .limit(1)
        )
        is not None
    )


def masked_list(publication: Publication, viewer_id: int) -> list[ListRow]:
    """The published ranked list, masked: only the name, student number, score, outcome and
    place leave the database, and the first two are masked here."""
    rows = db.session.execute(
        sa.select(
            AllocationOutcome.rank,
            User.name,
            StudentProfile.student_number,
            AllocationOutcome.score,
            AllocationOutcome.outcome,
            Partner.name,
            Application.student_id,
        )
        .join(Application, Application.id == AllocationOutcome.application_id)
        .join(User, User.id == Application.student_id)
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .outerjoin(CallOffering, CallOffering.id == AllocationOutcome.offering_id)
        .outerjoin(Agreement, Agreement.id == CallOffering.agreement_id)
        .outerjoin(Partner, Partner.id == Agreement.partner_id)
        .where(AllocationOutcome.run_id == publication.run_id)
        .order_by(AllocationOutcome.rank)
    ).all()
    return [
        ListRow(
            rank,
            masked_name(name),
            masked_number(number),
            float(score),
            outcome.value,
            partner,
            student_id == viewer_id,
        )
        for rank, name, number, score, outcome, partner, student_id in rows
    ]
