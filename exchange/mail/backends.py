"""Where a mail goes: an SMTP server, a folder of .eml files, or a list in memory (tests)."""

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from time import monotonic

from flask import current_app

from ..core.database import utcnow

log = logging.getLogger(__name__)


class TemporaryMailError(Exception):
    """Worth trying again later (4xx answer, connection refused or lost)."""


class AmbiguousMailError(TemporaryMailError):
    """The whole message went out but the server's answer to it never came: the server may have
    kept it. Trying again may deliver a second copy (with the same Message-ID)."""


class PermanentMailError(Exception):
    """Retrying will not help (5xx answer: unknown recipient, refused content)."""


def build_message(mail):
    msg = EmailMessage()
    msg["Subject"] = mail.subject
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = mail.to_address
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = mail.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Exchange-Mail-Id"] = str(mail.id)
    msg.set_content(mail.body_text)
    if mail.body_html:
        msg.add_alternative(mail.body_html, subtype="html")
    return msg


def send(msg, accepted, deadline=None, before_message=None):
    """Hand `msg` to the backend and call `accepted()` as soon as the backend holds it (for
    SMTP: the server's 250 to the end of DATA, before QUIT). SMTP only: `before_message()` is
    called when the server has agreed to take the message (354), just before it goes out, and
    `deadline` (time.monotonic()) is when the conversation must have ended."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "smtp":
        return _send_smtp(msg, accepted, deadline, before_message)
    if backend == "outbox":
        _send_outbox(msg)
    elif backend == "memory":
        current_app.extensions.setdefault("mail_memory", []).append(msg)
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r} (smtp, outbox or memory)")
    accepted()


def _send_outbox(msg):
    folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{msg['X-Exchange-Mail-Id']}.eml"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(bytes(msg))
    tmp.rename(folder / name)  # atomic: a reader never sees half a mail


class _Conversation:
    """An SMTP client that knows when the whole message has gone out (a failure after that is
    ambiguous) and that gives up at a deadline (after it the outbox may give the mail to
    another worker)."""

    deadline = None
    before_message = None
    message_sent = False

    def _check_deadline(self):
        """Shorten the socket's timeout to what is left; True when that cut it."""
        if self.deadline is None:
            return False
        left = self.deadline - monotonic()
        if left <= 0:
            # The caller hangs up; smtplib's own clean-ups let this one through.
            raise smtplib.SMTPServerDisconnected("no answer before the delivery deadline")
        if self.sock is not None and left < self.timeout:
            self.sock.settimeout(left)
            return True
        return False

    def send(self, s):
        self._check_deadline()
        # Commands go out as str; only the message itself, ending in CRLF.CRLF, as bytes.
        message = isinstance(s, bytes) and s.endswith(b"\r\n.\r\n")
        if message and self.before_message is not None:
            self.before_message()
        super().send(s)
        if message:
            self.message_sent = True

    def getreply(self):
        cut = self._check_deadline()
        try:
            return super().getreply()
        except smtplib.SMTPServerDisconnected as exc:
            if cut:
                raise smtplib.SMTPServerDisconnected(
                    "no answer before the delivery deadline"
                ) from exc
            raise


class _SMTP(_Conversation, smtplib.SMTP):
    pass


class _SMTP_SSL(_Conversation, smtplib.SMTP_SSL):
    pass


def _send_smtp(msg, accepted, deadline, before_message):
    cfg = current_app.config
    timeout = cfg["MAIL_TIMEOUT"]
    if deadline is not None:
        timeout = max(0.001, min(timeout, deadline - monotonic()))
    smtp = (_SMTP_SSL if cfg["MAIL_USE_SSL"] else _SMTP)(timeout=timeout)
    smtp.deadline = deadline
    smtp.before_message = before_message
    try:
        smtp.connect(cfg["MAIL_SERVER"], cfg["MAIL_PORT"])
        if cfg["MAIL_USE_TLS"] and not cfg["MAIL_USE_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        refused = smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        smtp.close()
        codes = [code for code, _ in exc.recipients.values()]
        raise _classify(min(codes), str(exc.recipients)) from exc
    except smtplib.SMTPResponseException as exc:
        smtp.close()
        raise _classify(exc.smtp_code, exc.smtp_error) from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        smtp.close()
        error = TemporaryMailError
        if smtp.message_sent:
            error = AmbiguousMailError
        raise error(f"{type(exc).__name__}: {exc}") from exc
    if refused:
        smtp.close()
        codes = [code for code, _ in refused.values()]
        raise _classify(min(codes), str(refused))
    try:
        accepted()
    finally:
        _quit(smtp)


def _quit(smtp):
    """QUIT is not part of delivery: the mail is already recorded as sent."""
    smtp.deadline = None
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.info("mail server did not answer QUIT: %s", exc)
    finally:
        smtp.close()


def _classify(code, text):
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    message = f"{code} {text}"
    return TemporaryMailError(message) if 400 <= code < 500 else PermanentMailError(message)
