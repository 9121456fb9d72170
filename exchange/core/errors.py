"""Domain errors raised by operations, and friendly error pages without tracebacks."""

from flask import jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

from ..extensions import db


class DomainError(Exception):
    """A rule of the domain refused the change; the message is shown to the user."""

    def __init__(self, message, field=None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The user may not do this."""


TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("File too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Busy"),
}
MESSAGES = {
    400: _l("The request could not be understood. Go back, reload the page and try again."),
    403: _l("You do not have permission to open this page."),
    404: _l("There is nothing at this address. Check the link or go back to your home page."),
    405: _l("This address does not accept that kind of request."),
    413: _l("The upload is larger than the allowed limit."),
    429: _l("Too many attempts in a short time. Wait a few minutes and try again."),
    500: _l("An unexpected error occurred. It has been logged; please try again later."),
    503: _l("Another change is being saved right now. Wait a moment and try again."),
}


def _render(code, message=None):
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify(error=str(TITLES[code]), message=str(message or MESSAGES[code])), code
    return (
        render_template(
            "errors/error.html", code=code, title=TITLES[code], message=message or MESSAGES[code]
        ),
        code,
    )


def init_app(app):
    for code in TITLES:
        app.register_error_handler(code, lambda exc, code=code: _render(code))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _render(
            400, _l("The form expired or was sent from elsewhere. Reload the page and try again.")
        )

    @app.errorhandler(413)
    def too_large(exc):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return _render(413, _l("The upload is larger than %(mb)s MB.", mb=limit_mb))

    @app.errorhandler(OperationalError)
    def database_busy(exc):
        # SQLite: a writer held the lock for longer than busy_timeout. Nothing was saved;
        # the request can simply be sent again.
        if "database is locked" not in str(exc.orig):
            raise exc
        db.session.rollback()
        response, code = _render(503)
        return response, code, {"Retry-After": "5"}
