"""A demo call for `flask --app wsgi seed demo` (never in production): open now, closing in
three weeks, offering the demo agreements that cover its academic year."""

from datetime import timedelta

import sqlalchemy as sa

from ..catalogue.academic import current_academic_year
from ..catalogue.academic import label as year_label
from ..catalogue.demo import PARTNERS
from ..catalogue.models import Agreement, Partner
from ..core.database import utcnow
from ..extensions import db
from . import editing, offerings, scheduling, times
from .models import Call

ZONE = "Asia/Shanghai"
DESCRIPTION = (
    "The main application round for semester and year-long exchanges with our partner "
    "universities. Rank up to three partners in order of preference, upload your transcript "
    "and a language certificate, and submit before the deadline. Your advisor and the "
    "international office review every application; places are allocated by score and "
    "preference after the call closes."
)


def seed_demo_calls(chain, now=None):
    """Create the demo call (reviewed by `chain`) unless it exists. Returns the number of
    calls created."""
    now = now or utcnow()
    year = current_academic_year(now) + 1
    title = f"Exchange programme {year_label(year)}: main call"
    if db.session.scalar(sa.select(Call.id).where(Call.title == title)) is not None:
        return 0
    local = times.utc_to_local(now, ZONE)
    opens = (local - timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    closes = (local + timedelta(days=21)).replace(hour=17, minute=0, second=0, microsecond=0)
    call, _changed = editing.save_call(
        None,
        editing.CallData(
            title=title,
            academic_year=year,
            term="full_year",
            description=DESCRIPTION,
            timezone=ZONE,
            opens_at=opens,
            closes_at=closes,
            decision_at=closes + timedelta(days=14),
            nomination_deadline=closes + timedelta(days=35),
            max_choices=3,
            required_documents=["transcript", "language_certificate"],
            approval_chain_id=chain.id if chain else None,
        ),
        actor=None,
        now=now,
    )
    demo_hosts = [hei for _n, _nn, _c, _city, hei, _l, _a in PARTNERS]
    agreements = db.session.scalars(
        sa.select(Agreement)
        .join(Partner, Partner.id == Agreement.partner_id)
        .where(Partner.hei_id.in_(demo_hosts))
        .order_by(Partner.name_key, Agreement.id)
    ).all()
    rows = [(a.id, None) for a in agreements if offerings.offerable(a, year)]
    if rows:
        offerings.set_offerings(call, rows, actor=None)
        scheduling.schedule_call(call, actor=None, now=now)
    return 1
