"""The international office's list of a call's applications under load: 50,000 applications in
one call (~100 units, ~200 offerings, 1-3 choices and 0-3 documents each, mixed statuses) on
PostgreSQL under gunicorn; requests/s of list pages vs the trivial /livez endpoint of the same
server, and SQL statements per page.

    .venv/bin/python bench/applications_list.py [--database-url URL] [--seconds 15]
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
from seeding import insert, insert_rows, partners_and_agreements, schools, students, transcripts

COORDINATOR = ("bench-coordinator@example.edu", "bench-password-1")
STATUSES = {  # share of applications, in per cent
    "draft": 8,
    "submitted": 22,
    "in_review": 25,
    "returned": 5,
    "approved": 15,
    "rejected": 8,
    "withdrawn": 4,
    "placed": 7,
    "waitlisted": 4,
    "not_placed": 2,
}


def pages(call_id, partner_id):
    base = f"/calls/{call_id}/applications"
    return {
        "list (default)": base,
        "status = in review": f"{base}?status=in_review",
        "partner filter": f"{base}?partner={partner_id}",
        "page 20": f"{base}?page=20",
    }


def seed(app, rng, count):
    """Everything by Core bulk inserts, ids taken back with RETURNING."""
    from exchange.accounts import operations as accounts
    from exchange.accounts.models import Role
    from exchange.applications.models import Application, ApplicationChoice, Document
    from exchange.calls.models import Call, CallOffering
    from exchange.catalogue.models import Agreement
    from exchange.extensions import db

    now = datetime.now(UTC)
    with app.app_context():
        accounts.create_user(
            COORDINATOR[0], "Bench Coordinator", [Role.COORDINATOR], password=COORDINATOR[1]
        )
        db.session.commit()
        unit_ids = schools(100)
        agreement_ids = partners_and_agreements(rng)
        call_id = insert(
            Call,
            [
                {
                    "title": "Exchange 2027/28 (bench)",
                    "academic_year": 2027,
                    "term": "full_year",
                    "timezone": "Asia/Shanghai",
                    "opens_at": now - timedelta(days=40),
                    "closes_at": now - timedelta(days=5),
                    "max_choices": 3,
                    "required_documents": "transcript",
                    "status": "closed",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )[0]
        offering_ids = insert(
            CallOffering,
            [{"call_id": call_id, "agreement_id": a, "places": 3} for a in agreement_ids],
        )
        student_ids = students(rng, count, now)
        # A few partners are much more popular than the rest, as in real calls.
        weights = [1 / (k + 1) ** 0.8 for k in range(len(offering_ids))]
        statuses, shares = zip(*STATUSES.items(), strict=True)
        applications = []
        for uid in student_ids:
            status = rng.choices(statuses, shares)[0]
            submitted = None
            if status != "draft":
                submitted = now - timedelta(days=40) + timedelta(seconds=rng.randint(0, 35 * 86400))
            applications.append(
                {
                    "call_id": call_id,
                    "student_id": uid,
                    "unit_id": rng.choice(unit_ids),
                    "status": status,
                    "statement": "",
                    "gpa": Decimal(rng.randint(200, 400)) / 100,
                    "gpa_scale": Decimal("4"),
                    "submitted_at": submitted,
                    "status_changed_at": submitted or now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        application_ids = insert(Application, applications)
        choices, documents = [], []
        for app_id, row in zip(application_ids, applications, strict=True):
            picked, wanted = [], rng.randint(1, 3)
            while len(picked) < wanted:
                offering = rng.choices(offering_ids, weights)[0]
                if offering not in picked:
                    picked.append(offering)
            choices += [
                {"application_id": app_id, "rank": rank, "offering_id": offering}
                for rank, offering in enumerate(picked, start=1)
            ]
            documents += transcripts(rng, app_id, row["student_id"], now)
        insert_rows(ApplicationChoice, choices)
        insert_rows(Document, documents)
        db.session.commit()
        # The most chosen partner: the heaviest partner filter.
        partner_id = db.session.scalar(
            sa.select(Agreement.partner_id)
            .join(CallOffering, CallOffering.agreement_id == Agreement.id)
            .join(ApplicationChoice, ApplicationChoice.offering_id == CallOffering.id)
            .group_by(Agreement.partner_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return call_id, partner_id, len(application_ids), len(choices), len(documents)


def statements_per_page(app, paths):
    """SQL statements and in-process time of each page right after a write and unchanged (no
    page is kept: each request renders); and the time of the two exports of the whole list."""
    client = test_client_for(app, *COORDINATOR)
    figures = {}
    for label, path in paths.items():
        resp, after, same, after_s, same_s = after_write_and_unchanged(app, client, path)
        assert resp.get_data(as_text=True).count('data-testid="application"') == 50, path
        figures[label] = (f"{after}/{same}", f"{after_s * 1000:.1f}/{same_s * 1000:.1f}")
    for fmt in ("csv", "xlsx"):
        started = time.perf_counter()
        resp = client.get(f"{paths['list (default)']}/export.{fmt}", buffered=False)
        size = sum(len(chunk) for chunk in resp.response)
        resp.close()
        figures[fmt] = (size, time.perf_counter() - started)
    return figures


def main():
    args = page_bench_arguments(__doc__)
    rng = random.Random(20261126)
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url, args.keep) as url,
    ):
        app = make_app(url, tmp)
        started = time.perf_counter()
        call_id, partner_id, *counts = seed(app, rng, args.applications)
        print(
            "seeded {} applications, {} choices, {} documents in one call ({:.0f} s)".format(
                *counts, time.perf_counter() - started
            )
        )
        paths = pages(call_id, partner_id)
        statements = statements_per_page(app, paths)
        for fmt in ("csv", "xlsx"):
            size, seconds = statements.pop(fmt)
            print(f"{fmt.upper()} export of the whole list: {size / 1e6:.1f} MB in {seconds:.1f} s")
        with gunicorn(url, tmp, args.workers) as base:
            cookie = login_cookie(base, *COORDINATOR)
            wrk(base + "/livez", seconds=3)  # warm-up
            trivial = wrk(base + "/livez", cookie, seconds=args.seconds)
            print(
                f"\n{'page':22} {'req/s':>8} {'ratio':>7} {'p50':>9} {'p99':>9} "
                f"{'SQL write/same':>22} {'ms write/same':>16}"
            )
            print(
                f"{'/livez (trivial)':22} {trivial['rps']:8.0f} {'100%':>7} "
                f"{trivial['p50']:>9} {trivial['p99']:>9} {'0':>22}"
            )
            for label, path in paths.items():
                wrk(base + path, cookie, seconds=3)
                r = wrk(base + path, cookie, seconds=args.seconds)
                assert r["errors"] == 0, f"{path}: {r['errors']} error responses"
                count, elapsed = statements[label]
                print(
                    f"{label:22} {r['rps']:8.0f} {r['rps'] / trivial['rps']:7.0%} "
                    f"{r['p50']:>9} {r['p99']:>9} {count:>22} {elapsed:>16}"
                )


if __name__ == "__main__":
    main()
