"""Helpers shared by the benchmarks: a scratch PostgreSQL database, an app bound to it, a
gunicorn server and wrk."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Login and load use the same browser: Flask-Login ties a session to its User-Agent, and a
# replayed cookie from another one would be rewritten on every request (a browser keeps the
# new cookie; wrk cannot), which no real user pays for.
USER_AGENT = "exchange-bench"


@contextmanager
def scratch_database(server_url, keep=False):
    name = f"exchange_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_env(database_url, tmp):
    return {
        "DATABASE_URL": database_url,
        "EXCHANGE_ENV": "production",
        "SECRET_KEY": "bench-" + "x" * 40,
        "SESSION_COOKIE_SECURE": "0",
        "BROKER_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
        "EXCHANGE_INSTANCE_DIR": str(tmp),
    }


def make_app(database_url, tmp):
    os.environ.update(bench_env(database_url, tmp))
    from flask_migrate import upgrade

    from exchange import create_app

    app = create_app("production")
    with app.app_context():
        upgrade()
    return app


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(database_url, tmp, workers, worker_class="sync", threads=1):
    port = free_port()
    env = dict(os.environ, **bench_env(database_url, tmp))
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-w",
        str(workers),
        "-k",
        worker_class,
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "wsgi:app",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = Server(f"http://127.0.0.1:{port}", proc.pid, database_url)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/livez", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Server(str):
    """The base URL of a gunicorn server (so `base + path` works), which also knows where its
    CPU time goes."""

    def __new__(cls, url, pid, database_url):
        server = super().__new__(cls, url)
        server.pid = pid
        server.database_url = database_url
        return server

    def cpu_seconds(self):
        """CPU time used so far by the workers and their PostgreSQL backends: per request, a
        cost that does not depend on what else the machine is doing, unlike requests/s."""
        workers = [pid for pid, ppid in _processes() if ppid == self.pid]
        engine = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            backends = conn.scalars(
                sa.text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        engine.dispose()
        return sum(_cpu_seconds(pid) for pid in [*workers, *backends])


def _processes():
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(stat.parent.name), int(fields[1])


def _cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def login_cookie(base, email, password):
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    html = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": token}
    ).encode()
    opener.open(base + "/login", body)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    assert "exchange_session" in cookie, "login failed"
    return cookie


def test_client_for(app, email, password):
    """A test client of `app` logged in through the login form."""
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return client


def after_write_and_unchanged(app, client, path, repeat=5):
    """GET `path` right after a committed write (a user's row touched) and again unchanged,
    `repeat` times each: (last response, statements after a write, statements unchanged,
    median seconds after a write, median seconds unchanged)."""
    import statistics

    from exchange.extensions import db

    client.get(path)  # warm-up: first-time loads of the process
    written, unchanged = [], []
    for _ in range(repeat):
        with app.app_context():
            db.session.execute(
                sa.text("UPDATE users SET name = name WHERE id = (SELECT min(id) FROM users)")
            )
            db.session.commit()
        _resp, after_count, after_s = measured_get(app, client, path)
        resp, same_count, same_s = measured_get(app, client, path)
        written.append(after_s)
        unchanged.append(same_s)
    return (
        resp,
        after_count,
        same_count,
        statistics.median(written),
        statistics.median(unchanged),
    )


def measured_get(app, client, path):
    """GET `path` in the test client: (response, SQL statements, seconds). Fails unless 200."""
    from exchange.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def listener(*_args, **_kwargs):
        seen.append(1)

    sa.event.listen(engine, "before_cursor_execute", listener)
    started = time.perf_counter()
    try:
        resp = client.get(path)
    finally:
        elapsed = time.perf_counter() - started
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert resp.status_code == 200, (path, resp.status_code)
    return resp, len(seen), elapsed


def wrk(url, cookie=None, seconds=15, connections=8, threads=2):
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cmd += ["-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "requests": requests, "p50": p50, "p99": p99, "errors": errors}


def page_bench_arguments(description):
    """The options of the page benchmarks that seed applications and load them under wrk."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--applications", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


# One wrk per page kind, cycling over many (path, cookie) pairs: the requests are formatted
# once per thread, and done() prints the figures, as wrk's own report has no p95.
_CYCLE_LUA = """
local items = {%s}
local requests = {}
local i = 0
function init(args)
  for k, item in ipairs(items) do
    requests[k] = wrk.format("GET", item[1], {["Cookie"] = item[2], ["User-Agent"] = "%s"})
  end
  i = math.random(#requests)
end
function request()
  i = i %% #requests + 1
  return requests[i]
end
function done(summary, latency, _requests)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _lua_string(text):
    assert text.isascii() and "\n" not in text, text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class WrkCycle:
    """A wrk process started on `base`, cycling over `items` ((path, cookie) pairs) for
    `seconds` on `connections` connections; `result()` waits for it and returns requests/s,
    p50/p95/p99 in ms and the errors (non-2xx/3xx responses, socket errors, timeouts)."""

    def __init__(self, base, items, seconds, folder, connections=1, timeout=10):
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is missing: apt-get install wrk")
        script = Path(folder) / f"cycle-{uuid.uuid4().hex[:8]}.lua"
        body = ", ".join(
            f"{{{_lua_string(path)}, {_lua_string(cookie)}}}" for path, cookie in items
        )
        script.write_text(_CYCLE_LUA % (body, USER_AGENT))
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s"]
        self.proc = subprocess.Popen(
            [*cmd, "-s", str(script), base],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self):
        out, err = self.proc.communicate()
        line = re.search(r"^BENCH (.*)$", out, re.M)
        if self.proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed: {out}\n{err}")
        requests, duration, p50, p95, p99, *errors = map(int, line.group(1).split())
        connect, read, write, status, timeout = errors
        return {
            "requests": requests,
            "rps": requests / (duration / 1e6),
            "p50": p50 / 1000,
            "p95": p95 / 1000,
            "p99": p99 / 1000,
            "errors": sum(errors),
            "error_kinds": {
                k: v
                for k, v in zip(
                    ("connect", "read", "write", "status", "timeout"), errors, strict=True
                )
                if v
            },
        }
