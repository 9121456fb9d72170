"""Import all 10,251 universities of ../shared/data/world_universities.json into PostgreSQL
with the real CLI, twice: time and peak memory of each run; the second must change nothing.

    .venv/bin/python bench/catalogue_import.py [--database-url URL]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from common import DEFAULT_URL, ROOT, bench_env, make_app, scratch_database

DATA = ROOT.parent / "shared/data/world_universities.json"


def run_import(url, tmp):
    env = dict(os.environ, **bench_env(url, tmp))
    flask = str(Path(sys.executable).parent / "flask")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(
        [flask, "--app", "wsgi", "partners", "import", str(DATA)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr)
    summary = [line for line in proc.stdout.splitlines() if "created" in line.lower()]
    # ru_maxrss of children is the largest child so far; the import is the largest one.
    return elapsed, max(peak, before), summary


def counts(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        result = {
            t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}"))
            for t in ("partners", "audit_events")
        }
        result["digest"] = conn.scalar(
            sa.text(
                "SELECT md5(string_agg(concat_ws('|', id, name, country, hei_id, domains, website,"
                " region, status, updated_at), ',' ORDER BY id)) FROM partners"
            )
        )
    engine.dispose()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url) as url:
        make_app(url, tmp)
        for attempt in ("first", "second"):
            elapsed, peak_kib, summary = run_import(url, tmp)
            after = counts(url)
            print(
                f"{attempt} import: {elapsed:.1f} s wall, peak RSS {peak_kib / 1024:.0f} MiB, "
                f"{after['partners']} partners, {after['audit_events']} audit events"
            )
            for line in summary:
                print("   ", line.strip())
            if attempt == "first":
                first = after
        same = first["digest"] == after["digest"] and first["partners"] == after["partners"]
        print("second run changed nothing" if same else "SECOND RUN CHANGED DATA")


if __name__ == "__main__":
    main()
