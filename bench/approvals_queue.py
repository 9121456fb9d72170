"""The approver's queue under load: 50,000 applications with three approval steps each
(150,000 steps: the unit's advisor, the unit's dean, the international office; ~half of them
still in review) in 100 units, on PostgreSQL under gunicorn. Requests/s of the queue page of
an advisor of one unit and of a coordinator vs the trivial /livez endpoint of the same server
(and, for scale, the small /home page), and SQL statements and in-process time per page, served
as a kept page and rendered.

    .venv/bin/python bench/approvals_queue.py [--database-url URL] [--seconds 15]
"""

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from common import (
    after_write_and_unchanged,
    gunicorn,
    login_cookie,
    make_app,
    page_bench_arguments,
    scratch_database,
    test_client_for,
    wrk,
)
from seeding import (
    approval_chain,
    approval_steps,
    insert,
    insert_rows,
    partners_and_agreements,
    schools,
    students,
    transcripts,
)

ADVISOR = ("bench-advisor@example.edu", "bench-password-1")
COORDINATOR = ("bench-coordinator@example.edu", "bench-password-1")
UNITS = 100
# Share of applications in each state, in per cent; "waiting" ones wait on step 1, 2 or 3.
STATES = {"waiting": 52, "approved": 20, "rejected": 10, "returned": 8, "withdrawn": 10}
WAITING_AT = {1: 45, 2: 30, 3: 25}


def pages():
    return {
        ADVISOR: {
            # For scale: a small page every logged-in user sees (no queue on it).
            "advisor: /home (reference)": "/home",
            "advisor: queue": "/approvals/",
            "advisor: by due date": "/approvals/?sort=due",
        },
        COORDINATOR: {
            "office: queue": "/approvals/",
            "office: by due date": "/approvals/?sort=due",
            "office: by name": "/approvals/?sort=name",
            "office: overdue, page 5": "/approvals/?overdue=1&page=5",
        },
    }


def seed(app, rng, count):
    """Everything by Core bulk inserts, ids taken back with RETURNING."""
    from exchange.accounts import operations as accounts
    from exchange.accounts.models import Role, Unit, UnitFunction, UnitMembership, User
    from exchange.applications.models import (
        Application,
        ApplicationChoice,
        ApplicationLanguage,
        Document,
    )
    from exchange.approvals.models import ApplicationStep, StepStatus
    from exchange.calls.models import Call, CallOffering
    from exchange.chains.models import ApproverRule
    from exchange.extensions import db

    now = datetime.now(UTC)
    with app.app_context():
        unit_ids = schools(UNITS)
        units = db.session.scalars(sa.select(Unit).order_by(Unit.id)).all()
        advisor = accounts.create_user(
            ADVISOR[0], "Bench Advisor", [Role.ADVISOR], password=ADVISOR[1], units=[units[7]]
        )
        office = accounts.create_user(
            COORDINATOR[0], "Bench Coordinator", [Role.COORDINATOR], password=COORDINATOR[1]
        )
        # The other approvers: an advisor and a dean per unit (no password: never log in).
        staff = insert(
            User,
            [
                {
                    "email": f"{kind}{i}@example.edu",
                    "email_key": f"{kind}{i}@example.edu",
                    "name": f"{kind.title()} {i}",
                    "active": True,
                    "created_at": now,
                }
                for i in range(UNITS)
                for kind in ("advisor", "dean")
            ],
        )
        insert_rows(
            UnitMembership,
            [
                {"user_id": uid, "unit_id": unit_ids[k // 2], "function": fn}
                for k, uid in enumerate(staff)
                for fn in [UnitFunction.ADVISOR if k % 2 == 0 else UnitFunction.DEAN]
            ],
        )
        db.session.commit()
        advisors = {unit_ids[k // 2]: uid for k, uid in enumerate(staff) if k % 2 == 0}
        advisors[units[7].id] = advisor.id
        deans = {unit_ids[k // 2]: uid for k, uid in enumerate(staff) if k % 2 == 1}
        chain_id = approval_chain(now)
        agreement_ids = partners_and_agreements(rng)
        call_ids = insert(
            Call,
            [
                {
                    "title": f"Exchange 2027/28, {term} (bench)",
                    "academic_year": 2027,
                    "term": term,
                    "timezone": "Asia/Shanghai",
                    "opens_at": now - timedelta(days=40),
                    "closes_at": now - timedelta(days=5),
                    "max_choices": 3,
                    "required_documents": "transcript",
                    "status": "closed",
                    "approval_chain_id": chain_id,
                    "created_at": now,
                    "updated_at": now,
                }
                for term in ("autumn", "spring")
            ],
        )
        offerings = {
            call_id: insert(
                CallOffering,
                [{"call_id": call_id, "agreement_id": a, "places": 3} for a in agreement_ids],
            )
            for call_id in call_ids
        }
        student_ids = students(rng, count, now)
        applications = []
        for uid in student_ids:
            call_id = rng.choice(call_ids)
            applications.append(
                {
                    "call_id": call_id,
                    "student_id": uid,
                    "unit_id": rng.choice(unit_ids),
                    "status": "submitted",  # set below, with the steps
                    "statement": "",
                    "gpa": Decimal(rng.randint(200, 400)) / 100,
                    "gpa_scale": Decimal("4"),
                    "submitted_at": now - timedelta(seconds=rng.randint(0, 35 * 86400)),
                    "status_changed_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        states, shares = zip(*STATES.items(), strict=True)
        steps = []
        for row in applications:
            state = rng.choices(states, shares)[0]
            unit = row["unit_id"]
            deciders = [advisors[unit], deans[unit], office.id]
            own, row["status"] = approval_steps(rng, state, row["submitted_at"], deciders, now)
            steps += [dict(s, chain_id=chain_id, chain_version=1, unit_id=unit) for s in own]
        application_ids = insert(Application, applications)
        choices, languages, documents = [], [], []
        weights = [1 / (k + 1) ** 0.8 for k in range(len(agreement_ids))]
        for app_id, row in zip(application_ids, applications, strict=True):
            picked = []
            while len(picked) < rng.randint(1, 3):
                offering = rng.choices(offerings[row["call_id"]], weights)[0]
                if offering not in picked:
                    picked.append(offering)
            choices += [
                {"application_id": app_id, "rank": rank, "offering_id": offering}
                for rank, offering in enumerate(picked, start=1)
            ]
            for code in rng.sample(["en", "de", "fr", "ja"], rng.randint(1, 2)):
                languages.append(
                    {
                        "application_id": app_id,
                        "language": code,
                        "level": rng.choice(["B1", "B2", "C1"]),
                        "test_name": "",
                    }
                )
            documents += transcripts(rng, app_id, row["student_id"], now)
        for k, step in enumerate(steps):
            step["application_id"] = application_ids[k // 3]
        insert_rows(ApplicationChoice, choices)
        insert_rows(ApplicationLanguage, languages)
        insert_rows(Document, documents)
        insert_rows(ApplicationStep, steps)
        db.session.commit()
        waiting = dict(
            db.session.execute(
                sa.select(ApplicationStep.rule, sa.func.count())
                .where(ApplicationStep.status == StepStatus.WAITING)
                .group_by(ApplicationStep.rule)
            ).all()
        )
        mine = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ApplicationStep)
            .where(
                ApplicationStep.status == StepStatus.WAITING,
                ApplicationStep.rule == ApproverRule.UNIT_ADVISOR,
                ApplicationStep.unit_id == units[7].id,
            )
        )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return len(application_ids), len(steps), waiting, mine


def statements_per_page(app, user, paths):
    """Per page: the SQL statements and the in-process time of one request in the test
    client, right after a write and unchanged (no page is kept: each request renders)."""
    client = test_client_for(app, *user)
    counts = {}
    for label, path in paths.items():
        resp, after, same, after_s, same_s = after_write_and_unchanged(app, client, path)
        rows = resp.get_data(as_text=True).count('data-testid="queue-row"')
        counts[label] = (f"{after}/{same}", f"{after_s * 1000:.1f}/{same_s * 1000:.1f}", rows)
    return counts


def main():
    args = page_bench_arguments(__doc__)
    rng = random.Random(20261126)
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url, args.keep) as url,
    ):
        app = make_app(url, tmp)
        started = time.perf_counter()
        applications, steps, waiting, mine = seed(app, rng, args.applications)
        print(
            f"seeded {applications} applications, {steps} steps in {UNITS} units "
            f"({time.perf_counter() - started:.0f} s); waiting: "
            + ", ".join(f"{rule.value} {n}" for rule, n in sorted(waiting.items(), key=str))
            + f"; the advisor's unit: {mine}"
        )
        statements = {}
        for user, paths in pages().items():
            statements.update(statements_per_page(app, user, paths))
        with gunicorn(url, tmp, args.workers) as base:
            wrk(base + "/livez", seconds=3)  # warm-up
            trivial = wrk(base + "/livez", seconds=args.seconds)
            print(
                f"\n{'page':26} {'req/s':>8} {'ratio':>7} {'p50':>9} {'p99':>9} "
                f"{'SQL write/same':>17} {'rows':>5} {'ms write/same':>16}"
            )
            print(
                f"{'/livez (trivial)':26} {trivial['rps']:8.0f} {'100%':>7} "
                f"{trivial['p50']:>9} {trivial['p99']:>9} {0:>17}"
            )
            for user, paths in pages().items():
                cookie = login_cookie(base, *user)
                for label, path in paths.items():
                    wrk(base + path, cookie, seconds=3)
                    r = wrk(base + path, cookie, seconds=args.seconds)
                    assert r["errors"] == 0, f"{path}: {r['errors']} error responses"
                    count, elapsed, rows = statements[label]
                    print(
                        f"{label:26} {r['rps']:8.0f} {r['rps'] / trivial['rps']:7.0%} "
                        f"{r['p50']:>9} {r['p99']:>9} {count:>17} {rows:>5} {elapsed:>16}"
                    )


if __name__ == "__main__":
    main()
