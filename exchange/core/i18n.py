"""Interface language and time zone: the user's preference, then the browser, then the default."""

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from babel.dates import format_skeleton
from flask import current_app, g, has_request_context, request
from flask_babel import (
    format_decimal,
    get_locale,
    get_timezone,
    get_translations,
    gettext,
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


# One way to write a moment per language, on pages and in mails alike ("Mon, Nov 30, 2026
# 13:20", "2026年11月30日周一 13:20"): CLDR skeletons, so each language orders the parts its way.
DATE_SKELETON = "yMMMEd"
TIME_SKELETON = "Hm"


def utc_offset(moment: datetime, zone: str) -> str:
    """ "UTC+08:00" for `moment` in `zone` (the offset changes with daylight saving time)."""
    offset = moment.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_moment(value, zone=None, *, with_zone=False, date_only=False) -> str:
    """`value` (an aware datetime, or a date) in the current language, in `zone` (default: the
    reader's time zone). The one helper every date on a page or in a mail goes through."""
    if not value:
        return ""
    locale = get_locale()
    if isinstance(value, datetime):
        tz = ZoneInfo(zone) if zone else get_timezone()
        if value.tzinfo is None:  # stored naive values are UTC
            value = value.replace(tzinfo=UTC)
    else:  # a calendar date has no zone: show it as it is
        tz, value, date_only = UTC, datetime(value.year, value.month, value.day, tzinfo=UTC), True
    text = format_skeleton(DATE_SKELETON, value, tzinfo=tz, locale=locale)
    if not date_only:
        text = f"{text} {format_skeleton(TIME_SKELETON, value, tzinfo=tz, locale=locale)}"
    if with_zone and zone:
        text = f"{text} ({zone}, {utc_offset(value, zone)})"
    return text


# Formatted datetimes by (value, locale, zone): a page rendered again after a change shows
# mostly the same times, and Babel takes ~0.1 ms to format each.
_formatted = LRUCache("formatted_times", maxsize=20_000)


def _format_datetime(value, _fmt=None):
    """The `datetime` filter. The format argument older templates pass is ignored: one format."""
    if not value:
        return ""
    key = (value, str(get_locale()), str(get_timezone()))
    return _formatted.get_or_set(key, lambda: format_moment(value))


def _format_date(value, _fmt=None):
    if not value:
        return ""
    if isinstance(value, datetime):
        return format_moment(value, date_only=True)
    if isinstance(value, date):
        return format_moment(value)
    return str(value)


def format_filesize(size) -> str:
    """ "605 bytes", "1.2 MB" in the reader's language (Jinja's filesizeformat is English)."""
    if size is None:
        return ""
    if size < 1024:
        return gettext("%(n)s bytes", n=format_decimal(size))
    for unit in ("kB", "MB"):
        size /= 1024
        if size < 1024:
            return f"{format_decimal(round(size, 1))} {unit}"
    return f"{format_decimal(round(size / 1024, 1))} GB"


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
    app.jinja_env.filters["date"] = _format_date
    app.jinja_env.filters["filesizeformat"] = lambda v, _binary=False: format_filesize(v)
    app.jinja_env.filters["decimal"] = lambda v: format_decimal(v) if v is not None else ""
    app.jinja_env.globals["current_locale"] = get_locale
    app.jinja_env.globals["current_timezone"] = lambda: str(get_timezone())
