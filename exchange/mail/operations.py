"""Queueing mail. A mail is rendered now, in the recipient's language and time zone, and stored
as an outbox row in the caller's transaction; `dispatch` hands it to the worker after commit."""

import re
from itertools import groupby

from flask import current_app, g, render_template
from flask_babel import force_locale, refresh
from markupsafe import escape

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
    rendered = render_mail(template, context, recipient.locale, recipient.timezone)
    mail = _outbox_row(recipient, template, rendered, obj, dedup_key)
    db.session.add(mail)
    db.session.flush()
    dispatch.queue(mail.id)
    return mail


def _outbox_row(recipient, template, rendered, obj, dedup_key=None):
    subject, text, html = rendered
    return OutboxMail(
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


# --- the same mail to many: rendered once per language and time zone ------------------------

MARK = "\ue000{}\ue001"  # private-use characters: in no template, and HTML escaping keeps them
MARKED = re.compile("\ue000([^\ue001]*)\ue001")


class _MarkedRecipient:
    """Stands for every recipient while the template renders: each attribute is a mark."""

    def __getattr__(self, name):
        if name.startswith("_"):  # __html__ and the like: not an attribute of a recipient
            raise AttributeError(name)
        return MARK.format("recipient." + name)


def queue_mails(template, recipients, personal, shared=None, *, objs):
    """Queue `template` for each recipient, as queue_mail does one at a time, in one INSERT:
    rendered once per language and time zone with marks where the recipient's own values go
    (recipient.<attribute> and the keys of `personal[i]`), then the marks replaced for each
    recipient (escaped in the HTML). Only for templates that print those values as they are:
    a template that tests or filters them would test the mark. `objs[i]` is what each mail
    is about."""
    mails = []
    people = sorted(zip(recipients, personal, objs, strict=True), key=_language_and_zone)
    for (locale, timezone), group in groupby(people, key=_language_and_zone):
        group = list(group)
        marks = {key: MARK.format(key) for key in group[0][1]}
        context = dict(shared or {}, **marks, recipient=_MarkedRecipient())
        rendered = render_mail(template, context, locale or None, timezone or None)
        for recipient, values, obj in group:
            own = _filled(rendered, recipient, values)
            mails.append(_outbox_row(recipient, template, own, obj))
    db.session.add_all(mails)
    db.session.flush()
    for mail in mails:
        dispatch.queue(mail.id)
    return mails


def _language_and_zone(person):
    recipient = person[0]
    return recipient.locale or "", recipient.timezone or ""


def _filled(rendered, recipient, values):
    """(subject, text, html) with each mark replaced by the recipient's value."""

    def value(match):
        key = match.group(1)
        if key.startswith("recipient."):
            return str(getattr(recipient, key.removeprefix("recipient.")))
        return str(values[key])

    subject, text, html = rendered
    escaped = MARKED.sub(lambda match: str(escape(value(match))), html)
    return MARKED.sub(value, subject), MARKED.sub(value, text), escaped
