"""The notification centre, the digest preview and the mail logs."""

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.models import Role, User
from ..applications.models import Application
from ..core.database import utcnow
from ..core.forms import ConfirmForm
from ..core.params import page_number, whole
from ..core.security import roles_required, safe_redirect_target
from ..extensions import db
from ..mail.models import OutboxMail
from ..mail.operations import render_mail
from . import digests, events, history
from .labels import template_globals
from .models import Notification

bp = Blueprint("notifications", __name__)
PER_PAGE = 30
STAFF = Role.STAFF


def unread_notifications():
    """For the navigation badge: one cheap statement per request, only when shown."""
    if not current_user.is_authenticated:
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = events.unread_count(current_user.id)
    return g.unread_notifications


@bp.record_once
def _register_globals(state):
    state.app.jinja_env.globals.update(template_globals())
    state.app.jinja_env.globals["unread_notifications"] = unread_notifications
    state.app.jinja_env.globals["notification_title"] = events.title_of  # events uses labels
    history.register()


@bp.get("/")
@login_required
def index():
    page = page_number(request.args)
    query = sa.select(Notification).where(Notification.user_id == current_user.id)
    if request.args.get("unread") == "1":
        query = query.where(Notification.read_at.is_(None))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Notification.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    return render_template(
        "notifications/index.html",
        notifications=rows,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        total=total,
        unread_only=request.args.get("unread") == "1",
        confirm_form=ConfirmForm(),
    )


@bp.post("/<int:notification_id>/open")
@login_required
def open_notification(notification_id):
    """Mark it read and go to what it is about."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    # Only our own paths: a notification must never send anyone elsewhere.
    path = safe_redirect_target((notification.data or {}).get("path"))
    return redirect(path or url_for("notifications.index"))


@bp.post("/read")
@login_required
def mark_all_read():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    flash(_("All notifications are marked as read."), "success")
    return redirect(url_for("notifications.index"))


def _preview_target():
    user = current_user
    if request.args.get("user") and current_user.has_role(Role.ADMIN):
        user = db.get_or_404(User, whole(request.args.get("user"), 0))
    period = request.args.get("period")
    if period not in ("daily", "weekly"):
        period = digests.period_of(user, user.roles) or "daily"
    return user, period


def _render_digest(user, period):
    content = digests.build(user, period, utcnow(), since=digests._previous(user.id, period))
    subject, _text, html = render_mail(
        "digest",
        {"digest": content, "link": events.absolute("/home"), "recipient": user},
        user.locale,
        user.timezone,
    )
    return content, subject, html


@bp.get("/digest-preview")
@roles_required(*STAFF)
def digest_preview():
    """The digest the current user (or, for admins, any user) would get now."""
    user, period = _preview_target()
    content, subject, _html = _render_digest(user, period)
    return render_template(
        "notifications/digest_preview.html",
        subject=subject,
        content=content,
        user=user,
        period=period,
        frame_args={"period": period, "user": request.args.get("user")},
    )


@bp.get("/digest-preview/mail")
@roles_required(*STAFF)
def digest_preview_mail():
    """The mail itself, shown in a frame of the preview page. Mail HTML carries inline
    styles, which the site's policy forbids; this response alone allows them, and nothing
    else (no scripts, no outside resources), and only inside our own pages."""
    user, period = _preview_target()
    _content, _subject, html = _render_digest(user, period)
    response = make_response(html)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _mail_log(condition, title, back=None):
    mails = db.session.scalars(
        sa.select(OutboxMail).where(condition).order_by(OutboxMail.id.desc()).limit(200)
    ).all()
    return render_template("notifications/mail_log.html", mails=mails, title=title, back=back)


@bp.get("/mail-log/application/<int:application_id>")
@roles_required(*STAFF)
def application_mail_log(application_id):
    application = db.get_or_404(Application, application_id)
    return _mail_log(
        sa.and_(
            OutboxMail.object_type == "Application", OutboxMail.object_id == str(application.id)
        ),
        _("Mails about application %(id)s", id=application.id),
        url_for("applications.detail", application_id=application.id),
    )


@bp.get("/mail-log/user/<int:user_id>")
@roles_required(*STAFF)
def user_mail_log(user_id):
    user = db.get_or_404(User, user_id)
    return _mail_log(OutboxMail.recipient_id == user.id, _("Mails to %(name)s", name=user.name))
