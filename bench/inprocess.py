"""Key pages in-process against their minimal references (issue 14, item 2's measuring stick).

Seeds PostgreSQL (the approvals benchmark's data: 50,000 applications with three approval steps
each in two closed calls, 100 units, 150 partners; plus an open call, a student with a draft
and a submitted application, and agreements with varied requirements), then measures every key
page in the Flask test client, logged in, with no page cache (PAGE_CACHE_MB=0): wall time
(median and p90), CPU time of this process, and SQL statements per request, once "unchanged"
(the same request repeated) and once "after a write" (a committed write through the session
before each request: an edit of an application of the same call, or of a catalogue
agreement). Next to each page its minimal reference (bench/reference/: a bare Flask app with
SQLAlchemy Core SELECTs and plain Jinja) is measured the same way in the same run.

    .venv/bin/python bench/inprocess.py [--applications 50000] [--requests 30] [--database-url URL]
        [--keep] [--reuse KEPT_DATABASE] [--only LABEL_PART]
"""

import argparse
import gc
import os
import random
import re
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from approvals_queue import ADVISOR, COORDINATOR
from approvals_queue import seed as seed_casework
from common import DEFAULT_URL, _cpu_seconds, make_app, scratch_database, test_client_for
from seeding import insert

STUDENT = ("bench-student@example.edu", "bench-password-1")
RATIO, MAX_STATEMENTS = 2.0, 6
# What the application page lists: its choices, the offerings to choose from, documents, timeline.
PARTS = r'data-testid="(choice|offering|document|timeline-entry)"'
# The numbers every page and its reference show alike: badges and result counts.
COUNTS = r'data-testid="(?:result-count|queue-count|approvals-waiting|unread-count)">\s*(\d+)'


@dataclass
class Page:
    label: str
    user: tuple
    path: str
    reference: str
    write: str  # "casework" or "catalogue": what is written before each request
    same: str | None = None  # a pattern of the ids shown, to compare page and reference


def seed_student(app, rng):
    """A student with a profile, a submitted application under review in a closed call, a
    draft in an open call; requirements on some agreements; contacts of a partner. Returns
    the ids the pages need."""
    from exchange.accounts import operations as accounts
    from exchange.accounts.models import (
        CEFR,
        DegreeLevel,
        LanguageResult,
        Role,
        StudentProfile,
        Unit,
    )
    from exchange.applications.models import Application, ApplicationChoice, ApplicationLanguage
    from exchange.approvals.models import ApplicationStep, StepStatus
    from exchange.calls.models import Call, CallOffering
    from exchange.catalogue.models import Agreement, PartnerContact, agreement_units
    from exchange.extensions import db

    now = datetime.now(UTC)
    with app.app_context():
        units = db.session.scalars(sa.select(Unit).order_by(Unit.id)).all()
        student = accounts.create_user(
            STUDENT[0], "Bench Student", [Role.STUDENT], password=STUDENT[1], units=[units[7]]
        )
        student.profile = StudentProfile(
            student_number="B0000001",
            degree_level=DegreeLevel.BACHELOR,
            programme="Physics",
            gpa=Decimal("3.4"),
            gpa_scale=Decimal("4"),
            language_results=[LanguageResult(language="en", level=CEFR.C1, test_name="IELTS")],
        )
        db.session.commit()
        # Requirements that some agreements fail for this student.
        agreement_ids = db.session.scalars(sa.select(Agreement.id).order_by(Agreement.id)).all()
        for k, aid in enumerate(agreement_ids):
            changes = {}
            if k % 3 == 0:
                changes.update(min_gpa=Decimal("3.6"))
            if k % 5 == 0:
                changes.update(language="de", language_level="B2", language_rank=4)
            if k % 7 == 0:
                changes.update(all_units=False)
                db.session.execute(
                    sa.insert(agreement_units), {"agreement_id": aid, "unit_id": units[k % 5].id}
                )
            if changes:
                db.session.execute(
                    sa.update(Agreement).where(Agreement.id == aid).values(**changes)
                )
        # The student takes over an application under review in the advisor's unit.
        submitted = db.session.scalar(
            sa.select(Application.id)
            .join(ApplicationStep, ApplicationStep.application_id == Application.id)
            .where(Application.unit_id == units[7].id, ApplicationStep.status == StepStatus.WAITING)
            .order_by(Application.id)
            .limit(1)
        )
        db.session.execute(
            sa.update(Application).where(Application.id == submitted).values(student_id=student.id)
        )
        chain_id = db.session.scalar(sa.text("SELECT min(id) FROM approval_chains"))
        open_call = insert(
            Call,
            [
                {
                    "title": "Exchange 2028/29 (bench, open)",
                    "academic_year": 2028,
                    "term": "full_year",
                    "timezone": "Asia/Shanghai",
                    "opens_at": now - timedelta(days=3),
                    "closes_at": now + timedelta(days=30),
                    "max_choices": 3,
                    "required_documents": "transcript",
                    "status": "open",
                    "approval_chain_id": chain_id,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )[0]
        offerings = insert(
            CallOffering,
            [{"call_id": open_call, "agreement_id": a, "places": 2} for a in agreement_ids],
        )
        draft = insert(
            Application,
            [
                {
                    "call_id": open_call,
                    "student_id": student.id,
                    "unit_id": units[7].id,
                    "status": "draft",
                    "statement": "Why I want to go.",
                    "gpa": Decimal("3.4"),
                    "gpa_scale": Decimal("4"),
                    "status_changed_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )[0]
        db.session.execute(
            sa.insert(ApplicationChoice),
            [
                {"application_id": draft, "rank": r, "offering_id": o}
                for r, o in enumerate(rng.sample(offerings, 2), start=1)
            ],
        )
        db.session.execute(
            sa.insert(ApplicationLanguage),
            {"application_id": draft, "language": "en", "level": "C1", "test_name": "IELTS"},
        )
        db.session.commit()
        partner = find_ids(app)["partner"]
        db.session.execute(
            sa.insert(PartnerContact),
            [
                {"partner_id": partner, "name": f"Contact {k}", "email": f"c{k}@partner.example"}
                for k in range(2)
            ],
        )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return find_ids(app)


def find_ids(app):
    """The ids the pages need, read from the seeded data (also of a kept database)."""
    from exchange.accounts.models import User
    from exchange.applications.models import Application, ApplicationChoice
    from exchange.calls.models import CallOffering
    from exchange.catalogue.models import Agreement
    from exchange.extensions import db

    with app.app_context():
        student = db.session.scalar(sa.select(User.id).where(User.email_key == STUDENT[0]))
        mine = dict(
            db.session.execute(
                sa.select(Application.status, Application.id).where(
                    Application.student_id == student
                )
            ).all()
        )
        big_call, partner = db.session.execute(
            sa.select(Application.call_id, Agreement.partner_id)
            .join(ApplicationChoice, ApplicationChoice.application_id == Application.id)
            .join(CallOffering, CallOffering.id == ApplicationChoice.offering_id)
            .join(Agreement, Agreement.id == CallOffering.agreement_id)
            .group_by(Application.call_id, Agreement.partner_id)
            .order_by(sa.func.count().desc(), Application.call_id, Agreement.partner_id)
            .limit(1)
        ).one()
        # What the writes touch: an application of the big call that is nobody's page, and
        # an agreement of a partner on the catalogue's first page.
        edited = db.session.scalar(
            sa.select(sa.func.max(Application.id)).where(Application.call_id == big_call)
        )
        draft = next(i for status, i in mine.items() if status.value == "draft")
        return {
            "student": student,
            "call": big_call,
            "partner": partner,
            "draft": draft,
            "submitted": next(i for i in mine.values() if i != draft),
            "edited": edited,
            "agreement": db.session.scalar(sa.select(sa.func.min(Agreement.id))),
        }


def pages(app, ids):
    """The key pages, their URLs taken from the app's routes."""
    from flask import url_for

    with app.test_request_context():
        office = url_for("application_lists.index", call_id=ids["call"])
        queue = url_for("approvals.queue")
        catalogue = url_for("catalogue.index")
        partner = url_for("catalogue.partner", partner_id=ids["partner"])
        home = url_for("main.home")
        draft = url_for("applications.detail", application_id=ids["draft"])
        submitted = url_for("applications.detail", application_id=ids["submitted"])
    rows = r'data-testid="application" data-id="(\d+)"'
    steps = r'data-testid="queue-row" data-step="(\d+)"'
    # Each partner card's first link is to the partner's page.
    partners = r'data-testid="partner"[\s\S]*?/partners/(\d+)"'
    ref_office = f"/office/{ids['call']}"
    found = []
    for label, query in [
        ("default", ""),
        ("status in review", "?status=in_review"),
        ("partner filter", f"?partner={ids['partner']}"),
        ("search 'zhang'", "?q=zhang"),
        ("page 20", "?page=20"),
    ]:
        found.append(
            Page(
                f"office list: {label}",
                COORDINATOR,
                office + query,
                ref_office + query,
                "casework",
                rows,
            )
        )
    for who, user in (("advisor", ADVISOR), ("office", COORDINATOR)):
        for sort in ("waiting", "due", "name"):
            query = "" if sort == "waiting" else f"?sort={sort}"
            found.append(
                Page(
                    f"{who} queue: {sort}", user, queue + query, "/queue" + query, "casework", steps
                )
            )
    for label, query in [
        ("default", ""),
        ("search", "?q=university+01"),
        ("eligible", "?eligible=1"),
    ]:
        found.append(
            Page(
                f"catalogue: {label}",
                STUDENT,
                catalogue + query,
                "/catalogue" + query,
                "catalogue",
                partners,
            )
        )
    found += [
        Page(
            "partner page",
            STUDENT,
            partner,
            f"/partners/{ids['partner']}",
            "catalogue",
            r'data-testid="agreement"()',
        ),
        Page("student home", STUDENT, home, "/home", "casework", r'data-testid="my-application"()'),
        Page(
            "application: draft",
            STUDENT,
            draft,
            f"/applications/{ids['draft']}",
            "casework",
            PARTS,
        ),
        Page(
            "application: submitted",
            STUDENT,
            submitted,
            f"/applications/{ids['submitted']}",
            "casework",
            PARTS,
        ),
    ]
    return found


class Counter:
    """SQL statements sent on an engine since the last reset."""

    def __init__(self, engine):
        self.n = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args, **_kwargs):
        self.n += 1


def writer(app, ids):
    """A committed write through the application's session: an edit of an application of the
    office's call (or, for the student's pages, of the student's draft), or of an agreement."""
    from exchange.applications.models import Application
    from exchange.catalogue.models import Agreement
    from exchange.extensions import db

    turn = [0]

    def write(kind, student=False):
        turn[0] += 1
        with app.app_context():
            if kind == "catalogue":
                agreement = db.session.get(Agreement, ids["agreement"])
                agreement.places_per_year = 2 + turn[0] % 2
            else:
                application = db.session.get(Application, ids["draft" if student else "edited"])
                application.statement = f"Edited {turn[0]}"
            db.session.commit()

    return write


class Backends:
    """The CPU time of the PostgreSQL backends serving the scratch database (from /proc: the
    server runs on this machine), which the process's own CPU time leaves out."""

    def __init__(self, url):
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.pids = []

    def refresh(self):
        with self.engine.connect() as conn:
            self.pids = conn.scalars(
                sa.text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()

    def seconds(self):
        return sum(_cpu_seconds(pid) for pid in self.pids)


def measure(client, path, counter, backends, n, before=None):
    walls, counts, html = [], [], ""
    for _ in range(2):  # warm-up: templates compiled, connections in the pool
        client.get(path)
    backends.refresh()
    cpu = 0.0  # this process and the database's backends, during the requests only
    for _ in range(n):
        if before:
            before()
        counter.n = 0
        started = time.process_time() + backends.seconds()
        wall = time.perf_counter()
        resp = client.get(path)
        walls.append(time.perf_counter() - wall)
        cpu += time.process_time() + backends.seconds() - started
        counts.append(counter.n)
        assert resp.status_code == 200, (path, resp.status_code)
        html = resp.get_data(as_text=True)
    walls.sort()
    return {
        "ms": statistics.median(walls) * 1000,
        "p90": walls[min(len(walls) - 1, int(len(walls) * 0.9))] * 1000,
        # A mean: the backends' CPU time comes in clock ticks (10 ms), too coarse per request.
        "cpu": cpu / n * 1000,
        "sql": sorted(set(counts)),
        "html": html,
    }


def _ids(pattern, html):
    return re.findall(pattern, html)


def run(app, ref_app, ref_engine, backends, ids, n, only=None):
    from exchange.extensions import db

    with app.app_context():
        counter = Counter(db.engine)
    ref_counter = Counter(ref_engine)
    write = writer(app, ids)
    clients, ref_clients = {}, {}
    uids = {}
    with app.app_context():
        from exchange.accounts.models import User

        for user in (ADVISOR, COORDINATOR, STUDENT):
            uids[user] = db.session.scalar(sa.select(User.id).where(User.email_key == user[0]))
    results = []
    for page in pages(app, ids):
        if only and only not in page.label:
            continue
        if page.user not in clients:
            clients[page.user] = test_client_for(app, *page.user)
            ref_clients[page.user] = ref_app.test_client()
            with ref_clients[page.user].session_transaction() as session:
                session["uid"] = uids[page.user]
        student = page.user is STUDENT

        def before(page=page, student=student):
            write(page.write, student)

        figures = {}
        for name, client, path, count in (
            ("page", clients[page.user], page.path, counter),
            ("ref", ref_clients[page.user], page.reference, ref_counter),
        ):
            figures[name] = (
                measure(client, path, count, backends, n),
                measure(client, path, count, backends, n, before),
            )
        html, ref_html = figures["page"][0]["html"], figures["ref"][0]["html"]
        same = "-"
        if page.same:
            shown, expected = _ids(page.same, html), _ids(page.same, ref_html)
            same = (
                f"yes ({len(shown)})" if shown == expected else f"NO {len(shown)}/{len(expected)}"
            )
        if _ids(COUNTS, html) != _ids(COUNTS, ref_html):
            same = f"NO {_ids(COUNTS, html)}/{_ids(COUNTS, ref_html)}"
        results.append((page, figures, same))
        print_row(page, figures, same)
    return results


HEADER = (
    f"{'page':30} {'SQL u/w':>7} {'ms write':>13} {'ms unchanged':>13} {'cpu w/u':>9} "
    f"{'ref SQL':>7} {'ref write':>9} {'ref unch':>8} {'ref cpu':>7} {'ratio':>5} {'cpu ratio':>9} "
    f"{'same rows':>10} ok"
)


def _counts(figures):
    """The statement counts seen, e.g. "3" or "3-4" when they varied."""
    low, high = min(figures["sql"]), max(figures["sql"])
    return str(low) if low == high else f"{low}-{high}"


def _judge(figures):
    (unchanged, written), (ref_unchanged, ref_written) = figures["page"], figures["ref"]
    counts = sorted(set(unchanged["sql"]) | set(written["sql"]))
    ratio = max(written["ms"] / ref_written["ms"], unchanged["ms"] / ref_unchanged["ms"])
    return ratio, ratio <= RATIO and len(counts) == 1 and counts[0] <= MAX_STATEMENTS


def passes(figures):
    return _judge(figures)[1]


def print_row(page, figures, same):
    (unchanged, written), (ref_unchanged, ref_written) = figures["page"], figures["ref"]
    ratio, ok = _judge(figures)
    sql = f"{_counts(unchanged)}/{_counts(written)}"
    ref_sql = f"{_counts(ref_unchanged)}/{_counts(ref_written)}"
    cpu = f"{written['cpu']:.0f}/{unchanged['cpu']:.0f}"
    ref_cpu = f"{ref_written['cpu']:.0f}/{ref_unchanged['cpu']:.0f}"
    cpu_ratio = max(written["cpu"] / ref_written["cpu"], unchanged["cpu"] / ref_unchanged["cpu"])
    print(
        f"{page.label:30} {sql:>7} "
        f"{written['ms']:6.1f}/{written['p90']:<6.1f} {unchanged['ms']:6.1f}/{unchanged['p90']:<6.1f} "
        f"{cpu:>9} {ref_sql:>7} {ref_written['ms']:9.1f} "
        f"{ref_unchanged['ms']:8.1f} {ref_cpu:>7} {ratio:5.2f} {cpu_ratio:9.2f} {same:>10} "
        f"{'yes' if ok else 'NO'}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--applications", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30, help="per page, state and app")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--reuse", metavar="DATABASE", help="measure a database kept by --keep (no seeding)"
    )
    parser.add_argument("--only", help="measure only the pages whose label contains this")
    args = parser.parse_args()
    os.environ["BENCH_PAGE_CACHE_MB"] = "0"  # common.bench_env: no page kept, every one rendered
    rng = random.Random(20261130)
    with tempfile.TemporaryDirectory() as tmp, _database(args) as url:
        app = make_app(url, tmp)
        assert app.config.get("PAGE_CACHE_MB", 0) == 0
        started = time.perf_counter()
        if args.reuse:
            ids = find_ids(app)
            print(f"database {args.reuse} (kept, not seeded again); ", end="")
        else:
            applications, steps, _waiting, _mine = seed_casework(app, rng, args.applications)
            ids = seed_student(app, rng)
            print(
                f"seeded {applications} applications, {steps} approval steps "
                f"({time.perf_counter() - started:.0f} s); ",
                end="",
            )
        print(
            f"PostgreSQL, in-process, "
            f"{args.requests} requests per figure; ms are median/p90 of wall time, "
            "SQL u/w: statements unchanged/after a write; cpu w/u: mean ms of this process and "
            "the database's backends after a write/unchanged; ratio: "
            "the worse of page/reference after a write and unchanged; "
            f"ok: ratio <= {RATIO:g} and constant SQL <= {MAX_STATEMENTS}; "
            f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        from reference import create_reference_app

        ref_engine = sa.create_engine(url, pool_size=2)
        ref_app = create_reference_app(ref_engine)
        # As wsgi.py does in each server process: what is alive now stays out of the
        # collector's full passes (the same for the pages and their references).
        gc.collect()
        gc.freeze()
        print("\n" + HEADER)
        results = run(app, ref_app, ref_engine, Backends(url), ids, args.requests, args.only)
        ref_engine.dispose()
        failing = [page.label for page, figures, _ in results if not passes(figures)]
        print(f"\n{len(results) - len(failing)} of {len(results)} pages within the targets")
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


@contextmanager
def _database(args):
    """A scratch database, or the kept one named by --reuse."""
    if args.reuse:
        yield (
            sa.engine.make_url(args.database_url)
            .set(database=args.reuse)
            .render_as_string(hide_password=False)
        )
        return
    with scratch_database(args.database_url, args.keep) as url:
        if args.keep:
            print("database (kept):", sa.engine.make_url(url).database)
        yield url


if __name__ == "__main__":
    main()
