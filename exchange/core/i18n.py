"""Interface language and time zone: the user's preference, then the browser, then the default."""

from zoneinfo import ZoneInfo, available_timezones

from flask import current_app, g, has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale, get_timezone
from flask_login import current_user


def select_locale():
    user = _user()
    languages = current_app.config["LANGUAGES"]
    if user is not None and user.locale in languages:
        return user.locale
    if has_request_context():
        best = request.accept_languages.best_match(
            list(languages) + ["zh", "zh-CN", "zh-Hans", "zh-SG"]
        )
        if best:
            return "zh_Hans_CN" if best.lower().startswith("zh") else best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone():
    forced = g.get("mail_timezone")
    if forced:
        return forced
    user = _user()
    if user is not None and user.timezone:
        return user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _user():
    if not has_request_context():
        return None
    try:
        return current_user if current_user.is_authenticated else None
    except Exception:  # outside a login-managed request (e.g. error handlers early on)
        return None


def timezone_choices():
    return sorted(available_timezones())


def valid_timezone(name):
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True


def init_app(app):
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt) if v else ""
    app.jinja_env.filters["date"] = lambda v, fmt="medium": format_date(v, fmt) if v else ""
    app.jinja_env.filters["decimal"] = lambda v: format_decimal(v) if v is not None else ""
    from .audit import describe

    app.jinja_env.filters["audit_lines"] = describe
    app.jinja_env.globals["current_locale"] = get_locale
    app.jinja_env.globals["current_timezone"] = lambda: str(get_timezone())

    from ..accounts.labels import template_globals
    from ..catalogue.labels import template_globals as catalogue_globals

    app.jinja_env.globals.update(template_globals())
    app.jinja_env.globals.update(catalogue_globals())
