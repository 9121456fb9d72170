"""The allocation of a call's places (issue 15): 10,000 and 100,000 applicants with 3 ranked
choices each over 5,000 offerings (0-6 places each, as agreements have; a few unit quotas).

In memory: the engine alone (best of --repeat runs, CPU and wall; peak memory traced in a
separate run).
End to end on PostgreSQL: a scratch database seeded with the approved applications, then
`commit_allocation` as the command line runs it (load, allocate, write outcomes, statuses and
timelines, commit), each size in a process of its own so that its peak RSS is its own.
Prints the times, the peak memory and the 10k -> 100k time ratio (n log n gives ~11.5).

    .venv/bin/python bench/allocation.py [--database-url URL] [--sizes 10000 100000]
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from common import DEFAULT_URL, ROOT, make_app, scratch_database
from seeding import batches, insert

sys.path.insert(0, str(ROOT))

OFFERINGS = 5_000
CHOICES = 3
UNITS = 100
CEFR = ["A1", "A2", "B1", "B2", "C1", "C2"]


def load_engine():
    """Imported once the environment names the database (common.make_app sets it, and the
    settings are read when `exchange` is first imported)."""
    from exchange.selection import engine

    return engine


def criteria():
    e = load_engine()
    return [e.Criterion(1, "gpa", 70.0), e.Criterion(2, "language", 30.0, language="en")]


PLACES_MAX = 6  # as agreements have (bench/seeding.py): 0 to 6 places an offering


def places(rng):
    return [rng.randint(0, PLACES_MAX) for _ in range(OFFERINGS)]


def instance(n, seed=1):
    rng = random.Random(seed)
    engine = load_engine()
    offerings = [engine.Offering(i, p) for i, p in enumerate(places(rng), 1)]
    applicants = [
        engine.Applicant(
            app_id,
            tuple(rng.sample(range(1, OFFERINGS + 1), CHOICES)),
            gpa=rng.randint(200, 400) / 100,
            languages=(("en", rng.choice(CEFR)),),
            submitted_at=1.7e9 + rng.random() * 1e6,
            unit_id=rng.randint(1, UNITS),
        )
        for app_id in range(1, n + 1)
    ]
    return applicants, offerings


def in_memory(n, repeat):
    """The best of `repeat` runs, in CPU seconds of this process and in wall seconds: on a
    shared machine the CPU time is what the run itself costs, the wall time adds waiting."""
    engine, CRITERIA = load_engine(), criteria()
    applicants, offerings = instance(n)
    cpu, wall = [], []
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        result = engine.allocate(applicants, offerings, CRITERIA, seed=7)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    tracemalloc.start()
    engine.allocate(applicants, offerings, CRITERIA, seed=7)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    placed = sum(p.outcome is engine.Outcome.PLACED for p in result.placements)
    return min(cpu), min(wall), peak / 2**20, placed


def reference(n, repeat):
    """What the machine itself makes of 10x more objects: one plain pass over the applicants,
    and one plain sort of them by two keys (CPU seconds, best of `repeat`). Their ratios are
    the yardstick for the engine's: a cache-bound machine scales even O(n) work past 10x."""
    applicants, _offerings = instance(n)
    passes, sorts = [], []
    for _ in range(repeat):
        start = time.process_time()
        total = 0.0
        for a in applicants:
            total += a.gpa / a.gpa_scale + len(a.choices)
        passes.append(time.process_time() - start)
        start = time.process_time()
        sorted(applicants, key=lambda a: (-a.gpa, a.submitted_at))
        sorts.append(time.process_time() - start)
    return min(passes), min(sorts)


# --- end to end ---------------------------------------------------------------------------------


def seed(app, n):
    """Units, a closed call with 5,000 offerings, n students with approved applications."""
    from exchange.accounts.models import Unit, User, UserRole
    from exchange.applications.models import Application, ApplicationChoice, ApplicationLanguage
    from exchange.calls.models import Call, CallOffering
    from exchange.catalogue.models import Agreement, Partner
    from exchange.extensions import db
    from exchange.selection.models import OfferingQuota

    rng = random.Random(1)
    now = datetime.now(UTC)
    with app.app_context():
        unit_ids = insert(
            Unit,
            [{"code": f"U{i:03d}", "name": f"Unit {i}", "kind": "school"} for i in range(UNITS)],
        )
        partner_ids = insert(
            Partner,
            [
                {
                    "name": f"Partner {i:04d}",
                    "name_key": f"partner {i:04d}",
                    "country": "DE",
                    "languages": "en",
                    "search_text": f"partner {i:04d}",
                    "status": "active",
                }
                for i in range(OFFERINGS // 5)
            ],
        )
        agreement_ids = insert(
            Agreement,
            [
                {
                    "partner_id": partner_ids[i % len(partner_ids)],
                    "code": f"IIA-{i:05d}",
                    "type": "bilateral",
                    "status": "active",
                    "first_academic_year": 2024,
                    "last_academic_year": 2030,
                    "places_per_year": 10,
                    "months_per_mobility": 5,
                    "all_units": True,
                    "bachelor": True,
                    "master": True,
                    "doctoral": False,
                    "subject_areas": "0613",
                    "min_gpa_scale": Decimal("4"),
                }
                for i in range(OFFERINGS)
            ],
        )
        (call_id,) = insert(
            Call,
            [
                {
                    "title": "Bench call",
                    "academic_year": 2027,
                    "term": "full_year",
                    "timezone": "UTC",
                    "opens_at": now - timedelta(days=40),
                    "closes_at": now - timedelta(days=10),
                    "max_choices": CHOICES,
                    "required_documents": "",
                    "status": "closed",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        offering_ids = insert(
            CallOffering,
            [
                {"call_id": call_id, "agreement_id": a, "places": p}
                for a, p in zip(agreement_ids, places(rng), strict=True)
            ],
        )
        quota_rows = [
            {"offering_id": o, "unit_id": unit_ids[i % UNITS], "places": 1}
            for i, o in enumerate(offering_ids[:500])
        ]
        db.session.execute(sa.insert(OfferingQuota), quota_rows)
        student_ids = insert(
            User,
            [
                {
                    "email": f"s{i}@bench.edu",
                    "email_key": f"s{i}@bench.edu",
                    "name": f"Student {i}",
                    "active": True,
                    "created_at": now,
                }
                for i in range(n)
            ],
        )
        for batch in batches([{"user_id": s, "role": "student"} for s in student_ids]):
            db.session.execute(sa.insert(UserRole), batch)
        app_ids = insert(
            Application,
            [
                {
                    "call_id": call_id,
                    "student_id": s,
                    "unit_id": unit_ids[i % UNITS],
                    "status": "approved",
                    "statement": "",
                    "gpa": Decimal(rng.randint(200, 400)) / 100,
                    "gpa_scale": Decimal(4),
                    "submitted_at": now - timedelta(days=20, seconds=i),
                    "status_changed_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, s in enumerate(student_ids)
            ],
        )
        choices = [
            {"application_id": a, "rank": k, "offering_id": o}
            for a in app_ids
            for k, o in enumerate(rng.sample(offering_ids, CHOICES), 1)
        ]
        for batch in batches(choices):
            db.session.execute(sa.insert(ApplicationChoice), batch)
        languages = [
            {"application_id": a, "language": "en", "level": rng.choice(CEFR), "test_name": ""}
            for a in app_ids
        ]
        for batch in batches(languages):
            db.session.execute(sa.insert(ApplicationLanguage), batch)
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return call_id


def seed_into(url, n):
    """In a process of its own: create the tables and the data (its memory is not counted)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(url, tmp)
        call_id = seed(app, n)
    return {"call": call_id}


def measure(url, call_id):
    """In a fresh process: time loading and allocating, then the whole commit as the command
    line runs it; peak RSS of this process (the app itself included: see `baseline_mb`)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(url, tmp)  # before the first import of exchange: it names the database
        from exchange.calls.models import Call
        from exchange.extensions import db
        from exchange.selection import allocation, engine

        with app.app_context():
            baseline = peak_rss_mb()
            call = db.session.get(Call, call_id)
            start = time.perf_counter()
            data = allocation.load_input(call)
            loaded = time.perf_counter()
            engine.allocate(
                data.applicants, data.offerings, data.criteria, seed=7, tie_breaks=data.tie_breaks
            )
            allocated = time.perf_counter()
            del data
            db.session.rollback()
            begin = time.perf_counter()
            _run, result = allocation.commit_allocation(call, actor=None, seed=7)
            db.session.commit()
            total = time.perf_counter() - begin
            peak = peak_rss_mb()
        placed = sum(p.outcome is engine.Outcome.PLACED for p in result.placements)
        return {
            "load": loaded - start,
            "allocate": allocated - loaded,
            "total": total,
            "peak_rss_mb": peak,
            "baseline_mb": baseline,
            "placed": placed,
        }


def peak_rss_mb() -> float:
    """VmHWM of this process: unlike getrusage's maxrss, it starts afresh at exec, so a child
    does not report its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child(*args):
    out = subprocess.run(
        [sys.executable, __file__, *map(str, args)], capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def end_to_end(server_url, n):
    with scratch_database(server_url) as url:
        call_id = _child("--seed-into", url, n)["call"]
        return _child("--measure", url, call_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--places-max", type=int, default=PLACES_MAX, help="places of an offering: 0 to this"
    )
    parser.add_argument("--seed-into", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    globals()["PLACES_MAX"] = args.places_max
    if args.seed_into:
        print(json.dumps(seed_into(args.seed_into[0], int(args.seed_into[1]))))
        return
    if args.measure:
        print(json.dumps(measure(args.measure[0], int(args.measure[1]))))
        return

    print(f"in memory ({OFFERINGS} offerings, {CHOICES} choices; best of {args.repeat}):")
    cpu_times, wall_times = {}, {}
    for n in args.sizes:
        cpu, wall, peak, placed = in_memory(n, args.repeat)
        cpu_times[n], wall_times[n] = cpu, wall
        print(
            f"  {n:>7} applicants: {cpu:6.2f} s CPU, {wall:6.2f} s wall, "
            f"peak {peak:6.1f} MB traced, {placed} placed"
        )
    _ratio(cpu_times, "CPU")
    _ratio(wall_times, "wall")
    passes, sorts = {}, {}
    for n in args.sizes:
        passes[n], sorts[n] = reference(n, args.repeat)
    print("  the machine's own scaling, same applicants (CPU, best of the runs):")
    _ratio(passes, "one plain pass")
    _ratio(sorts, "one plain sort by two keys")

    print("end to end on PostgreSQL (load, allocate, write outcomes/statuses/timelines, commit):")
    totals = {}
    for n in args.sizes:
        figures = end_to_end(args.database_url, n)
        totals[n] = figures["total"]
        print(
            f"  {n:>7} applicants: load {figures['load']:6.2f} s, allocate "
            f"{figures['allocate']:6.2f} s; commit_allocation + commit {figures['total']:6.2f} s; "
            f"peak RSS {figures['peak_rss_mb']:.0f} MB (app alone {figures['baseline_mb']:.0f} MB); "
            f"{figures['placed']} placed"
        )
    _ratio(totals)


def _ratio(timings, what="wall"):
    sizes = sorted(timings)
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        print(f"  ratio {big}/{small} ({what}): {timings[big] / timings[small]:.1f}")


if __name__ == "__main__":
    main()
