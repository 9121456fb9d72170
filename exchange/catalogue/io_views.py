"""Import (upload with a validation preview) and export (CSV, XLSX) of the catalogue."""

import io
from pathlib import Path

from flask import (
    Blueprint,
    Response,
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
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length, Regexp

from ..accounts.models import Role
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.security import roles_required
from ..extensions import db
from . import formats, importer
from .eligibility import StudentFacts
from .queries import CatalogueFilters

bp = Blueprint("catalogue_io", __name__)
STAFF = (Role.COORDINATOR, Role.ADMIN)
SESSION_KEY = "catalogue_imports"  # tokens of the previews this browser may confirm
MAX_SHOWN = 1000  # problems and warnings listed on the page (the CLI lists them all)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV or JSON file"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(list(formats.FORMATS), _l("Upload a .csv or a .json file.")),
        ],
    )


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Regexp(importer.TOKEN_RE)])
    filename = HiddenField(validators=[Length(max=255)])


def _display_name(filename):
    return Path(filename or "").name[:255]


def _remember(token):
    tokens = [t for t in session.get(SESSION_KEY, []) if t != token][-4:]
    session[SESSION_KEY] = [*tokens, token]


def _forget(token):
    session[SESSION_KEY] = [t for t in session.get(SESSION_KEY, []) if t != token]


def _import_page(form, result, confirm, filename):
    return render_template(
        "catalogue/import.html",
        form=form,
        result=result,
        confirm=confirm,
        filename=filename,
        max_shown=MAX_SHOWN,
    )


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*STAFF)
def import_partners():
    """Upload a file and see what importing it would do; nothing is written here."""
    form = ImportForm()
    result = confirm = None
    filename = ""
    if form.validate_on_submit():
        upload = form.file.data
        filename = _display_name(upload.filename)
        fmt = formats.format_of(filename)
        content = upload.read()
        result = importer.import_file(content, fmt, actor=current_user, filename=filename)
        if not result.problems and result.to_write:
            token = importer.keep_upload(content, fmt)
            _remember(token)
            confirm = ConfirmImportForm(formdata=None, token=token, filename=filename)
    return _import_page(form, result, confirm, filename)


@bp.post("/import/confirm")
@roles_required(*STAFF)
def import_confirm():
    """Import the previewed file: read and check it again, then all rows or none."""
    form = ConfirmImportForm()
    token = form.token.data
    path = importer.kept_upload(token) if form.validate_on_submit() else None
    if path is None or token not in session.get(SESSION_KEY, []):
        flash(_("This preview has expired. Upload the file again."), "warning")
        return redirect(url_for(".import_partners"))
    filename = _display_name(form.filename.data)
    fmt = formats.format_of(token)
    try:
        result = importer.import_file(
            path.read_bytes(), fmt, actor=current_user, filename=filename, dry_run=False
        )
    except (DomainError, IntegrityError) as exc:
        db.session.rollback()
        message = getattr(exc, "message", None) or _(
            "The catalogue changed during the import; nothing was imported. Try again."
        )
        flash(message, "danger")
        return redirect(url_for(".import_partners"))
    if result.problems:
        # The catalogue changed since the preview: show the new problems, write nothing.
        db.session.rollback()
        return _import_page(ImportForm(formdata=None), result, None, filename)
    db.session.commit()
    importer.discard_upload(token)
    _forget(token)
    flash(
        _(
            "Imported %(file)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.",
            file=filename,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for("catalogue.index"))


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
