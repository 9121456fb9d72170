from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..core.database import UTCDateTime, utcnow
from ..extensions import db


class Notification(db.Model):
    """One event for one person: shown in the in-app centre, mailed by their preference.

    Written in the same transaction as the change it reports, so an event is never announced
    for a change that rolled back, and never lost for one that committed."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Same key, same notification: a repeated event never notifies twice.
    dedup_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(64), doc="a declared event kind")
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_mails.id"))
    # Set when the event went into a digest mail (for people who chose digests).
    digested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Reminder(db.Model):
    """A reminder that was sent. The unique key makes each reminder exactly-once per
    recipient, kind, object and due date, even when two beats scan at the same moment."""

    __tablename__ = "reminders"
    __table_args__ = (
        sa.UniqueConstraint(
            "recipient_id", "kind", "object_type", "object_id", "due_on", name="uq_reminders_once"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[int]
    due_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Digest(db.Model):
    """A digest mail that was sent: one per user, period and period start."""

    __tablename__ = "digests"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "period", "period_start", name="uq_digests_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(sa.String(16), doc="daily or weekly")
    period_start: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mail_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_mails.id"))
