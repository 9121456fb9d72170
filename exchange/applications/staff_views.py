"""The international office's lists of a call's applications, with filters and export."""

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from flask_login import current_user

from ..accounts.models import Role
from ..catalogue.queries import units
from ..core import audit, spreadsheets
from ..core.database import utcnow
from ..core.security import roles_required
from ..core.views import chooser, options_html
from ..extensions import db
from . import lists

bp = Blueprint("application_lists", __name__)
STAFF = Role.STAFF


def _options(items):
    """The <option>s of a filter (a big call has hundreds); the chosen one is marked."""
    return chooser(options_html(items))


def _link_maker(endpoint, name):
    """url_for(endpoint, name=value) for many values at the cost of one url_for."""
    sentinel = "9876543210"
    pattern = url_for(endpoint, **{name: int(sentinel)})
    return lambda value: pattern.replace(sentinel, str(value))


def _call_and_filters(call_id):
    loaded = lists.load_call(call_id)
    if loaded is None:
        abort(404)
    call, options = loaded
    return call, options, lists.ApplicationFilters.from_args(request.args).resolve(options)


@bp.get("/<int:call_id>/applications")
@roles_required(*STAFF)
def index(call_id):
    call, options, filters = _call_and_filters(call_id)
    # Translated once per page rather than once per row.
    labels = {status: str(label) for status, label in lists.STATUS_LABELS.items()}
    return render_template(
        "applications/staff/index.html",
        call=call,
        filters=filters,
        unit_options=_options(units()),
        partner_options=_options(options["partners"]),
        offering_options=_options(options["offerings"]),
        detail_url=_link_maker("applications.detail", "application_id"),
        status_label=labels.get,
        status_badge=lists.STATUS_BADGES.get,
        statuses=list(labels),
        **lists.application_page(call, filters),
    )


def _export(call_id, fmt):
    """The call, the filters and the columns of an export, recorded in the audit trail: it
    carries personal data of every listed student."""
    call, _options, filters = _call_and_filters(call_id)
    audit.record(
        "call.applications_exported",
        object_type="Call",
        object_id=call.id,
        actor=current_user,
        details={"format": fmt, "filters": filters.args(page=None)},
    )
    db.session.commit()
    header = lists.export_header(call)
    name = f"applications-call{call.id}-{to_user_timezone(utcnow()):%Y%m%d}.{fmt}"
    return call, filters, header, name


def _download(chunks, mimetype, name):
    return Response(
        stream_with_context(chunks),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/<int:call_id>/applications/export.csv")
@roles_required(*STAFF)
def export_csv(call_id):
    call, filters, header, name = _export(call_id, "csv")
    rows = lists.export_rows(call.id, filters, len(header))
    return _download(spreadsheets.csv_chunks(header, rows), "text/csv", name)


@bp.get("/<int:call_id>/applications/export.xlsx")
@roles_required(*STAFF)
def export_xlsx(call_id):
    call, filters, header, name = _export(call_id, "xlsx")
    rows = lists.export_rows(call.id, filters, len(header))
    chunks = spreadsheets.xlsx_chunks(_("Applications"), header, rows)
    return _download(chunks, spreadsheets.XLSX_TYPE, name)
