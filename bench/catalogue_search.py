"""Catalogue search under load: 10,251 real universities, ~30k agreements, PostgreSQL,
gunicorn; requests/s of search pages vs the trivial /livez endpoint of the same server.

    .venv/bin/python bench/catalogue_search.py [--database-url URL] [--seconds 10] [--rounds 3]
"""

import argparse
import json
import random
import statistics
import tempfile
from decimal import Decimal

import sqlalchemy as sa
from common import (
    DEFAULT_URL,
    after_write_and_unchanged,
    gunicorn,
    login_cookie,
    make_app,
    scratch_database,
    test_client_for,
    wrk,
)
from seeding import mixed_agreements, universities_file, world_partners

PAGES = {
    "catalogue (default)": "/catalogue/",
    "search q=university, Europe": "/catalogue/?q=university&continent=EU",
    "eligible + English + most places": "/catalogue/?eligible=1&language=en&sort=places",
    "subject 061 + bachelor, page 3": "/catalogue/?subject=061&level=bachelor&page=3",
}


def seed(app, rng):
    from exchange.accounts import operations as accounts
    from exchange.accounts.models import (
        CEFR,
        DegreeLevel,
        LanguageResult,
        Role,
        StudentProfile,
        UnitKind,
    )
    from exchange.catalogue.models import Agreement, Partner
    from exchange.extensions import db

    data_file = universities_file()
    data = json.loads(data_file.read_text())
    with app.app_context():
        units = [
            accounts.save_unit(
                None,
                code=f"U{i}",
                name=f"School {i}",
                name_native=None,
                kind=UnitKind.SCHOOL,
                student_count=1000,
                active=True,
                actor=None,
            )
            for i in range(8)
        ]
        user = accounts.create_user(
            "bench-student@example.edu",
            "Bench Student",
            [Role.STUDENT],
            password="bench-password-1",
            units=[units[0]],
        )
        user.profile = StudentProfile(
            degree_level=DegreeLevel.BACHELOR,
            gpa=Decimal("3.5"),
            gpa_scale=Decimal("4"),
            language_results=[LanguageResult(language="en", level=CEFR.C1)],
        )
        db.session.commit()
        partner_ids = world_partners(rng, len(data), data_file)
        mixed_agreements(rng, partner_ids, [unit.id for unit in units])
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        counts = (
            db.session.scalar(sa.select(sa.func.count()).select_from(Partner)),
            db.session.scalar(sa.select(sa.func.count()).select_from(Agreement)),
        )
    return counts


def statements_per_page(app, cookie_user):
    """SQL statements and in-process ms per page, right after a write and unchanged (no page
    is kept: each request renders)."""
    client = test_client_for(app, cookie_user, "bench-password-1")
    counts = {}
    for label, path in PAGES.items():
        _resp, after, same, after_s, same_s = after_write_and_unchanged(app, client, path)
        counts[label] = f"{after}/{same} {after_s * 1000:.1f}/{same_s * 1000:.1f}"
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=int, default=10, help="per page and round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="each round loads /livez, then every page; the medians are printed, so that a "
        "burst of other work on the machine moves one round, not the result",
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    rng = random.Random(20261126)
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url, args.keep) as url,
    ):
        app = make_app(url, tmp)
        partners, agreements = seed(app, rng)
        print(f"seeded {partners} partners, {agreements} agreements")
        statements = statements_per_page(app, "bench-student@example.edu")
        server = gunicorn(url, tmp, args.workers, args.worker_class, args.threads)
        with server as base:
            print(
                f"gunicorn: {args.workers} workers, {args.worker_class}, {args.threads} "
                f"thread(s); {args.rounds} rounds of {args.seconds} s per page"
            )
            cookie = login_cookie(base, "bench-student@example.edu", "bench-password-1")
            targets = {TRIVIAL: "/livez", **PAGES}
            for path in targets.values():  # warm-up: every worker fills its caches
                wrk(base + path, cookie, seconds=2)
            runs = {label: [] for label in targets}
            for _ in range(args.rounds):
                for label, path in targets.items():
                    cpu = base.cpu_seconds()
                    r = wrk(base + path, cookie, seconds=args.seconds)
                    r["cpu_ms"] = (base.cpu_seconds() - cpu) / r["requests"] * 1000
                    assert r["errors"] == 0, f"{path}: {r['errors']} error responses"
                    runs[label].append(r)
            print_table(runs, statements)


TRIVIAL = "/livez (trivial)"


def print_table(runs, statements):
    """Median requests/s over the rounds, and the median and range of each round's ratio to
    /livez measured just before it. Then the server's CPU time per request (gunicorn workers
    and their PostgreSQL backends, median over the rounds) and its ratio to /livez's: what
    the ratio of requests/s tends to on an otherwise idle machine, where wrk's own share is
    the only other cost."""
    trivial = [r["rps"] for r in runs[TRIVIAL]]
    trivial_cpu = statistics.median(r["cpu_ms"] for r in runs[TRIVIAL])
    print(
        f"\n{'page':34} {'req/s':>6} {'ratio':>6} {'range':>9} {'p50':>8} {'p99':>8} "
        f"{'CPU ms':>7} {'CPU ratio':>9} {'SQL, ms after write/unchanged':>30}"
    )
    for label, rounds in runs.items():
        ratios = sorted(r["rps"] / t for r, t in zip(rounds, trivial, strict=True))
        middle = sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]
        cpu = statistics.median(r["cpu_ms"] for r in rounds)
        print(
            f"{label:34} {middle['rps']:6.0f} {statistics.median(ratios):6.0%} "
            f"{ratios[0]:4.0%}-{ratios[-1]:<4.0%} {middle['p50']:>8} {middle['p99']:>8} "
            f"{cpu:7.2f} {trivial_cpu / cpu:9.0%} {statements.get(label, '0'):>30}"
        )


if __name__ == "__main__":
    main()
