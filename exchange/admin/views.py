from email import policy
from email.parser import BytesParser
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts import operations as ops
from ..accounts.models import Role, StudentProfile, Unit, UnitFunction, UnitKind, User, UserRole
from ..accounts.queries import person_matches
from ..core import audit
from ..core.audit import AuditEvent
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.forms import ConfirmForm
from ..core.params import page_number
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from ..mail.delivery import resend, stale_claim_age
from ..mail.models import MailStatus, OutboxMail
from ..main.queries import students_per_unit
from .forms import UnitForm, UserForm

bp = Blueprint("admin", __name__)
PER_PAGE = 25


def _all_units():
    return db.session.scalars(sa.select(Unit).order_by(Unit.code)).all()


# --- users -----------------------------------------------------------------------------------


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    status = request.args.get("status", "active")
    stmt = sa.select(User).order_by(User.name, User.id)
    if q:
        stmt = stmt.outerjoin(StudentProfile).where(person_matches(q))
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role_rows.any(UserRole.role == Role(role)))
    if status == "active":
        stmt = stmt.where(User.active.is_(True))
    elif status == "inactive":
        stmt = stmt.where(User.active.is_(False))
    page = db.paginate(stmt, page=page_number(request.args), per_page=PER_PAGE, error_out=False)
    return render_template("admin/users.html", page=page, q=q, role=role, status=status)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_new():
    form = UserForm(units=_all_units())
    if form.validate_on_submit():
        units = [db.session.get(Unit, uid) for uid in form.units.data]
        try:
            user = ops.create_user(
                form.email.data,
                form.name.data,
                [Role(r) for r in form.roles.data],
                units=units,
                function=UnitFunction(form.function.data),
                actor=current_user,
            )
            ops.invite_user(user, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            getattr(form, exc.field or "email").errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(
                _(
                    "Account created for %(email)s; an invitation to set a password was sent.",
                    email=user.email,
                ),
                "success",
            )
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_edit(user_id):
    user = db.get_or_404(User, user_id)
    memberships = {m.unit_id: m.function for m in user.memberships}
    function = next(iter(memberships.values()), UnitFunction.MEMBER)
    form = UserForm(
        units=_all_units(),
        data=None
        if request.method == "POST"
        else {
            "email": user.email,
            "name": user.name,
            "roles": [r.value for r in user.roles],
            "units": list(memberships),
            "function": function.value,
        },
    )
    if form.validate_on_submit():
        units = [db.session.get(Unit, uid) for uid in form.units.data]
        try:
            ops.update_details(user, name=form.name.data, email=form.email.data, actor=current_user)
            ops.set_roles(user, [Role(r) for r in form.roles.data], actor=current_user)
            ops.set_units(
                user, {u: UnitFunction(form.function.data) for u in units}, actor=current_user
            )
        except DomainError as exc:
            db.session.rollback()
            getattr(form, exc.field or "email").errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    events = audit.history(user, limit=20)
    return render_template(
        "admin/user_form.html", form=form, user=user, events=events, confirm=ConfirmForm()
    )


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def user_set_active(user_id):
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    run_and_flash(
        lambda: ops.set_active(user, active, actor=current_user),
        _("Account activated.") if active else _("Account deactivated; its sessions ended."),
    )
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/invite")
@roles_required(Role.ADMIN)
def user_invite(user_id):
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    ops.invite_user(user, actor=current_user)
    db.session.commit()
    flash(_("A link to set a password was sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


# --- units -----------------------------------------------------------------------------------


@bp.get("/units")
@roles_required(Role.ADMIN)
def units():
    return render_template("admin/units.html", rows=students_per_unit())


@bp.route("/units/new", methods=["GET", "POST"], defaults={"unit_id": None})
@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def unit_edit(unit_id):
    unit = db.get_or_404(Unit, unit_id) if unit_id else None
    form = UnitForm(obj=unit) if request.method == "GET" and unit else UnitForm()
    if request.method == "GET" and unit:
        form.kind.data = unit.kind.value
    if form.validate_on_submit():
        try:
            unit = ops.save_unit(
                unit,
                code=form.code.data,
                name=form.name.data,
                name_native=form.name_native.data,
                kind=UnitKind(form.kind.data),
                student_count=form.student_count.data,
                active=form.active.data,
                actor=current_user,
            )
        except DomainError as exc:
            db.session.rollback()
            getattr(form, exc.field or "code").errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(_("Unit %(code)s saved.", code=unit.code), "success")
            return redirect(url_for("admin.units"))
    return render_template("admin/unit_form.html", form=form, unit=unit)


# --- audit and mail --------------------------------------------------------------------------


@bp.get("/audit")
@roles_required(Role.ADMIN)
def audit_log():
    action = request.args.get("action", "").strip()
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    page = db.paginate(stmt, page=page_number(request.args), per_page=50, error_out=False)
    return render_template("admin/audit.html", page=page, action=action)


@bp.get("/mail")
@roles_required(Role.ADMIN)
def mail_queue():
    status = request.args.get("status", "")
    stmt = sa.select(OutboxMail).order_by(OutboxMail.id.desc())
    if status in {s.value for s in MailStatus}:
        stmt = stmt.where(OutboxMail.status == MailStatus(status))
    page = db.paginate(stmt, page=page_number(request.args), per_page=PER_PAGE, error_out=False)
    return render_template(
        "admin/mail_queue.html",
        page=page,
        status=status,
        confirm=ConfirmForm(),
        outbox_enabled=_outbox_enabled(),
        now=utcnow(),
        stale_after=stale_claim_age(),
    )


@bp.post("/mail/<int:mail_id>/resend")
@roles_required(Role.ADMIN)
def mail_resend(mail_id):
    mail = db.get_or_404(OutboxMail, mail_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if mail.status is not MailStatus.FAILED:
        flash(_("Only failed mails can be sent again."), "warning")
    else:
        resend(mail)
        db.session.commit()
        flash(_("The mail to %(to)s is queued again.", to=mail.to_address), "success")
    return redirect(url_for("admin.mail_queue", status="failed"))


def _outbox_enabled():
    return current_app.config["ENV_NAME"] != "production" and (
        current_app.config["MAIL_BACKEND"] == "outbox"
    )


def _outbox_files():
    folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.eml"), reverse=True)


@bp.get("/outbox")
@roles_required(Role.ADMIN)
def outbox():
    if not _outbox_enabled():
        abort(404)
    parser = BytesParser(policy=policy.default)
    mails = []
    for path in _outbox_files()[:100]:
        with path.open("rb") as fh:
            msg = parser.parse(fh, headersonly=True)
        mails.append(
            {"name": path.name, "subject": msg["Subject"], "to": msg["To"], "date": _sent_at(msg)}
        )
    return render_template("admin/outbox.html", mails=mails)


def _sent_at(msg):
    """The Date header as a datetime, for the page to show in the reader's zone and format."""
    return getattr(msg["Date"], "datetime", None)


@bp.get("/outbox/<name>")
@roles_required(Role.ADMIN)
def outbox_mail(name):
    if not _outbox_enabled():
        abort(404)
    path = next((p for p in _outbox_files() if p.name == name), None)  # no path from the URL
    if path is None:
        abort(404)
    with path.open("rb") as fh:
        msg = BytesParser(policy=policy.default).parse(fh)
    text = msg.get_body(preferencelist=("plain",))
    return render_template(
        "admin/outbox_mail.html",
        name=name,
        msg=msg,
        sent_at=_sent_at(msg),
        text=text.get_content() if text else "",
    )
