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
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from ..accounts import operations as ops
from ..core.errors import DomainError
from ..core.security import safe_redirect_target
from ..extensions import db, limiter
from . import throttle
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


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        email_key = form.email.data.strip().lower()
        address = get_remote_address()
        if throttle.address_blocked(email_key, address) or (
            throttle.account_locked(email_key) and not throttle.device_remembered(email_key)
        ):
            abort(429)
        user = ops.authenticate(form.email.data, form.password.data)
        if user is None:
            db.session.commit()  # keep the audit row of the failure
            throttle.count_failure(email_key, address)
            form.password.errors.append(_("The e-mail or password is not correct."))
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a new session at login: nothing from before survives
        ops.log_in(user, form.remember.data)
        db.session.commit()
        login_user(user, remember=form.remember.data)
        throttle.count_success(email_key, address)
        response = redirect(safe_redirect_target(request.args.get("next")) or url_for("main.home"))
        return throttle.remember_device(response, email_key)
    return render_template("auth/login.html", form=form)


def _end_browser_session():
    """Forget the session and delete the remember cookie. Flask-Login deletes the cookie after
    the request when the session asks it to ("_remember": "clear"), so the session is emptied
    first: clearing it afterwards would lose that request and leave the cookie behind."""
    session.clear()
    logout_user()


@bp.post("/logout")
@login_required
def logout():
    ops.log_out(current_user, current_user.login_token)
    db.session.commit()
    _end_browser_session()
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
            _end_browser_session()
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


def _password_change_limit():
    return current_app.config["PASSWORD_CHANGE_LIMIT"]


def _user_key():
    # Per account: a stolen session must not guess the current password from many addresses.
    user_id = getattr(current_user, "id", None)
    return f"user:{user_id}" if user_id is not None else get_remote_address()


@bp.post("/account/password")
@login_required
@limiter.limit(
    _password_change_limit,
    key_func=_user_key,
    deduct_when=lambda response: response.status_code == 400,
)
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
