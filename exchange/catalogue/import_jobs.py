"""Checking and importing a kept partner file, in the request (small files) or in the worker
(large ones), with the outcome and the progress kept in a status beside the upload:

    {"state": "queued" | "checking" | "importing", "done": rows, "total": rows}
    {"state": "checked" | "imported", "preview": Preview.to_json(), "filename": ...}
    {"state": "failed", "message": ...}

The progress page tells when the worker seems not to be running: queued work not started, or
running work without progress, for IMPORT_WORKER_WAIT_SECONDS (see `stalled`).

A web worker thus never holds a large file's rows: the 165,000 rows of a 10 MB CSV take the
worker ~20 s and several hundred MB (see bench/catalogue_import.py --csv-rows).
"""

import logging

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..core import imports
from ..core.errors import DomainError
from ..extensions import db
from . import formats, importer

KIND = "imports"  # the folder under UPLOAD_DIR
RUNNING = ("queued", "checking", "importing")
CHECK_TASK = "exchange.catalogue.check_import"
IMPORT_TASK = "exchange.catalogue.run_import"
log = logging.getLogger(__name__)


def keep(content: bytes, fmt) -> str:
    return imports.keep_upload(KIND, content, fmt)


def kept(token):
    return imports.kept_upload(KIND, token)


def discard(token):
    imports.discard_upload(KIND, token)


def status(token) -> dict | None:
    return imports.read_status(KIND, token)


def in_worker(token) -> bool:
    """Whether the kept file is too large to check or import within a request."""
    path = kept(token)
    return path is not None and path.stat().st_size > current_app.config["IMPORT_INLINE_BYTES"]


def queue(token, task, *args):
    """Hand the work on a kept file to the worker; its page then shows the progress, or that
    the broker could not take it."""
    imports.write_status(KIND, token, state="queued", done=0, total=0)
    try:
        current_app.extensions["celery"].send_task(task, args=[token, *args])
    except Exception:
        log.warning("broker unavailable; %s for %s was not sent", task, token, exc_info=True)
        message = _(
            "The background worker cannot be reached now; nothing was done. Try again later."
        )
        imports.write_status(KIND, token, state="failed", message=message)


def stalled(token, state) -> str | None:
    """ "not started" when queued work has waited, "stopped" when running work has shown no
    progress, for IMPORT_WORKER_WAIT_SECONDS; None otherwise."""
    age = imports.status_age(KIND, token)
    if state not in RUNNING or age is None:
        return None
    if age < current_app.config["IMPORT_WORKER_WAIT_SECONDS"]:
        return None
    return "not started" if state == "queued" else "stopped"


def cancel(token) -> bool:
    """Stop waiting for the work on a kept file: the file goes, so a task that starts later
    finds nothing to check or import. Refused (False) while the worker is making progress:
    the rows it has read would still be imported."""
    state = (status(token) or {}).get("state")
    if state in ("checking", "importing") and stalled(token, state) is None:
        return False
    discard(token)
    imports.write_status(KIND, token, state="failed", message=_("Cancelled."))
    return True


def _parse(token, state):
    path = kept(token)
    if path is None:
        raise DomainError(_("This preview has expired. Upload the file again."))
    imports.write_status(KIND, token, state=state, done=0, total=0)
    return formats.read_file(path.read_bytes(), formats.format_of(token))


def check(token, mode: importer.ImportMode, filename="") -> imports.Preview:
    """Check a kept file against the catalogue and keep its preview. Writes nothing."""
    parsed = _parse(token, "checking")
    progress = imports.Progress(KIND, token, "checking", parsed.expected)
    preview = importer.run_import(parsed, progress=progress, mode=mode).preview()
    imports.write_status(KIND, token, state="checked", preview=preview.to_json(), filename=filename)
    return preview


def run(token, mode: importer.ImportMode, filename, actor) -> imports.Preview:
    """Check a kept file again and import it (all rows or none); commits. The status says
    "imported" with what was done, "checked" with the problems found now, or "failed"."""
    try:
        parsed = _parse(token, "importing")
        progress = imports.Progress(KIND, token, "importing", parsed.expected)
        result = importer.run_import(
            parsed, mode=mode, apply=True, actor=actor, filename=filename, progress=progress
        )
        if result.problems:
            # The catalogue changed since the preview: show the new problems, write nothing.
            db.session.rollback()
            preview = result.preview()
            imports.write_status(
                KIND, token, state="checked", preview=preview.to_json(), filename=filename
            )
            return preview
        db.session.commit()
    except (DomainError, IntegrityError) as exc:
        db.session.rollback()
        message = getattr(exc, "message", None) or _(
            "The catalogue changed during the import; nothing was imported. Try again."
        )
        imports.write_status(KIND, token, state="failed", message=str(message))
        raise
    preview = result.preview()
    imports.write_status(
        KIND, token, state="imported", preview=preview.to_json(), filename=filename
    )
    imports.discard_upload(KIND, token)
    return preview


def check_in_worker(token, mode, filename):
    """The worker's check task (receives plain values)."""
    try:
        check(token, importer.ImportMode(mode), filename)
    except DomainError as exc:
        imports.write_status(KIND, token, state="failed", message=str(exc.message))
    except Exception:
        imports.write_status(KIND, token, state="failed", message=_("The check failed."))
        raise


def run_in_worker(token, mode, filename, actor_id):
    """The worker's import task (receives plain values)."""
    actor = db.session.get(User, actor_id)
    try:
        run(token, importer.ImportMode(mode), filename, actor)
    except (DomainError, IntegrityError):
        pass  # the status says so; a retry would fail the same way
    except Exception:
        db.session.rollback()
        message = _("The import failed; nothing was imported.")
        imports.write_status(KIND, token, state="failed", message=message)
        raise
