"""Import all 10,251 universities of ../shared/data/world_universities.json into PostgreSQL
with the real CLI, twice: time and peak memory of each run; the second must change nothing.

With --csv-rows N, the file is instead a generated CSV of N rows (165,000 rows make the
9.9 MB of the largest office file seen), first checked (--dry-run: what the worker does for
the web preview), then imported twice.

    .venv/bin/python bench/catalogue_import.py [--database-url URL] [--csv-rows 165000]
"""

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from common import DEFAULT_URL, ROOT, bench_env, make_app, scratch_database

DATA = ROOT.parent / "shared/data/world_universities.json"


COUNTRIES = ("DE", "France", "中国", "Korea, Republic of", "Deutschland", "IT", "España")
LANGUAGES = ("de;en", "fr", "zh, en", "ko", "de", "it en", "es")


def write_csv(path, rows):
    """About 60 bytes a row, like the office file: 165,000 rows make 9.9 MB."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "country", "hei_id", "languages"])
        for n in range(rows):
            i = n % len(COUNTRIES)
            writer.writerow(
                [f"University {n} of Town {n % 977}", COUNTRIES[i], f"u{n}.ac.xx", LANGUAGES[i]]
            )
    return path


# Runs one command and prints its peak RSS: ru_maxrss of RUSAGE_CHILDREN is the largest child
# so far, so each import gets a parent of its own.
MEASURE = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(rc)"
)


def run_import(url, tmp, data=DATA, *options):
    env = dict(os.environ, **bench_env(url, tmp))
    flask = str(Path(sys.executable).parent / "flask")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, flask, "--app", "wsgi", "partners", "import", str(data)]
        + list(options),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr)
    peak = int(proc.stderr.strip().splitlines()[-1])
    summary = [line for line in proc.stdout.splitlines() if re.search(r"created|to create", line)]
    return elapsed, peak, summary


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
    parser.add_argument("--csv-rows", type=int, help="import a generated CSV of this many rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url) as url:
        make_app(url, tmp)
        data = DATA
        if args.csv_rows:
            data = write_csv(Path(tmp) / "partners.csv", args.csv_rows)
            print(f"{data.name}: {args.csv_rows} rows, {data.stat().st_size / 1e6:.1f} MB")
            elapsed, peak_kib, summary = run_import(url, tmp, data, "--dry-run")
            print(f"check (dry run): {elapsed:.1f} s wall, peak RSS {peak_kib / 1024:.0f} MiB")
            for line in summary:
                print("   ", line.strip())
        for attempt in ("first", "second"):
            elapsed, peak_kib, summary = run_import(url, tmp, data)
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
