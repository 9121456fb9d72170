"""Where a mail goes: an SMTP server, a folder of .eml files, or a list in memory (tests)."""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app

from ..core.database import utcnow


class TemporaryMailError(Exception):
    """Worth trying again later (4xx answer, connection refused or lost)."""


class PermanentMailError(Exception):
    """Retrying will not help (5xx answer: unknown recipient, refused content)."""


def build_message(mail):
    msg = EmailMessage()
    msg["Subject"] = mail.subject
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = mail.to_address
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = mail.message_id or make_msgid(domain="exchange.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Exchange-Mail-Id"] = str(mail.id)
    msg.set_content(mail.body_text)
    if mail.body_html:
        msg.add_alternative(mail.body_html, subtype="html")
    return msg


def send(msg):
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "smtp":
        return _send_smtp(msg)
    if backend == "outbox":
        return _send_outbox(msg)
    if backend == "memory":
        current_app.extensions.setdefault("mail_memory", []).append(msg)
        return
    raise RuntimeError(f"unknown MAIL_BACKEND {backend!r} (smtp, outbox or memory)")


def _send_outbox(msg):
    folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{msg['X-Exchange-Mail-Id']}.eml"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(bytes(msg))
    tmp.rename(folder / name)  # atomic: a reader never sees half a mail


def _send_smtp(msg):
    cfg = current_app.config
    cls = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
    try:
        with cls(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT"]) as smtp:
            if cfg["MAIL_USE_TLS"] and not cfg["MAIL_USE_SSL"]:
                smtp.starttls(context=ssl.create_default_context())
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
            refused = smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise _classify(min(codes), str(exc.recipients)) from exc
    except smtplib.SMTPResponseException as exc:
        raise _classify(exc.smtp_code, exc.smtp_error) from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise TemporaryMailError(f"{type(exc).__name__}: {exc}") from exc
    if refused:
        codes = [code for code, _ in refused.values()]
        raise _classify(min(codes), str(refused))


def _classify(code, text):
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    message = f"{code} {text}"
    return TemporaryMailError(message) if 400 <= code < 500 else PermanentMailError(message)
