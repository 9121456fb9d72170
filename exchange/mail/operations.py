"""Queueing mail. A mail is rendered now, in the recipient's language and time zone, and stored
as an outbox row in the caller's transaction; `dispatch` hands it to the worker after commit."""

from flask import current_app, g, render_template
from flask_babel import force_locale, refresh

from ..extensions import db
from . import dispatch
from .models import OutboxMail


def external_url(endpoint, **values):
    """An absolute link for a mail (built from BASE_URL; the worker has no request)."""
    adapter = current_app.url_map.bind("localhost")
    return current_app.config["BASE_URL"].rstrip("/") + adapter.build(endpoint, values)


def render_mail(template, context, locale=None, timezone=None):
    """Return (subject, text, html) for templates/emails/<template>.txt and .html."""
    saved_tz = g.get("mail_timezone")
    g.mail_timezone = timezone
    try:
        with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            refresh()
            text_tpl = current_app.jinja_env.get_template(f"emails/{template}.txt")
            subject = str(text_tpl.make_module(context).subject).strip()
            text = render_template(f"emails/{template}.txt", **context)
            html = render_template(f"emails/{template}.html", subject=subject, **context)
    finally:
        g.mail_timezone = saved_tz
        refresh()
    return subject, text, html


def queue_mail(recipient, template, context=None, *, dedup_key=None, obj=None):
    """Add a mail for `recipient` (a User) to the current transaction.

    With a `dedup_key` that was already used, nothing is added and None is returned.
    """
    if dedup_key is not None:
        existing = db.session.scalar(
            db.select(OutboxMail.id).where(OutboxMail.dedup_key == dedup_key)
        )
        if existing is not None:
            return None
    context = dict(context or {}, recipient=recipient)
    subject, text, html = render_mail(template, context, recipient.locale, recipient.timezone)
    mail = OutboxMail(
        dedup_key=dedup_key,
        recipient_id=recipient.id,
        to_address=recipient.email,
        template=template,
        subject=subject,
        body_text=text,
        body_html=html,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=str(obj.id) if obj is not None else None,
    )
    db.session.add(mail)
    db.session.flush()
    dispatch.queue(mail.id)
    return mail
