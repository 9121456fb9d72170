"""Import a 50,000-student roster into PostgreSQL with the real CLI, twice: time and peak
memory of each run (the second must change nothing and invite nobody again); and, in process,
the SQL statements per row of a first run and of a re-run at 1,000 and 5,000 rows, which must
not grow with the roster.

    BENCH_REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/roster_import.py \
        [--database-url URL] [--rows 50000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from common import DEFAULT_URL, ROOT, bench_env, scratch_database

UNITS = [f"U{n:02d}" for n in range(40)]
LEVELS = ["bachelor", "master", "doctoral", "本科", "硕士", "博士"]


def write_roster(path, rows, start=2_000_000):
    with path.open("w", encoding="utf-8") as out:
        out.write("学号,姓名,邮箱,学院代码,学历层次,专业,年级,绩点,绩点满分\n")
        for i in range(rows):
            number = start + i
            out.write(
                f"{number},Student {number},s{number}@example.edu,{UNITS[i % len(UNITS)]},"
                f"{LEVELS[i % len(LEVELS)]},Programme {i % 90},{1 + i % 4},"
                f"{2 + (i % 200) / 100:.2f},4\n"
            )


def seed_units(app):
    from exchange.accounts.models import Unit, UnitKind
    from exchange.extensions import db

    with app.app_context():
        for code in UNITS:
            db.session.add(Unit(code=code, name=f"School {code}", kind=UnitKind.SCHOOL))
        db.session.commit()
        db.session.remove()


# Runs a command and reports the peak RSS of that command alone (its own RUSAGE_CHILDREN).
WRAP = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)


def run_cli(url, tmp, roster):
    """Wall time, peak RSS (MB) and summary of `flask students import` in its own process."""
    env = dict(os.environ, **bench_env(url, tmp))
    flask = str(Path(sys.executable).parent / "flask")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", WRAP, flask, "--app", "wsgi", "students", "import", str(roster)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr[-3000:])
    peak_kb = int(proc.stderr.rsplit("MAXRSS", 1)[1].split()[0])
    summary = [line for line in proc.stdout.splitlines() if line.startswith("imported")]
    return elapsed, peak_kb / 1024, summary


def counts(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        result = {
            t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}"))
            for t in ("users", "student_profiles", "outbox_mails", "audit_events")
        }
    engine.dispose()
    return result


class Counter:
    def __init__(self):
        self.count = 0

    def __call__(self, *_args, **_kwargs):
        self.count += 1


def app_for(url, tmp):
    """An app on `url` (config.py reads DATABASE_URL once per process: passed explicitly)."""
    os.environ.update(bench_env(url, tmp))
    from flask_migrate import upgrade

    from exchange import create_app

    app = create_app("production", SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=str(tmp))
    with app.app_context():
        upgrade()
    return app


def statements_per_row(server_url, sizes):
    """In process, on a database of its own: statements of plan + apply per row."""
    rows = []
    with scratch_database(server_url) as url, tempfile.TemporaryDirectory() as tmp:
        app = app_for(url, tmp)
        seed_units(app)
        from exchange.extensions import db
        from exchange.students import roster

        start = 3_000_000
        for size in sizes:
            path = Path(tmp) / f"roster-{size}.csv"
            write_roster(path, size, start)
            start += size
            content = path.read_bytes()
            for label in ("first run", "re-run"):
                counter = Counter()
                with app.app_context():
                    sa.event.listen(db.engine, "before_cursor_execute", counter)
                    try:
                        plan = roster.plan_roster(content, path.name)
                        roster.apply_roster(plan, actor=None)
                        db.session.commit()
                    finally:
                        sa.event.remove(db.engine, "before_cursor_execute", counter)
                    db.session.remove()
                rows.append((size, label, counter.count, counter.count / size))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()

    print("statements per row (in process, plan + apply, invitations on):")
    for size, label, total, per_row in statements_per_row(args.database_url, (1_000, 5_000)):
        print(f"  {size:>6} rows, {label:<9}: {total:>7} statements = {per_row:.2f} per row")

    with scratch_database(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        app = app_for(url, tmp)
        seed_units(app)
        roster_path = Path(tmp) / "roster.csv"
        write_roster(roster_path, args.rows)
        print(f"\n{args.rows} rows ({roster_path.stat().st_size / 1e6:.1f} MB CSV), real CLI:")
        for label in ("first run", "re-run"):
            elapsed, peak, summary = run_cli(url, tmp, roster_path)
            print(f"  {label:<9}: {elapsed:6.1f} s, peak RSS {peak:.0f} MB; {'; '.join(summary)}")
            print(f"             rows now: {counts(url)}")


if __name__ == "__main__":
    main()
