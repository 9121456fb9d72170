"""The international office's lists of a call's applications, with filters and export."""

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    send_file,
    stream_with_context,
)
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from flask_login import current_user

from ..accounts.models import Role
from ..calls.models import Call
from ..catalogue.io_views import XLSX_TYPE
from ..catalogue.queries import units
from ..core import audit
from ..core.database import utcnow
from ..core.security import roles_required
from ..extensions import db
from . import lists

bp = Blueprint("application_lists", __name__)
STAFF = (Role.COORDINATOR, Role.ADMIN)


@bp.get("/<int:call_id>/applications")
@roles_required(*STAFF)
def index(call_id):
    call, token = lists.load_call(call_id)
    if call is None:
        abort(404)
    filters = lists.ApplicationFilters.from_args(request.args)
    return render_template(
        "applications/staff/index.html",
        call=call,
        filters=filters,
        units=units(),
        status_label=lists.STATUS_LABELS.get,
        status_badge=lists.STATUS_BADGES.get,
        statuses=list(lists.STATUS_LABELS),
        **lists.filter_options(call.id),
        **lists.application_page(call.id, filters, token),
    )


def _export(call_id, fmt):
    """The call, the filters and the columns of an export, recorded in the audit trail: it
    carries personal data of every listed student."""
    call = db.get_or_404(Call, call_id)
    filters = lists.ApplicationFilters.from_args(request.args)
    audit.record(
        "call.applications_exported",
        call,
        actor=current_user,
        details={"format": fmt, "filters": filters.args(page=None)},
    )
    db.session.commit()
    header = lists.export_header(call)
    name = f"applications-call{call.id}-{to_user_timezone(utcnow()):%Y%m%d}.{fmt}"
    return call, filters, header, name


@bp.get("/<int:call_id>/applications/export.csv")
@roles_required(*STAFF)
def export_csv(call_id):
    call, filters, header, name = _export(call_id, "csv")
    rows = lists.export_rows(call.id, filters, len(header))
    return Response(
        stream_with_context(lists.csv_chunks(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/<int:call_id>/applications/export.xlsx")
@roles_required(*STAFF)
def export_xlsx(call_id):
    call, filters, header, name = _export(call_id, "xlsx")
    rows = lists.export_rows(call.id, filters, len(header))
    return send_file(
        lists.xlsx_file(_("Applications"), header, rows),
        mimetype=XLSX_TYPE,
        as_attachment=True,
        download_name=name,
    )
