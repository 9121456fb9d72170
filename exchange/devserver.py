"""`make run`: the web server, a Celery worker and beat together; Ctrl-C stops all three."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO = ["student", "advisor", "coordinator", "admin"]


def main():
    port = os.environ.get("PORT", "5000")
    env = dict(os.environ, EXCHANGE_ENV=os.environ.get("EXCHANGE_ENV", "development"))
    env.setdefault("BASE_URL", f"http://127.0.0.1:{port}")
    # The worker and beat speak of warnings and errors only, without their banners, so that
    # the address and the logins below stay on screen; LOG_LEVEL=INFO shows every task.
    level = os.environ.get("LOG_LEVEL", "WARNING")
    celery = [str(BIN / "celery"), "--quiet", "-A", "worker"]
    commands = {
        "web": [str(BIN / "flask"), "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", port],
        "worker": [*celery, "worker", f"--loglevel={level}", "--pool=solo"],
        "beat": [*celery, "beat", f"--loglevel={level}"],
    }
    procs = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in commands.items()}
    time.sleep(1.5)
    url = f"http://127.0.0.1:{port}/"
    print(f"\n  Exchange is running at {url}")
    print("  Demo logins (password: exchange-demo):")
    for role in DEMO:
        print(f"    {role + '@example.edu':28} {role}")
    print("  Mail goes to instance/outbox/ (admins: Mail → Development outbox).")
    print("  Press Ctrl-C to stop the web server, worker and beat.\n", flush=True)

    def stop(*_):
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} stopped with code {proc.returncode}; stopping the others.")
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
