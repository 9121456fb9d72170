"""The worker writes a heartbeat each minute (beat → worker), so the web side can tell whether
background work is actually running, not just whether the broker answers."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .database import UTCDateTime, utcnow


class Heartbeat(db.Model):  # type: ignore[name-defined]  # Flask-SQLAlchemy builds db.Model
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def beat(name="worker"):
    row = db.session.get(Heartbeat, name)
    if row is None:
        db.session.add(Heartbeat(name=name, at=utcnow()))
    else:
        row.at = utcnow()
    db.session.commit()


def last_beat(name="worker"):
    row = db.session.get(Heartbeat, name)
    return row.at if row else None
