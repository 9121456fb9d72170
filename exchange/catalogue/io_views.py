"""Import (upload with a validation preview) and export (CSV, XLSX) of the catalogue."""

import io
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, RadioField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, Regexp

from ..accounts.models import Role
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.imports import TOKEN_RE, Preview
from ..core.security import roles_required
from . import formats, import_jobs, importer
from .eligibility import StudentFacts
from .queries import CatalogueFilters

bp = Blueprint("catalogue_io", __name__)
STAFF = Role.STAFF
SESSION_KEY = "catalogue_imports"  # tokens of the previews this browser may confirm
MAX_SHOWN = 1000  # problems and warnings listed on the page (the CLI lists them all)
IMPORT_REFRESH_SECONDS = 2  # the progress page reloads itself this often
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


MODES = (
    (
        importer.ImportMode.KEEP.value,
        _l("Add new partners and fill empty fields; keep what is there"),
    ),
    (importer.ImportMode.OVERWRITE.value, _l("Also overwrite stored values with the file's")),
)


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV or JSON file"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(list(formats.FORMATS), _l("Upload a .csv or a .json file.")),
        ],
    )
    mode = RadioField(
        _l("Partners already in the catalogue"),
        choices=MODES,
        default=importer.ImportMode.KEEP.value,
    )


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Regexp(TOKEN_RE)])
    filename = HiddenField(validators=[Length(max=255)])
    mode = HiddenField(validators=[Optional(), AnyOf([value for value, _label in MODES])])


def _display_name(filename):
    return Path(filename or "").name[:255]


def _remember(token):
    tokens = [t for t in session.get(SESSION_KEY, []) if t != token][-4:]
    session[SESSION_KEY] = [*tokens, token]


def _forget(token):
    session[SESSION_KEY] = [t for t in session.get(SESSION_KEY, []) if t != token]


def _confirm_forms(preview, token, filename):
    """The confirmation as previewed and, when stored values were kept, the explicit choice
    of overwriting them."""
    if preview.problem_count:
        return None, None
    confirm = overwrite = None
    if preview.count("write"):
        confirm = ConfirmImportForm(
            formdata=None, token=token, filename=filename, mode=preview.mode
        )
    if preview.count("kept"):
        overwrite = ConfirmImportForm(
            formdata=None,
            token=token,
            filename=filename,
            mode=importer.ImportMode.OVERWRITE.value,
        )
    return confirm, overwrite


def _import_page(form, preview=None, filename="", token=None, state=None):
    confirm, overwrite = (None, None)
    if preview is not None and state == "checked" and token:
        confirm, overwrite = _confirm_forms(preview, token, filename)
    return render_template(
        "catalogue/import.html",
        form=form,
        preview=preview,
        state=state,
        confirm=confirm,
        overwrite=overwrite,
        filename=filename,
        max_shown=MAX_SHOWN,
        catalogue_link=_catalogue_link(preview) if state == "imported" else None,
    )


def _catalogue_link(preview):
    """The catalogue with the filter that shows the new partners: they have no agreement yet,
    and the list hides partners without one by default."""
    countries = {row["country"] for row in preview.samples.get("create", [])}
    args = {"all": "1"}
    if len(countries) == 1 and preview.count("create") == len(preview.samples["create"]):
        args["country"] = countries.pop()
    return url_for("catalogue.index", **args)


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*STAFF)
def import_partners():
    """Upload a file and see what importing it would do; nothing is written here. A large
    file is checked by the worker while its page shows the progress."""
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form)
    upload = form.file.data
    filename = _display_name(upload.filename)
    fmt = formats.format_of(filename)
    mode = importer.ImportMode(form.mode.data)
    token = import_jobs.keep(upload.read(), fmt)
    _remember(token)
    if import_jobs.in_worker(token):
        import_jobs.queue(token, import_jobs.CHECK_TASK, mode.value, filename)
        return redirect(url_for(".import_status", token=token))
    preview = import_jobs.check(token, mode, filename)
    if preview.problem_count or not preview.count("write"):
        import_jobs.discard(token)
    return _import_page(form, preview, filename, token, "checked")


@bp.get("/import/<token>")
@roles_required(*STAFF)
def import_status(token):
    """The progress of a check or an import in the worker, then its preview or its result."""
    status = import_jobs.status(token) if token in session.get(SESSION_KEY, []) else None
    if status is None:
        flash(_("This preview has expired. Upload the file again."), "warning")
        return redirect(url_for(".import_partners"))
    state = status["state"]
    if state == "failed":
        _forget(token)
        flash(status.get("message") or _("The import failed."), "danger")
        return redirect(url_for(".import_partners"))
    if state in import_jobs.RUNNING:
        return render_template(
            "catalogue/import_progress.html",
            status=status,
            token=token,
            refresh=IMPORT_REFRESH_SECONDS,
            stalled=import_jobs.stalled(token, state),
            wait_minutes=max(1, current_app.config["IMPORT_WORKER_WAIT_SECONDS"] // 60),
            cancel_form=FlaskForm(),
        )
    preview = Preview.from_json(status["preview"])
    if state == "checked" and import_jobs.kept(token) is None:
        state = None  # nothing left to confirm
    return _import_page(ImportForm(formdata=None), preview, status["filename"], token, state)


@bp.post("/import/<token>/cancel")
@roles_required(*STAFF)
def import_cancel(token):
    """Stop waiting for a check or an import that the worker has not done."""
    if not FlaskForm().validate_on_submit() or token not in session.get(SESSION_KEY, []):
        return redirect(url_for(".import_partners"))
    if not import_jobs.cancel(token):
        flash(_("The worker is on it now; it can no longer be cancelled."), "warning")
        return redirect(url_for(".import_status", token=token))
    _forget(token)
    flash(_("Cancelled: nothing was imported. Upload the file again when ready."), "info")
    return redirect(url_for(".import_partners"))


@bp.post("/import/confirm")
@roles_required(*STAFF)
def import_confirm():
    """Import the previewed file: read and check it again, then all rows or none."""
    form = ConfirmImportForm()
    token = form.token.data
    path = import_jobs.kept(token) if form.validate_on_submit() else None
    if path is None or token not in session.get(SESSION_KEY, []):
        flash(_("This preview has expired. Upload the file again."), "warning")
        return redirect(url_for(".import_partners"))
    filename = _display_name(form.filename.data)
    mode = importer.ImportMode(form.mode.data or importer.ImportMode.KEEP.value)
    if import_jobs.in_worker(token):
        import_jobs.queue(token, import_jobs.IMPORT_TASK, mode.value, filename, current_user.id)
        return redirect(url_for(".import_status", token=token))
    try:
        preview = import_jobs.run(token, mode, filename, current_user)
    except (DomainError, IntegrityError):
        flash(import_jobs.status(token)["message"], "danger")
        return redirect(url_for(".import_partners"))
    if not preview.applied:
        return _import_page(ImportForm(formdata=None), preview, filename, token, "checked")
    flash(
        _(
            "Imported %(file)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.",
            file=filename,
            created=preview.count("create"),
            updated=preview.count("update"),
            unchanged=preview.count("unchanged"),
        ),
        "success",
    )
    return redirect(url_for(".import_status", token=token))


# --- export ----------------------------------------------------------------------------------


def _export_rows():
    """The rows of the catalogue list as the user sees it, with the same filters."""
    staff = current_user.has_role(*STAFF)
    student = StudentFacts.of(current_user) if current_user.has_role(Role.STUDENT) else None
    filters = CatalogueFilters.from_args(request.args, staff=staff)
    return formats.export_rows(filters, student)


def _export_name(extension):
    return f"partners-{to_user_timezone(utcnow()):%Y%m%d}.{extension}"


@bp.get("/export.csv")
@login_required
def export_csv():
    rows = _export_rows()
    return Response(
        stream_with_context(formats.csv_chunks(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_export_name("csv")}"'},
    )


@bp.get("/export.xlsx")
@login_required
def export_xlsx():
    return send_file(
        io.BytesIO(formats.xlsx_bytes(_export_rows())),
        mimetype=XLSX_TYPE,
        as_attachment=True,
        download_name=_export_name("xlsx"),
    )
