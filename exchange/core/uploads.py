"""Uploaded files: judged by their content (never by their name), stored outside static/
under random names, with size and SHA-256 recorded."""

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import abort, current_app, send_file
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from .errors import DomainError

# Magic numbers of the formats we accept, and the extension we store them under.
SIGNATURES = {
    "application/pdf": (b"%PDF-", ".pdf"),
    "image/png": (b"\x89PNG\r\n\x1a\n", ".png"),
    "image/jpeg": (b"\xff\xd8\xff", ".jpg"),
}
TYPE_LABELS = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}
# Other extensions a browser and an operating system open as the same type.
SUFFIX_ALIASES = {"image/jpeg": (".jpeg",)}


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    content_type: str
    size: int
    sha256: str


def sniff(head: bytes) -> str | None:
    """The content type `head` (the first bytes of a file) shows, among the accepted ones."""
    # Some PDF writers put blank lines before the header; readers accept them too.
    stripped = head.lstrip(b"\r\n\t ")
    for content_type, (magic, _suffix) in SIGNATURES.items():
        if (
            stripped.startswith(magic)
            if content_type == "application/pdf"
            else head.startswith(magic)
        ):
            return content_type
    return None


def folder(kind: str) -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / kind


def store(stream, kind: str, accepted: tuple[str, ...], *, max_bytes: int | None = None):
    """Copy `stream` into UPLOAD_DIR/`kind`/ if its content is one of `accepted`.

    Written to a temporary name first and renamed at the end, so a half-written file never
    has a name the database could point at."""
    head = stream.read(1024)
    if not head:
        raise DomainError(_l("The file is empty."), "file")
    content_type = sniff(head)
    if content_type not in accepted:
        names = ", ".join(TYPE_LABELS[t] for t in accepted)
        raise DomainError(
            _l("This file is not a %(types)s file (judged by its content).", types=names), "file"
        )
    max_bytes = max_bytes or current_app.config["MAX_CONTENT_LENGTH"]
    target = folder(kind)
    target.mkdir(parents=True, exist_ok=True)
    stored = secrets.token_hex(16) + SIGNATURES[content_type][1]
    digest = hashlib.sha256(head)
    size = len(head)
    tmp = target / (stored + ".part")
    try:
        with tmp.open("wb") as out:
            out.write(head)
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise DomainError(
                        _l("The file is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024)),
                        "file",
                    )
                digest.update(chunk)
                out.write(chunk)
        tmp.rename(target / stored)
    finally:
        tmp.unlink(missing_ok=True)
    return StoredFile(stored, content_type, size, digest.hexdigest())


def path_of(kind: str, stored_name: str | None) -> Path | None:
    if not stored_name or "/" in stored_name or "\\" in stored_name or stored_name.startswith("."):
        return None
    return folder(kind) / stored_name


def safe_filename(name: str | None, default: str) -> str:
    """The last part of what the browser sent as the file's name, without control characters;
    kept only to show and to offer as the download name."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:255] or default


def download_name(name: str | None, content_type: str, default: str = "document") -> str:
    """`name` with the extension of `content_type`: a PDF uploaded as "review.html" is offered
    as "review.pdf", so the saved file never opens as something else than what it is."""
    suffix = SIGNATURES[content_type][1]
    name = safe_filename(name, default)
    stem, dot, ext = name.rpartition(".")
    if dot and stem and "." + ext.lower() in (suffix, *SUFFIX_ALIASES.get(content_type, ())):
        return name
    return (stem if dot and stem else name) + suffix


def send_upload(path: Path | None, name: str | None, default: str = "document"):
    """The response that downloads a stored upload: its type judged again by its content
    (never by the name or by what the database says) and its name given the extension of
    that type. Every download of an uploaded file goes through here."""
    if path is None or not path.is_file():
        abort(404)
    with path.open("rb") as fh:
        content_type = sniff(fh.read(1024))
    if content_type is None:  # not a file store() accepted: never serve it
        abort(404)
    return send_file(
        path,
        mimetype=content_type,
        as_attachment=True,
        download_name=download_name(name, content_type, default),
        max_age=0,
    )


def delete_after_commit(path: Path | None):
    """Remove `path` once the current transaction commits (and keep it if it rolls back), so
    a row is never left pointing at a missing file."""
    if path is not None:
        db.session.info.setdefault("files_to_delete", []).append(path)


@event.listens_for(Session, "after_commit")
def _delete_files(session):
    for path in session.info.pop("files_to_delete", []):
        path.unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _keep_files(session):
    session.info.pop("files_to_delete", None)
