"""The beat's reminder scan and a digest build on PostgreSQL, with 100,000 and with 1,000,000
applications of history but the same number of due items: the time should follow the due
items, not the table size.

Each size gets its own scratch database: the history (closed calls, decided applications, one
decided step each) is bulk-inserted with generate_series; then the same due items are added:
one call closing in two days with DRAFTS drafts, OVERDUE steps past their time limit, and
RECENT applications submitted and decided in the last day (what a digest reports).

    .venv/bin/python bench/notifications_scan.py [--sizes 100000 1000000] [--database-url URL]
"""

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from common import DEFAULT_URL, bench_env, scratch_database

DRAFTS = 500
OVERDUE = 300
RECENT = 300
HISTORY_CALLS = 200


def seed_history(conn, size, now):
    """`size` decided applications in closed calls, by set-based SQL."""
    students = -(-size // HISTORY_CALLS)
    conn.execute(
        sa.text(
            "INSERT INTO units (code, name, kind, active, created_at)"
            " SELECT 'U' || g, 'School ' || g, 'school', true, :now FROM generate_series(1, 100) g"
        ),
        {"now": now},
    )
    conn.execute(
        sa.text(
            "INSERT INTO users (email, email_key, name, active, created_at, mail_preference)"
            " SELECT 's' || g || '@example.edu', 's' || g || '@example.edu', 'Student ' || g,"
            " true, :now, 'immediate' FROM generate_series(1, :n) g"
        ),
        {"now": now, "n": students + DRAFTS + OVERDUE + RECENT},
    )
    conn.execute(
        sa.text(
            "INSERT INTO calls (title, academic_year, term, timezone, opens_at, closes_at,"
            " max_choices, required_documents, status, created_at, updated_at)"
            " SELECT 'Old call ' || g, 2020 + g % 6, 'full_year', 'Asia/Shanghai',"
            " :old - interval '60 days', :old, 3, '', 'archived', :old, :old"
            " FROM generate_series(1, :calls) g"
        ),
        {"old": now - timedelta(days=400), "calls": HISTORY_CALLS},
    )
    conn.execute(
        sa.text(
            "INSERT INTO applications (call_id, student_id, unit_id, status, statement,"
            " gpa_scale, submitted_at, status_changed_at, created_at, updated_at)"
            " SELECT 1 + g % :calls, 1 + g / :calls, 1 + g % 100,"
            " (ARRAY['approved','rejected','completed','withdrawn'])[1 + g % 4], '', 4,"
            " :old, :old, :old, :old FROM generate_series(0, :n - 1) g"
        ),
        {"calls": HISTORY_CALLS, "n": size, "old": now - timedelta(days=400)},
    )
    conn.execute(
        sa.text(
            "INSERT INTO application_steps (application_id, round, position, unit_id, restart_from, status,"
            " name, rule, time_limit_days, rejection_ends, may_return, activated_at, due_at,"
            " decided_at, decision)"
            " SELECT id, 1, 1, unit_id, 'first_step', 'approved', 'International office',"
            " 'international_office', 7, true, true, :old, :old, :old, 'approve'"
            " FROM applications"
        ),
        {"old": now - timedelta(days=400)},
    )
    return students


def seed_due(conn, first_student, now):
    """The same due items at every size."""
    call_id = conn.scalar(
        sa.text(
            "INSERT INTO calls (title, academic_year, term, timezone, opens_at, closes_at,"
            " max_choices, required_documents, status, created_at, updated_at)"
            " VALUES ('Open call', 2027, 'full_year', 'Asia/Shanghai', :opened, :closes, 3, '',"
            " 'open', :now, :now) RETURNING id"
        ),
        {"opened": now - timedelta(days=20), "closes": now + timedelta(days=2), "now": now},
    )

    def applications(count, status, offset, submitted):
        return (
            conn.execute(
                sa.text(
                    "INSERT INTO applications (call_id, student_id, unit_id, status, statement,"
                    " gpa_scale, submitted_at, status_changed_at, created_at, updated_at)"
                    " SELECT :call, :first + g, 1 + g % 100, :status, '', 4, :submitted, :now,"
                    " :now, :now FROM generate_series(0, :n - 1) g RETURNING id"
                ),
                {
                    "call": call_id,
                    "first": first_student + offset,
                    "status": status,
                    "submitted": submitted,
                    "now": now,
                    "n": count,
                },
            )
            .scalars()
            .all()
        )

    applications(DRAFTS, "draft", 0, None)
    overdue = applications(OVERDUE, "submitted", DRAFTS, now - timedelta(days=10))
    conn.execute(
        sa.text(
            "INSERT INTO application_steps (application_id, round, position, unit_id, restart_from, status,"
            " name, rule, time_limit_days, rejection_ends, may_return, activated_at, due_at)"
            " SELECT a.id, 1, 1, a.unit_id, 'first_step', 'waiting', 'International office',"
            " 'international_office', 7, true, true, :activated, :due"
            " FROM applications a WHERE a.id = ANY(:ids)"
        ),
        {"ids": overdue, "activated": now - timedelta(days=10), "due": now - timedelta(days=3)},
    )
    recent = applications(RECENT, "in_review", DRAFTS + OVERDUE, now - timedelta(hours=5))
    conn.execute(
        sa.text(
            "INSERT INTO application_steps (application_id, round, position, unit_id, restart_from, status,"
            " name, rule, time_limit_days, rejection_ends, may_return, activated_at, due_at,"
            " decided_at, decision)"
            " SELECT a.id, 1, 1, a.unit_id, 'first_step', 'approved', 'Advisor', 'unit_advisor', 7, true,"
            " true, :at, :due, :decided, 'approve' FROM applications a WHERE a.id = ANY(:ids)"
        ),
        {
            "ids": recent,
            "at": now - timedelta(hours=5),
            "due": now + timedelta(days=7),
            "decided": now - timedelta(hours=2),
        },
    )
    conn.execute(
        sa.text(
            "INSERT INTO users (email, email_key, name, active, created_at, mail_preference)"
            " VALUES ('office@example.edu', 'office@example.edu', 'Office', true, :now,"
            " 'immediate')"
        ),
        {"now": now},
    )
    conn.execute(
        sa.text(
            "INSERT INTO user_roles (user_id, role) SELECT id, 'coordinator' FROM users"
            " WHERE email = 'office@example.edu'"
        )
    )


def fresh_app(url, tmp):
    from flask_migrate import upgrade

    from exchange import create_app

    app = create_app("production", SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=str(tmp))
    with app.app_context():
        upgrade()
    return app


def timed(fn, repeat=3):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(url, size):
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        # Before importing exchange (config reads the environment once); the database is
        # named explicitly as each size has its own.
        os.environ.update(bench_env(url, tmp))
        app = fresh_app(url, tmp)
        from exchange.accounts.models import User
        from exchange.extensions import db
        from exchange.notifications import digests, reminders

        engine = sa.create_engine(url)
        start = time.perf_counter()
        with engine.begin() as conn:
            students = seed_history(conn, size, now)
            seed_due(conn, students + 1, now)
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
            rows = conn.scalar(sa.text("SELECT count(*) FROM applications"))
            steps = conn.scalar(sa.text("SELECT count(*) FROM application_steps"))
        engine.dispose()
        seeded = time.perf_counter() - start
        app.config["MAIL_DISPATCH"] = "record"  # measure the scan, not the broker
        with app.app_context():

            def scan():
                result = reminders.run_reminders(now)
                db.session.rollback()  # measure the same due items each time
                return result

            def digest():
                office = db.session.scalars(
                    sa.select(User).where(User.email == "office@example.edu")
                ).one()
                content = digests.build(office, "daily", now)
                db.session.rollback()
                return content

            scan_time, scan_result = timed(scan)
            digest_time, content = timed(digest)
    return {
        "applications": rows,
        "steps": steps,
        "seed_s": seeded,
        "scan_s": scan_time,
        "scan": scan_result,
        "digest_s": digest_time,
        "digest": (content.new_applications, content.decisions, content.stalled_total),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"due items at every size: {DRAFTS} drafts, {OVERDUE} overdue steps, {RECENT} recent")
    for size in args.sizes:
        with scratch_database(args.database_url) as url:
            r = measure(url, size)
        print(
            f"{r['applications']:>9,} applications, {r['steps']:>9,} steps"
            f" (seeded in {r['seed_s']:.0f} s):"
            f" reminder scan {r['scan_s'] * 1000:7.1f} ms {r['scan']},"
            f" digest build {r['digest_s'] * 1000:6.1f} ms"
            f" (new {r['digest'][0]}, decisions {r['digest'][1]}, stalled {r['digest'][2]})"
        )


if __name__ == "__main__":
    main()
