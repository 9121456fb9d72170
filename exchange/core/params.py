"""What a request may carry: ids and whole numbers within the database's range, and text
that is valid UTF-8 without NUL bytes. Anything else is answered with a friendly 400 or 404
before it reaches a view, a query or the database (which would answer with a 500)."""

import re
from urllib.parse import unquote_to_bytes

from flask import abort, request
from werkzeug.routing import IntegerConverter

# Ids and counts are INTEGER columns: 32 bits on PostgreSQL (SQLite's 64 bits are wider).
DB_INT_MAX = 2**31 - 1
MAX_PAGE = 100_000
_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")
# Werkzeug decodes URLs and forms with errors="replace": U+FFFD marks bytes that were not
# UTF-8. PostgreSQL refuses NUL in text, and no one types either on purpose.
_REFUSED_TEXT = re.compile("[\x00\ufffd]")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number beyond the database's range is a 404 like any
    other id that does not exist, instead of an overflow in the query."""

    def __init__(self, map, fixed_digits=0, min=None, max=DB_INT_MAX, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def whole(value, default=None, *, low=1, high=DB_INT_MAX):
    """`value` (text from a URL or a form) as an int within low..high, else `default`. The
    one way views and filters read numbers from requests."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if not _WHOLE.fullmatch(text):
            return default
        number = int(text)
    return number if low <= number <= high else default


def page_number(args):
    """The `page` argument of a list: 1 when absent or out of range."""
    return whole(args.get("page"), 1, high=MAX_PAGE)


def refuse_unstorable_text():
    """400 for a NUL byte or bytes that are not UTF-8 in the path, the query string or a form
    (names and values; uploaded files are judged by their content elsewhere).

    Werkzeug keeps undecodable bytes of a query or urlencoded form as "%FF" text, which
    cannot be told from a typed "%FF" afterwards: those are checked raw. It replaces them
    with U+FFFD in the path and in multipart fields."""
    if _REFUSED_TEXT.search(request.path) or not _storable(request.query_string):
        abort(400)
    if request.mimetype == "application/x-www-form-urlencoded" and not _storable(
        request.get_data(cache=True)  # the form is parsed from this cached copy
    ):
        abort(400)
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if _REFUSED_TEXT.search(key) or _REFUSED_TEXT.search(value):
                abort(400)
    for key, upload in request.files.items(multi=True):
        if _REFUSED_TEXT.search(key) or _REFUSED_TEXT.search(upload.filename or ""):
            abort(400)


def _storable(raw: bytes) -> bool:
    data = unquote_to_bytes(raw.replace(b"+", b" "))
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def init_app(app):
    """Before any blueprint adds its routes (they bind their converters when added)."""
    app.url_map.converters["int"] = IdConverter
    # First of all: before CSRF and the rate limits parse the form, and whatever the login
    # and role checks would answer.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unstorable_text)
