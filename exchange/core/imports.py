"""What every file import shares: the preview of its changes, the upload kept between the
preview and the confirmation, and the progress of a check or an import run by the worker.

A `Preview` is plain data (JSON round trip), so that a page can show it whether it was made in
the request or by the worker: counts per action, problems and warnings with their place in the
file, what was read how ("Deutschland → DE"), and samples of the rows per action with their
changes field by field ({field: [before, after]}).
"""

import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

TOKEN_RE = re.compile(r"^[0-9a-f]{32}\.(csv|json)$")
KEEP_SECONDS = 24 * 3600


@dataclass
class Preview:
    format: str
    mode: str = ""
    counts: dict = field(default_factory=dict)  # action -> number of rows
    problems: list = field(default_factory=list)  # [line, field, message]
    problem_count: int = 0
    warnings: list = field(default_factory=list)
    warning_count: int = 0
    interpreted: list = field(default_factory=list)  # [field, as written, read as, rows, line]
    samples: dict = field(default_factory=dict)  # action -> [{line, label, ..., changes}]
    applied: bool = False

    def count(self, action):
        return self.counts.get(action, 0)

    def where(self, line):
        """ "line 5" for CSV, "entry 5" for JSON, "file" for the whole file."""
        if line is None:
            return _("file")
        if self.format == "json":
            return _("entry %(n)s", n=line)
        return _("line %(n)s", n=line)

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, data):
        return cls(**data)


# --- uploads kept between the preview and the confirmation ----------------------------------


def _folder(kind):
    return Path(current_app.config["UPLOAD_DIR"]) / kind


def keep_upload(kind, content: bytes, fmt) -> str:
    """Store an upload under a random name; only that name goes back to the browser."""
    folder = _folder(kind)
    folder.mkdir(parents=True, exist_ok=True)
    stale = time.time() - KEEP_SECONDS
    for old in folder.iterdir():  # previews nobody confirmed, and their progress
        if old.stat().st_mtime < stale and TOKEN_RE.match(old.name.removesuffix(".status")):
            old.unlink(missing_ok=True)
    token = f"{secrets.token_hex(16)}.{fmt}"
    (folder / token).write_bytes(content)
    return token


def kept_upload(kind, token) -> Path | None:
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    path = _folder(kind) / token
    return path if path.is_file() else None


def discard_upload(kind, token):
    path = kept_upload(kind, token)
    if path is not None:
        path.unlink(missing_ok=True)


# --- progress of work done by the worker ----------------------------------------------------


def write_status(kind, token, **state):
    """Replace the status of the job on `token` (atomically: a page may be reading it)."""
    if not TOKEN_RE.match(token):
        raise ValueError(token)
    path = _folder(kind) / f"{token}.status"
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(state), encoding="utf-8")
    os.replace(part, path)


def read_status(kind, token) -> dict | None:
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    try:
        return json.loads((_folder(kind) / f"{token}.status").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def status_age(kind, token) -> float | None:
    """Seconds since the status of the job on `token` was last written (None: no status)."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    try:
        return time.time() - (_folder(kind) / f"{token}.status").stat().st_mtime
    except OSError:
        return None


class Progress:
    """A callback counting rows done, written to the status at most every `every` seconds."""

    def __init__(self, kind, token, state, total, every=0.5):
        self.kind, self.token, self.state, self.total = kind, token, state, total
        self.done, self.every, self.last = 0, every, time.monotonic()
        write_status(kind, token, state=state, done=0, total=total)

    def __call__(self, n=1):
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            write_status(self.kind, self.token, state=self.state, done=self.done, total=self.total)
