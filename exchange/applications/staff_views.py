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
from flask_babel import get_locale, to_user_timezone
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from ..accounts.models import Role
from ..catalogue.queries import catalogue_cache, units
from ..core import audit, spreadsheets
from ..core.database import utcnow
from ..core.pages import cached_page
from ..core.security import roles_required
from ..extensions import db
from . import lists

bp = Blueprint("application_lists", __name__)
STAFF = Role.STAFF
OPTION = Markup('<option value="{}">{}</option>')


def _options(key, items, version):
    """The <option>s of a filter, rendered once per version of what they list (a big call
    has hundreds); the chosen one is marked per page."""
    html = lists.list_cache.get_or_set(
        (version, "options_html", *key),
        lambda: Markup("").join(OPTION.format(value, label) for value, label in items),
    )

    def chosen(value):
        if not value:
            return html
        mark = f'<option value="{value}">'
        return Markup(str(html).replace(mark, mark[:-1] + " selected>", 1))

    return chosen


def _link_maker(endpoint, name):
    """url_for(endpoint, name=value) for many values at the cost of one url_for."""
    sentinel = "9876543210"
    pattern = url_for(endpoint, **{name: int(sentinel)})
    return lambda value: pattern.replace(sentinel, str(value))


def _call_and_filters(call_id):
    call = lists.load_call(call_id)
    if call is None:
        abort(404)
    options = lists.filter_options(call)
    return call, options, lists.ApplicationFilters.from_args(request.args).resolve(options)


@bp.get("/<int:call_id>/applications")
@roles_required(*STAFF)
@cached_page
def index(call_id):
    call, options, filters = _call_and_filters(call_id)
    # Translated once per page rather than once per row.
    labels = {status: str(label) for status, label in lists.STATUS_LABELS.items()}
    return render_template(
        "applications/staff/index.html",
        call=call,
        filters=filters,
        unit_options=_options(("units",), units(), catalogue_cache.version()),
        partner_options=_options(("partners", call.id), options["partners"], call.options_token),
        offering_options=_options(
            ("offerings", call.id, str(get_locale())), options["offerings"], call.options_token
        ),
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
