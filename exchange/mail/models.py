import enum
from datetime import datetime
from email.utils import make_msgid, parseaddr

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Mapped, mapped_column

from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db


class MailStatus(enum.Enum):
    PENDING = "pending"  # written, not yet handed to a backend
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"
    FAILED = "failed"  # permanent refusal, or attempts exhausted


def new_message_id():
    """A Message-ID in the sender's domain, fixed when the mail is queued: every attempt sends
    the same one, so receivers and servers can drop a copy that a retry delivered again."""
    domain = "exchange.local"
    if has_app_context():
        sender = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
        domain = sender.rpartition("@")[2] or domain
    return make_msgid(domain=domain)


class OutboxMail(db.Model):
    __tablename__ = "outbox_mails"
    __table_args__ = (sa.Index("ix_outbox_mails_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Same key, same mail: a repeated event can never produce a second message.
    dedup_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    recipient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    template: Mapped[str] = mapped_column(sa.String(100))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[MailStatus] = mapped_column(enum_column(MailStatus), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True, default=new_message_id)
    # An attempt whose end is unknown: the whole message went out, the server's answer did not
    # come back. The server may have kept it; the next attempt waits longer.
    possibly_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When an attempt began to send the message itself (the server had agreed to take it): a
    # worker that died after this, before the answer, may have delivered it.
    message_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
