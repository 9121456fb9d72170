"""A busy day: one gunicorn with production settings on PostgreSQL (50,000 applications in
several calls with their approval steps, 10,000 partners with ~30,000 agreements, 5,000 users),
a Celery worker and beat on Redis, many logged-in users cycling over many pages at once, and a
writer committing student edits and approval decisions. Per phase (no writes, 1 write/s,
10 writes/s): requests/s, p50/p95/p99 and errors per page kind, and the ratio of each kind's
throughput to /livez loaded in the same mix on the same server.

    .venv/bin/python bench/busy_day.py [--applications 50000] [--partners 10000]
        [--users 5000] [--seconds 30] [--keep] [--database-url URL]
"""

import argparse
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from common import (
    DEFAULT_URL,
    ROOT,
    USER_AGENT,
    WrkCycle,
    bench_env,
    gunicorn,
    login_cookie,
    make_app,
    scratch_database,
)
from seeding import (
    LANGUAGES,
    approval_chain,
    approval_steps,
    insert,
    insert_rows,
    mixed_agreements,
    schools,
    student_rows,
    transcripts,
    universities_file,
    users,
    world_partners,
)

PASSWORD = "bench-password-1"
CATALOGUE = [
    "/catalogue/",
    "/catalogue/?q=university",
    "/catalogue/?q=tokyo",
    "/catalogue/?continent=EU&sort=places",
    "/catalogue/?country=DE&page=2",
    "/catalogue/?eligible=1&language=en",
    "/catalogue/?subject=061&level=bachelor&page=3",
    "/catalogue/?open_call=1",
]
# Applications of the call in review: share in per cent; "waiting" ones wait on step 1, 2 or 3.
REVIEW_STATES = {"waiting": 52, "approved": 20, "rejected": 10, "returned": 8, "withdrawn": 10}
PAST_STATES = {"approved": 60, "rejected": 25, "withdrawn": 15}
OPEN_STATES = {"draft": 55, "waiting": 40, "withdrawn": 5}
PHASES = {"no writes": 0, "1 write/s": 1, "10 writes/s": 10}


def arguments():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--applications", type=int, default=50_000)
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--seconds", type=int, default=30, help="per phase")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=1, help="per page kind")
    parser.add_argument("--students", type=int, default=200, help="logged in")
    parser.add_argument("--advisors", type=int, default=20, help="logged in")
    parser.add_argument("--office", type=int, default=5, help="logged in")
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def seed(app, rng, args):
    """A university on a busy day, by Core bulk inserts; what the load needs to know."""
    from exchange.accounts import passwords
    from exchange.accounts.models import (
        CEFR,
        LanguageResult,
        Role,
        StudentProfile,
        UnitFunction,
        UnitMembership,
    )
    from exchange.applications.models import (
        Application,
        ApplicationChoice,
        ApplicationLanguage,
        Document,
    )
    from exchange.approvals.models import ApplicationStep
    from exchange.calls.models import Call, CallOffering
    from exchange.catalogue.models import Agreement
    from exchange.extensions import db

    now = datetime.now(UTC)
    hashed = passwords.hash_password(PASSWORD)
    units = max(5, min(100, args.users // 50))
    students = args.users - args.office - 2 * units
    assert students >= args.students, "--users too small for the logged-in students"
    with app.app_context():
        unit_ids = schools(units)
        office = users(
            [
                {"email": f"office{i}@example.edu", "name": f"Office {i}"}
                for i in range(args.office)
            ],
            [[Role.COORDINATOR]] * args.office,
            now,
            hashed,
        )
        # An advisor and a dean per unit; the first advisors log in.
        staff_rows = [
            {"email": f"{kind}{i}@example.edu", "name": f"{kind.title()} {i}"}
            for i in range(units)
            for kind in ("advisor", "dean")
        ]
        staff = users(staff_rows, [[Role.ADVISOR]] * len(staff_rows), now)
        advisors = {unit_ids[k // 2]: uid for k, uid in enumerate(staff) if k % 2 == 0}
        deans = {unit_ids[k // 2]: uid for k, uid in enumerate(staff) if k % 2 == 1}
        logged_advisors = list(advisors.items())[: args.advisors]
        db.session.execute(
            sa.update(sa.table("users", sa.column("id"), sa.column("password_hash")))
            .where(sa.column("id").in_([uid for _unit, uid in logged_advisors]))
            .values(password_hash=hashed)
        )
        insert_rows(
            UnitMembership,
            [
                {"user_id": uid, "unit_id": unit, "function": UnitFunction.ADVISOR}
                for unit, uid in advisors.items()
            ]
            + [
                {"user_id": uid, "unit_id": unit, "function": UnitFunction.DEAN}
                for unit, uid in deans.items()
            ],
        )
        people = student_rows(rng, students)
        student_ids = users(people[: args.students], [[Role.STUDENT]] * args.students, now, hashed)
        student_ids += users(
            people[args.students :], [[Role.STUDENT]] * (students - args.students), now
        )
        unit_of = {uid: rng.choice(unit_ids) for uid in student_ids}
        insert_rows(
            UnitMembership,
            [
                {"user_id": uid, "unit_id": unit, "function": UnitFunction.MEMBER}
                for uid, unit in unit_of.items()
            ],
        )
        insert_rows(
            StudentProfile,
            [
                {
                    "user_id": uid,
                    "student_number": f"S{uid:08d}",
                    "degree_level": rng.choice(["bachelor", "bachelor", "master"]),
                    "gpa": Decimal(rng.randint(250, 400)) / 100,
                    "gpa_scale": Decimal("4"),
                }
                for uid in student_ids
            ],
        )
        insert_rows(
            LanguageResult,
            [
                {
                    "user_id": uid,
                    "language": code,
                    "level": rng.choice([CEFR.B1, CEFR.B2, CEFR.C1]),
                    "test_name": "",
                }
                for uid in student_ids
                for code in rng.sample(LANGUAGES[:4], rng.randint(1, 2))
            ],
        )
        partner_ids = world_partners(rng, args.partners, universities_file())
        current = mixed_agreements(rng, partner_ids, unit_ids)
        chain_id = approval_chain(now)
        # Calls, newest first: one open, one in review, the others decided in past years.
        count = math.ceil(args.applications / students)
        calls = []
        for k in range(count):
            # Open for 10 more days; closed 5 days ago; twice a year before that.
            opens = now - timedelta(days=(20, 40)[k] if k < 2 else 180 * k)
            closes = now + timedelta(days=10) if k == 0 else opens + timedelta(days=35)
            calls.append(
                {
                    "title": f"Exchange {2027 - k // 2}/{(28 - k // 2) % 100:02d}, "
                    + ("autumn" if k % 2 == 0 else "spring"),
                    "academic_year": 2027 - k // 2,
                    "term": "autumn" if k % 2 == 0 else "spring",
                    "timezone": "Asia/Shanghai",
                    "opens_at": opens,
                    "closes_at": closes,
                    "max_choices": 3,
                    "required_documents": "transcript",
                    "status": "open" if k == 0 else "closed",
                    "approval_chain_id": chain_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        call_ids = insert(Call, calls)
        offered = {
            call_id: insert(
                CallOffering,
                [
                    {"call_id": call_id, "agreement_id": a, "places": rng.randint(1, 4)}
                    for a in rng.sample(current, min(200, len(current)))
                ],
            )
            for call_id in call_ids
        }
        weights = [1 / (k + 1) ** 0.8 for k in range(200)]
        applications, all_steps = [], []
        left = args.applications
        for k, (call_id, call) in enumerate(zip(call_ids, calls, strict=True)):
            mix = OPEN_STATES if k == 0 else REVIEW_STATES if k == 1 else PAST_STATES
            states, shares = zip(*mix.items(), strict=True)
            for n, uid in enumerate(student_ids[: min(left, students)]):
                # The logged-in students are editing a draft in the open call.
                state = "draft" if k == 0 and n < args.students else rng.choices(states, shares)[0]
                unit = unit_of[uid]
                submitted = call["opens_at"] + timedelta(seconds=rng.randint(0, 25 * 86400))
                submitted = min(submitted, now - timedelta(hours=1))
                steps, status = [], "draft"
                if state != "draft":
                    steps, status = approval_steps(
                        rng, state, submitted, [advisors[unit], deans[unit], office[0]], now
                    )
                applications.append(
                    {
                        "call_id": call_id,
                        "student_id": uid,
                        "unit_id": unit,
                        "status": status,
                        "statement": "",
                        "gpa": Decimal(rng.randint(200, 400)) / 100,
                        "gpa_scale": Decimal("4"),
                        "submitted_at": submitted if state != "draft" else None,
                        "status_changed_at": submitted if state != "draft" else now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                all_steps.append(
                    [dict(s, chain_id=chain_id, chain_version=1, unit_id=unit) for s in steps]
                )
            left -= min(left, students)
        application_ids = insert(Application, applications)
        choices, languages, documents, steps = [], [], [], []
        for app_id, row, own_steps in zip(application_ids, applications, all_steps, strict=True):
            picked, options = [], offered[row["call_id"]]
            for _ in range(rng.randint(1, 3)):
                offering = rng.choices(options, weights[: len(options)])[0]
                if offering not in picked:
                    picked.append(offering)
            choices += [
                {"application_id": app_id, "rank": rank, "offering_id": offering}
                for rank, offering in enumerate(picked, start=1)
            ]
            languages += [
                {
                    "application_id": app_id,
                    "language": code,
                    "level": rng.choice(["B1", "B2", "C1"]),
                    "test_name": "",
                }
                for code in rng.sample(LANGUAGES[:4], rng.randint(1, 2))
            ]
            documents += transcripts(rng, app_id, row["student_id"], now)
            steps += [dict(s, application_id=app_id) for s in own_steps]
        insert_rows(ApplicationChoice, choices)
        insert_rows(ApplicationLanguage, languages)
        insert_rows(Document, documents)
        insert_rows(ApplicationStep, steps)
        db.session.commit()
        # The most chosen partner of the call in review: the heaviest partner filter.
        review = call_ids[min(1, len(call_ids) - 1)]
        list_partner = db.session.scalar(
            sa.select(Agreement.partner_id)
            .join(CallOffering, CallOffering.agreement_id == Agreement.id)
            .join(ApplicationChoice, ApplicationChoice.offering_id == CallOffering.id)
            .where(CallOffering.call_id == review)
            .group_by(Agreement.partner_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    logged_students = student_ids[: args.students]
    mine = {uid: [] for uid in logged_students}
    for app_id, row in zip(application_ids, applications, strict=True):
        if row["student_id"] in mine:
            mine[row["student_id"]].append((app_id, row["status"]))
    return {
        "counts": (len(application_ids), len(steps), len(call_ids), len(partner_ids)),
        "students": [
            (f"student{i}@example.edu", uid, [a for a, _s in mine[uid]])
            for i, uid in enumerate(logged_students)
        ],
        "drafts": [(a, uid) for uid in logged_students for a, s in mine[uid] if s == "draft"],
        "advisors": [
            (staff_rows[2 * unit_ids.index(unit)]["email"], uid, unit)
            for unit, uid in logged_advisors
        ],
        "office": [(f"office{i}@example.edu", uid) for i, uid in enumerate(office)],
        "calls": call_ids,
        "list_partner": list_partner,
        "partners": rng.sample(partner_ids, min(500, len(partner_ids))),
    }


def log_in_all(base, people):
    """Each simulated user logged in once: {email: cookie}."""
    with ThreadPoolExecutor(3) as pool:
        cookies = pool.map(lambda email: login_cookie(base, email, PASSWORD), people)
        return dict(zip(people, cookies, strict=True))


def page_kinds(seeded, cookies, rng):
    """Page kind -> (path, cookie) pairs, shuffled so that consecutive requests come from
    different users."""
    open_call, review = seeded["calls"][0], seeded["calls"][min(1, len(seeded["calls"]) - 1)]
    lists = [
        f"/calls/{review}/applications",
        f"/calls/{review}/applications?status=in_review",
        f"/calls/{review}/applications?partner={seeded['list_partner']}",
        f"/calls/{review}/applications?page=5",
        f"/calls/{review}/applications?sort=name",
        f"/calls/{review}/applications?sort=gpa",
        f"/calls/{open_call}/applications",
    ]
    queues = ["/approvals/", "/approvals/?sort=due", "/approvals/?sort=name"]
    students = [(cookies[email], apps) for email, _uid, apps in seeded["students"]]
    advisors = [cookies[email] for email, _uid, _unit in seeded["advisors"]]
    office = [cookies[email] for email, _uid in seeded["office"]]
    kinds = {
        "/livez": [("/livez", "")],
        "student: catalogue": [(path, c) for c, _apps in students for path in CATALOGUE],
        "student: home": [("/home", c) for c, _apps in students],
        "student: application": [(f"/applications/{a}", c) for c, apps in students for a in apps],
        "advisor: queue": [(path, c) for c in advisors for path in queues],
        "office: queue": [
            (path, c) for c in office for path in [*queues, "/approvals/?overdue=1&page=2"]
        ],
        "office: application list": [(path, c) for c in office for path in lists],
        "office: partner page": [
            (f"/catalogue/partners/{p}", c) for c in office for p in seeded["partners"]
        ],
    }
    for items in kinds.values():
        rng.shuffle(items)
    return kinds


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # a redirect (e.g. to the login page) is an answer of its own


def sample(kinds, most=250):
    """Per kind, up to `most` pairs, each showing a user or a path not shown before."""
    chosen = {}
    for kind, items in kinds.items():
        paths, cookies, chosen[kind] = set(), set(), []
        for path, cookie in items:
            if (path not in paths or cookie not in cookies) and len(chosen[kind]) < most:
                chosen[kind].append((path, cookie))
                paths.add(path)
                cookies.add(cookie)
    return chosen


def check_pages(base, kinds):
    """GET each (path, cookie) pair once: {kind: failures}, a failure being anything but 200
    (wrk counts a redirect to the login page as a success)."""
    opener = urllib.request.build_opener(_NoRedirect)

    def status(item):
        path, cookie = item
        request = urllib.request.Request(
            base + path, headers={"Cookie": cookie, "User-Agent": USER_AGENT}
        )
        try:
            with opener.open(request, timeout=60) as resp:
                resp.read()
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with ThreadPoolExecutor(3) as pool:
        return {
            kind: [
                (item[0], code)
                for item, code in zip(items, pool.map(status, items), strict=True)
                if code != 200
            ]
            for kind, items in kinds.items()
        }


class Writer(threading.Thread):
    """Starts a write every 1/`rate` s, as the app does it (operations, then commit, whose
    cache versions move): a student's draft statement, an office decision, a statement again,
    an advisor's decision, in turn."""

    def __init__(self, app, seeded, pools, rate):
        super().__init__(daemon=True)
        self.app, self.seeded, self.pools, self.rate = app, seeded, pools, rate
        self.stop = threading.Event()
        self.times, self.failures, self.elapsed = [], [], 0.0

    def run(self):
        if not self.rate:
            return
        # A few writes may be under way at once, as from several users: the rate holds when
        # one write takes longer than the interval.
        pool = ThreadPoolExecutor(4)
        interval, begun, n = 1 / self.rate, time.monotonic(), 0
        while not self.stop.is_set():
            pool.submit(self.timed, n)
            n += 1
            self.stop.wait(max(0.0, begun + n * interval - time.monotonic()))
        pool.shutdown(cancel_futures=True)
        self.elapsed = time.monotonic() - begun

    def timed(self, n):
        kind = ["statement", "office", "statement", "advisor"][n % 4]
        started = time.perf_counter()
        try:
            self.write(kind, n)
        except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
            self.failures.append(f"{kind}: {exc!r}"[:200])
        self.times.append(time.perf_counter() - started)

    def write(self, kind, n):
        from exchange.accounts.models import User
        from exchange.applications import operations as applications
        from exchange.applications.models import Application
        from exchange.approvals import operations as approvals
        from exchange.approvals.models import ApplicationStep, Decision
        from exchange.extensions import db

        pool = self.pools[kind] if kind != "statement" else None
        if pool is not None and not pool:
            kind = "statement"  # no step left to decide at this scale
        with self.app.app_context():
            try:
                if kind == "statement":
                    app_id, student_id = self.seeded["drafts"][n % len(self.seeded["drafts"])]
                    application = db.session.get(Application, app_id)
                    details = applications.Details(
                        statement=f"Why I want to go: busy day edit {n}.",
                        gpa=f"{application.gpa}" if application.gpa is not None else None,
                        gpa_scale=f"{application.gpa_scale}",
                        languages=[(r.language, r.level.name) for r in application.languages],
                    )
                    applications.save_details(
                        application, details, actor=db.session.get(User, student_id)
                    )
                else:
                    step_id, actor_id = pool.pop()
                    step = db.session.get(ApplicationStep, step_id)
                    approvals.decide_step(
                        step, Decision.APPROVE, None, actor=db.session.get(User, actor_id)
                    )
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise


def decision_pools(app, seeded):
    """Waiting steps the writer can approve: the office's, and those of the logged-in
    advisors' units, with who decides them."""
    from exchange.approvals.models import ApplicationStep, StepStatus
    from exchange.chains.models import ApproverRule
    from exchange.extensions import db

    office_id = seeded["office"][0][1]
    advisor_of = {unit: uid for _email, uid, unit in seeded["advisors"]}
    with app.app_context():
        rows = db.session.execute(
            sa.select(ApplicationStep.id, ApplicationStep.rule, ApplicationStep.unit_id).where(
                ApplicationStep.status == StepStatus.WAITING
            )
        ).all()
    return {
        "office": [
            (i, office_id) for i, rule, _u in rows if rule is ApproverRule.INTERNATIONAL_OFFICE
        ],
        "advisor": [
            (i, advisor_of[u])
            for i, rule, u in rows
            if rule is ApproverRule.UNIT_ADVISOR and u in advisor_of
        ],
    }


def celery(kind, env, log):
    cmd = [str(Path(sys.executable).parent / "celery"), "--quiet", "-A", "worker", kind]
    cmd += ["--loglevel=WARNING"]
    if kind == "worker":
        cmd += ["--concurrency=1", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def worker_state(app):
    from exchange.core.heartbeat import last_beat
    from exchange.extensions import db
    from exchange.mail.models import OutboxMail

    with app.app_context():
        mails = dict(
            db.session.execute(
                sa.select(OutboxMail.status, sa.func.count()).group_by(OutboxMail.status)
            ).all()
        )
        return {k.value: v for k, v in mails.items()}, last_beat()


def ms(value):
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def print_phase(label, results, writer, outbox):
    livez = results["/livez"]["rps"]
    line = f"\n== {label}"
    if writer.rate:
        t = sorted(writer.times) or [0]
        line += (
            f": {len(writer.times) / writer.elapsed:.1f} writes/s done, write p50 "
            f"{ms(statistics.median(t) * 1000)} ms, max {ms(t[-1] * 1000)} ms, "
            f"{len(writer.failures)} failed"
        )
    print(line + f"; outbox after it: {outbox or 'empty'}")
    print(
        f"{'page kind':26} {'req/s':>7} {'÷ /livez':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7}"
    )
    for kind, r in results.items():
        errors = f"{r['errors']}" + (f" {r['error_kinds']}" if r["errors"] else "")
        print(
            f"{kind:26} {r['rps']:7.1f} {r['rps'] / livez:9.0%} {ms(r['p50']):>7} "
            f"{ms(r['p95']):>7} {ms(r['p99']):>7} {errors:>7}"
        )
    total = sum(r["rps"] for k, r in results.items() if k != "/livez")
    print(f"{'all pages (without /livez)':26} {total:7.1f}")
    for failure in writer.failures[:5]:
        print("   write failed:", failure)


def main():
    args = arguments()
    sys.stdout.reconfigure(line_buffering=True)
    # Stopped (timeout, kill): leave through the finally clauses, which stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    rng = random.Random(20261130)
    os.environ["BENCH_REDIS_URL"] = args.redis_url
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()  # this benchmark's database alone
    errors = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url, args.keep) as url,
    ):
        app = make_app(url, tmp)
        started = time.perf_counter()
        print(f"seeding {url.rsplit('/', 1)[-1]} ...")
        seeded = seed(app, rng, args)
        print(
            "seeded {} applications, {} approval steps in {} calls, {} partners, ".format(
                *seeded["counts"]
            )
            + f"{args.users} users ({time.perf_counter() - started:.0f} s)"
            + (f"; database kept: {url}" if args.keep else "")
        )
        pools = decision_pools(app, seeded)
        env = dict(os.environ, **bench_env(url, tmp))
        with open(Path(tmp) / "celery.log", "w") as log, gunicorn(url, tmp, args.workers) as base:
            background = [celery("worker", env, log), celery("beat", env, log)]
            try:
                people = [e for e, *_ in seeded["students"] + seeded["advisors"] + seeded["office"]]
                started = time.perf_counter()
                cookies = log_in_all(base, people)
                kinds = page_kinds(seeded, cookies, rng)
                checked = sample(kinds)
                print(
                    f"{len(cookies)} users logged in ({time.perf_counter() - started:.0f} s); "
                    f"{sum(map(len, kinds.values()))} (user, page) pairs in {len(kinds)} kinds, "
                    f"{sum(map(len, checked.values()))} of them checked"
                )
                errors += report_failures(check_pages(base, checked))
                for label, rate in PHASES.items():
                    print(f"{label}: {len(kinds)} wrk processes for {args.seconds} s ...")
                    writer = Writer(app, seeded, pools, rate)
                    writer.start()
                    loads = {
                        kind: WrkCycle(base, items, args.seconds, tmp, args.connections)
                        for kind, items in kinds.items()
                    }
                    results = {kind: load.result() for kind, load in loads.items()}
                    writer.stop.set()
                    writer.join()
                    print_phase(label, results, writer, worker_state(app)[0])
                    errors += sum(r["errors"] for r in results.values()) + len(writer.failures)
                errors += report_failures(check_pages(base, checked))  # sessions still good?
                for proc, name in zip(background, ("worker", "beat"), strict=True):
                    if proc.poll() is not None:
                        print(f"celery {name} exited with {proc.returncode}")
                        errors += 1
                mails, beat = worker_state(app)
                print(f"\nworker: outbox {mails or 'empty'}; last heartbeat {beat or 'none'}")
            finally:
                for proc in background:
                    proc.terminate()
                for proc in background:
                    proc.wait(timeout=30)
        # Running as root earns a SecurityWarning; errors of tasks are what matters here.
        log_text = (Path(tmp) / "celery.log").read_text()
        failures = [line for line in log_text.splitlines() if "ERROR" in line or "CRITICAL" in line]
        print(f"celery: {len(failures)} errors logged by the worker and beat")
        if failures:
            print(log_text[-3000:])
    if errors:
        raise SystemExit(f"{errors} errors")


def report_failures(failed):
    count = 0
    for kind, pages in failed.items():
        if pages:
            count += len(pages)
            print(f"  {kind}: {len(pages)} pages not 200, e.g. {pages[:3]}")
    return count


if __name__ == "__main__":
    main()
