"""The append-only audit trail: who did what to which object, when and from where."""

import re
from datetime import datetime

import sqlalchemy as sa
from flask import has_request_context, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import UTCDateTime, utcnow
from .i18n import format_moment


class AuditEvent(db.Model):  # type: ignore[name-defined]  # Flask-SQLAlchemy builds db.Model
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(sa.String(64))

    actor = relationship("User", lazy="joined")


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _append_only(_mapper, _conn, _target):
    raise RuntimeError("audit events are append-only")


def client_ip():
    return request.remote_addr if has_request_context() else None


def record(action, obj=None, *, actor=None, details=None, object_type=None, object_id=None):
    """Add an audit event to the current transaction (it commits with the change it records)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    event_row = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", actor),
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
        ip=client_ip(),
    )
    db.session.add(event_row)
    return event_row


def history(obj, *, limit, action_prefix=None):
    """The newest audit events about `obj` (newest first), optionally only those whose
    action starts with `action_prefix` ("profile.")."""
    stmt = sa.select(AuditEvent).where(
        AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == str(obj.id)
    )
    if action_prefix:
        stmt = stmt.where(AuditEvent.action.startswith(action_prefix, autoescape=True))
    return db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)).all()


# What histories show instead of raw keys ("call.offerings_changed", "full_year"). Core knows
# no feature: the features' words are registered from above (see notifications.history).
ACTION_LABELS: dict = {}
OBJECT_LABELS: dict = {}
FIELD_LABELS: dict = {}
VALUE_LABELS: dict = {}  # field -> {raw value -> label}; "*" for any field
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def register_labels(*, actions=None, objects=None, fields=None, values=None):
    ACTION_LABELS.update(actions or {})
    OBJECT_LABELS.update(objects or {})
    FIELD_LABELS.update(fields or {})
    for field, labels in (values or {}).items():
        VALUE_LABELS.setdefault(field, {}).update(labels)


def _humane(key):
    """A key nobody named yet, made readable: "offerings_changed" -> "Offerings changed"."""
    text = str(key).replace("_", " ").replace(".", " · ").strip()
    return text[:1].upper() + text[1:]


def action_label(action):
    return ACTION_LABELS.get(action) or _humane(action or "")


def object_label(object_type):
    return OBJECT_LABELS.get(object_type) or (object_type or "")


def field_label(key):
    return FIELD_LABELS.get(key) or _humane(key)


def _show(value, field=None):
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return ", ".join(_show(v, field) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{field_label(k)}: {_show(v, k)}" for k, v in value.items())
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            return format_moment(datetime.fromisoformat(value))
        except ValueError:
            return value
    for labels in (VALUE_LABELS.get(field), VALUE_LABELS.get("*")):
        if not labels or not isinstance(value, str | int):
            continue
        if value in labels:
            return str(labels[value])
        words = str(value).split()
        if len(words) > 1 and all(w in labels for w in words):  # "transcript passport"
            return ", ".join(str(labels[w]) for w in words)
    return str(value)


def describe(details, skip=("partner_id",)):
    """Readable lines for an event's details: "Places: 3 → 5", or the value when created, in the
    reader's language; never the raw JSON."""
    lines = []
    for key, value in (details or {}).items():
        if key in skip:
            continue
        label = field_label(key)
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], dict):
            before, after = value
            if before is None or before == "":
                lines.append(f"{label}: {_show(after, key)}")
            else:
                lines.append(f"{label}: {_show(before, key)} → {_show(after, key)}")
        else:
            lines.append(f"{label}: {_show(value, key)}")
    return lines


def init_app(app):
    app.jinja_env.filters["audit_lines"] = describe
    app.jinja_env.globals["audit_action"] = action_label
    app.jinja_env.globals["audit_object"] = object_label
