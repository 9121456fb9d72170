"""Interface language and time zone: the user's preference, then the browser, then the default."""

import functools
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from flask import current_app, g, has_request_context, request
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_timezone,
    get_translations,
)
from flask_login import current_user

from .cache import LRUCache


def select_locale():
    return _locale(_select_locale_name())


@functools.cache
def _locale(name):
    """Flask-Babel would parse the name on every request (reading CLDR data); there are only a
    few names, each parsed once."""
    return Locale.parse(name)


def _select_locale_name():
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


def _translations():
    """What flask_babel.get_translations() returns, in fewer steps: it finds the domain, the
    locale and the catalogue again through `g` on each call, and a page calls it dozens of
    times from its templates. Keyed by the locale in force, so refresh() and force_locale()
    work as before."""
    locale = get_locale()
    known = current_app.extensions["translations_by_locale"]
    try:
        return known[locale]
    except KeyError:
        return known.setdefault(locale, get_translations())


# Formatted datetimes by (value, format, locale, zone): a page rendered again after a change
# shows mostly the same times, and Babel takes ~0.1 ms to format each.
_formatted = LRUCache(maxsize=20_000)


def _format_datetime(value, fmt="medium"):
    if not value:
        return ""
    key = (value, fmt, str(get_locale()), str(get_timezone()))
    return _formatted.get_or_set(key, lambda: format_datetime(value, fmt))


def init_app(app):
    app.extensions["translations_by_locale"] = {}
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.filters["datetime"] = _format_datetime
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
