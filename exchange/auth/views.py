from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from limits import parse_many

from ..accounts import operations as ops
from ..core.errors import DomainError
from ..extensions import db, limiter
from .forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    PreferencesForm,
    ResetPasswordForm,
)

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "auth.forgot_password", "auth.reset_password"}


def _address_limit():
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def _account_limits():
    return parse_many(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])


def _account_locked(email_key):
    return not all(
        limiter.limiter.test(item, "login-account", email_key) for item in _account_limits()
    )


def _count_failure(email_key):
    # Only failures count against an account, and an address already blocked never gets
    # this far, so one noisy address cannot lock the owner out.
    for item in _account_limits():
        limiter.limiter.hit(item, "login-account", email_key)


def _safe_next(target):
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        email_key = form.email.data.strip().lower()
        if _account_locked(email_key):
            abort(429)
        user = ops.authenticate(form.email.data, form.password.data)
        if user is None:
            db.session.commit()  # keep the audit row of the failure
            _count_failure(email_key)
            form.password.errors.append(_("The e-mail or password is not correct."))
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a new session at login: nothing from before survives
        ops.log_in(user, form.remember.data)
        db.session.commit()
        login_user(user, remember=form.remember.data)
        return redirect(_safe_next(request.args.get("next")) or url_for("main.home"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    ops.log_out(current_user, current_user.login_token)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        ops.request_password_reset(form.email.data)
        db.session.commit()
        flash(
            _(
                "If an account exists for %(email)s, a link to reset the password is on its way.",
                email=form.email.data,
            ),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def reset_password(token):
    if ops.valid_reset_token(token) is None:
        flash(_("This reset link is invalid, used or expired. Ask for a new one."), "warning")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            ops.reset_password(token, form.password.data)
        except DomainError as exc:
            db.session.rollback()
            form.password.errors.append(str(exc.message))
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash(_("Your password has been changed. Log in with the new one."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = PreferencesForm(
        obj=current_user,
        data=None
        if request.method == "POST"
        else {
            "name": current_user.name,
            "locale": current_user.locale or "",
            "timezone": current_user.timezone or "",
            "mail_preference": current_user.mail_preference.value,
        },
    )
    if form.validate_on_submit():
        ops.update_details(
            current_user, name=form.name.data, email=current_user.email, actor=current_user
        )
        ops.update_preferences(
            current_user,
            locale=form.locale.data,
            timezone=form.timezone.data,
            mail_preference=form.mail_preference.data,
        )
        db.session.commit()
        flash(_("Your preferences have been saved."), "success")
        return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form, password_form=ChangePasswordForm())


@bp.post("/account/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ops.change_password(
                current_user,
                form.current_password.data,
                form.password.data,
                keep_token=current_user.login_token,
            )
        except DomainError as exc:
            db.session.rollback()
            getattr(form, exc.field or "password").errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(
                _("Your password has been changed. Other devices have been logged out."), "success"
            )
            return redirect(url_for("auth.account"))
    prefs = PreferencesForm(
        data={
            "name": current_user.name,
            "locale": current_user.locale or "",
            "timezone": current_user.timezone or "",
            "mail_preference": current_user.mail_preference.value,
        }
    )
    return render_template("auth/account.html", form=prefs, password_form=form), 400
