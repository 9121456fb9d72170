"""The append-only audit trail: who did what to which object, when and from where."""

from datetime import datetime

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .database import UTCDateTime, utcnow


class AuditEvent(db.Model):
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


def _show(value):
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def describe(details, skip=("partner_id",)):
    """Readable lines for an event's details: "field: old → new", or the value when created."""
    lines = []
    for key, value in (details or {}).items():
        if key in skip:
            continue
        label = key.replace("_", " ")
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], dict):
            before, after = value
            if before is None or before == "":
                lines.append(f"{label}: {_show(after)}")
            else:
                lines.append(f"{label}: {_show(before)} → {_show(after)}")
        else:
            lines.append(f"{label}: {_show(value)}")
    return lines
