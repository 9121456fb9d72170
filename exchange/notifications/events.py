"""Declared kinds of events and `notify`, which records them for their recipients.

A feature plugs in by declaring its event (a name, an e-mail template, the in-app title)
and calling `notify` in the operation that makes the change; nothing else is needed."""

from dataclasses import dataclass

from flask import current_app
from flask_babel.speaklater import LazyString

from ..extensions import db
from ..mail.operations import queue_mail
from .labels import present
from .models import Notification


@dataclass(frozen=True)
class EventKind:
    name: str
    template: str  # templates/emails/<template>.txt and .html
    title: object  # lazy string, formatted with the event's data when it is shown
    # Essential mails (e.g. password reset) go out at once whatever the user's preference.
    essential: bool = False


EVENTS: dict[str, EventKind] = {}


def declare(name, template, title, *, essential=False) -> EventKind:
    kind = EventKind(name, template, title, essential)
    EVENTS[name] = kind
    return kind


def application_data(application, step=None, **extra):
    """What a notification about an application keeps: its link and the names it shows."""
    data = {
        "application_id": application.id,
        "path": f"/applications/{application.id}",
        "student": application.student.name,
        "call": application.call.title,
    }
    if step is not None:
        data["step"] = step.name
    return dict(data, **extra)


def deadline_data(moment, zone):
    """A deadline as a notification keeps it: the instant and the call's zone, written out in
    the reader's language when shown."""
    return {"deadline_at": moment.isoformat() if moment else None, "zone": zone}


def absolute(path):
    """The address of `path` for a mail (the worker has no request to build it from)."""
    if not path:
        return current_app.config["BASE_URL"]
    return current_app.config["BASE_URL"].rstrip("/") + path


def title_of(notification) -> str:
    """The title in the language of whoever reads it now (titles are not stored rendered)."""
    kind = EVENTS.get(notification.kind)
    if kind is None:
        return notification.kind
    try:
        return str(kind.title) % {k: str(v) for k, v in present(notification.data).items()}
    except (KeyError, TypeError, ValueError):
        return str(kind.title)


def lazy_title(notification):
    """The title, written when it is shown (e.g. in a digest rendered in its reader's language)."""
    return LazyString(title_of, notification)


def wants_mail_now(user, kind: EventKind) -> bool:
    """Essential mails always; the rest unless the user chose a digest."""
    preference = getattr(user, "mail_preference", None)
    return kind.essential or preference is None or getattr(preference, "value", "") == "immediate"


def notify(kind_name, recipients, *, obj=None, data=None, key, context=None):
    """Record event `kind_name` for each recipient (users; duplicates and inactive users are
    skipped) in the current transaction, and queue the mail of those who want it at once.

    `key` identifies the event (e.g. "step-42-decided"): the same key never notifies the
    same person twice. `data` (JSON) is kept with the notification; `context` (may hold
    objects) is only for rendering the mail."""
    kind = EVENTS[kind_name]
    data = dict(data or {})
    seen = set()
    created = []
    for user in recipients:
        if user is None or user.id in seen or not user.active:
            continue
        seen.add(user.id)
        dedup_key = f"{kind_name}:{key}:{user.id}"
        exists = db.session.scalar(
            db.select(Notification.id).where(Notification.dedup_key == dedup_key)
        )
        if exists is not None:
            continue
        notification = Notification(
            dedup_key=dedup_key,
            user_id=user.id,
            kind=kind_name,
            object_type=type(obj).__name__ if obj is not None else None,
            object_id=str(obj.id) if obj is not None else None,
            data=data,
        )
        if wants_mail_now(user, kind):
            mail = queue_mail(
                user,
                kind.template,
                dict(context or {}, **present(data), link=absolute(data.get("path"))),
                dedup_key=f"mail:{dedup_key}",
                obj=obj,
            )
            notification.mail_id = mail.id if mail is not None else None
        db.session.add(notification)
        created.append(notification)
    return created


def unread_subquery(user_id):
    """The unread count of `user_id` (a column), to ride in the login statement."""
    return (
        db.select(db.func.count(Notification.id))
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


def unread_count(user_id) -> int:
    return db.session.scalar(
        db.select(db.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
