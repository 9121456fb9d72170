"""Read models of calls, each loaded in a fixed number of statements whatever the number of
calls, offerings or applications."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from ..catalogue import hooks as catalogue_hooks
from ..catalogue import reference
from ..catalogue.models import Agreement, AgreementStatus, Partner
from ..chains import hooks as chain_hooks
from ..core import audit
from ..core.search import contains
from ..extensions import db
from . import hooks
from .models import Call, CallOffering, CallStatus


@dataclass
class CallRow:
    call: Call
    offerings: int = 0
    places: int = 0
    applications: dict = field(default_factory=dict)  # status -> count, in life-cycle order

    @property
    def application_total(self):
        return sum(self.applications.values())

    @property
    def application_items(self):
        return self.applications.items()


def offered_in_open_call_clause(now):
    """Agreements with places in a call that accepts applications at `now` (the catalogue's
    "offered in an open call" filter)."""
    return sa.exists().where(
        CallOffering.agreement_id == Agreement.id,
        CallOffering.places > 0,
        Call.id == CallOffering.call_id,
        Call.status.in_([CallStatus.SCHEDULED, CallStatus.OPEN]),
        Call.opens_at <= now,
        Call.closes_at > now,
    )


def calls_per_chain():
    """{chain id: number of calls naming it}."""
    return dict(
        db.session.execute(
            sa.select(Call.approval_chain_id, sa.func.count())
            .where(Call.approval_chain_id.is_not(None))
            .group_by(Call.approval_chain_id)
        ).all()
    )


def calls_naming(chain_id):
    """The calls that name the chain, the latest to open first."""
    return db.session.scalars(
        sa.select(Call).where(Call.approval_chain_id == chain_id).order_by(Call.opens_at.desc())
    ).all()


def init_app(app):
    catalogue_hooks.offered_in_open_call.provide(offered_in_open_call_clause)
    chain_hooks.call_counts.provide(calls_per_chain)
    chain_hooks.calls_naming.provide(calls_naming)


def staff_index():
    """Every call, newest academic year first, with its number of offerings and places and its
    applications per status: three statements."""
    calls = db.session.scalars(
        sa.select(Call).order_by(Call.academic_year.desc(), Call.opens_at.desc(), Call.id.desc())
    ).all()
    rows = {c.id: CallRow(c) for c in calls}
    if not rows:
        return []
    for call_id, count, places in db.session.execute(
        sa.select(
            CallOffering.call_id,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(CallOffering.places), 0),
        ).group_by(CallOffering.call_id)
    ):
        if call_id in rows:
            rows[call_id].offerings, rows[call_id].places = count, places
    for call_id, counts in hooks.status_counts(list(rows)).items():
        rows[call_id].applications = counts
    return list(rows.values())


def open_calls(now, student_id=None):
    """Calls that accept applications at `now`, soonest deadline first, with their number of
    offerings and, for a student, their application in each: three statements."""
    calls = db.session.scalars(
        sa.select(Call)
        .where(
            Call.status.in_([CallStatus.SCHEDULED, CallStatus.OPEN]),
            Call.opens_at <= now,
            Call.closes_at > now,
        )
        .order_by(Call.closes_at, Call.id)
    ).all()
    rows = {c.id: CallRow(c) for c in calls}
    mine = {}
    if rows:
        for call_id, count, places in db.session.execute(
            sa.select(
                CallOffering.call_id,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(CallOffering.places), 0),
            )
            .where(CallOffering.call_id.in_(list(rows)))
            .group_by(CallOffering.call_id)
        ):
            rows[call_id].offerings, rows[call_id].places = count, places
        if student_id is not None:
            mine = hooks.applications_of(student_id, list(rows))
    return list(rows.values()), mine


def call_page(call_id, *, staff, student_id=None):
    """The call with its offerings (agreement, partner, units); for a student, their
    application; for staff, applications per status and the call's history. None when the
    user may not see the call."""
    call = db.session.scalar(
        sa.select(Call)
        .where(Call.id == call_id)
        .options(
            selectinload(Call.offerings)
            .joinedload(CallOffering.agreement)
            .options(joinedload(Agreement.partner), selectinload(Agreement.units))
        )
    )
    if call is None or (not staff and call.status is CallStatus.DRAFT):
        return None
    offerings = sorted(
        call.offerings, key=lambda o: (o.agreement.partner.name.lower(), o.agreement.id)
    )
    page = {"call": call, "offerings": offerings, "application": None}
    if student_id is not None:
        page["application"] = hooks.applications_of(student_id, [call.id]).get(call.id)
    if staff:
        page["applications"] = hooks.status_counts([call.id]).get(call.id, {})
        page["history"] = audit.history(call, limit=30)
    return page


@dataclass
class Candidate:
    agreement: Agreement
    offering: CallOffering | None
    offerable: bool
    chosen: int = 0


def offering_candidates(call, *, q="", country=""):
    """The agreements the coordinator can offer in `call` (active and covering its year) and
    those it offers already, filtered by partner name or country: three statements."""
    offered = {
        o.agreement_id: o
        for o in db.session.scalars(sa.select(CallOffering).where(CallOffering.call_id == call.id))
    }
    eligible = sa.and_(
        Agreement.status == AgreementStatus.ACTIVE,
        Agreement.first_academic_year <= call.academic_year,
        Agreement.last_academic_year >= call.academic_year,
    )
    conditions = [sa.or_(eligible, Agreement.id.in_(list(offered)))]
    if q:
        code = reference.normalise_country(q)
        matches = [contains(Partner.search_text, q)]
        if code:
            matches.append(Partner.country == code)
        conditions.append(sa.or_(*matches))
    if country:
        conditions.append(Partner.country == country)
    agreements = db.session.scalars(
        sa.select(Agreement)
        .join(Partner, Partner.id == Agreement.partner_id)
        .where(*conditions)
        .options(joinedload(Agreement.partner))
        .order_by(Partner.name_key, Agreement.type, Agreement.id)
    ).all()
    chosen = hooks.times_chosen([o.id for o in offered.values()])
    year = call.academic_year
    return [
        Candidate(
            agreement=a,
            offering=offered.get(a.id),
            offerable=a.status is AgreementStatus.ACTIVE and a.covers(year),
            chosen=chosen.get(offered[a.id].id, 0) if a.id in offered else 0,
        )
        for a in agreements
    ], len(offered)


def candidate_countries(call):
    """Countries of partners with an agreement that the call could offer, for the filter."""
    codes = db.session.scalars(
        sa.select(Partner.country)
        .join(Agreement, Agreement.partner_id == Partner.id)
        .where(
            Agreement.status == AgreementStatus.ACTIVE,
            Agreement.first_academic_year <= call.academic_year,
            Agreement.last_academic_year >= call.academic_year,
        )
        .distinct()
    ).all()
    return sorted(((c, reference.country_name(c)) for c in codes), key=lambda x: x[1])
