"""The admin's import pages (roster; units and agreements): upload, preview, confirm, and the
downloadable templates. The upload is kept under a random token between preview and confirm;
confirming reads it again and writes only when it still has no problem."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..accounts.models import Role
from ..core import spreadsheets
from ..core.errors import DomainError
from ..core.security import roles_required
from ..extensions import db
from . import roster, tables
from . import structure_imports as structure
from .forms import ConfirmImportForm, ImportForm

bp = Blueprint("records_import", __name__)
SESSION_KEY = "records_imports"  # tokens of the previews this browser may confirm


class Kind:
    def __init__(self, title, columns, example, plan, apply):
        self.title, self.columns, self.example = title, columns, example
        self.plan, self.apply = plan, apply


KINDS = {
    "roster": Kind(
        _l("Import the student roster"),
        roster.COLUMNS,
        [
            [
                "2024010001",
                "Li Hua",
                "li.hua@example.edu",
                "CS",
                "bachelor",
                "Computer Science",
                "2",
                "3.45",
                "4",
            ],
            [
                "2024020002",
                "王芳",
                "wang.fang@example.edu",
                "PHY",
                "硕士",
                "Physics",
                "1",
                "88",
                "100",
            ],
        ],
        roster.plan_roster,
        roster.apply_roster,
    ),
    "units": Kind(
        _l("Import units"),
        structure.UNIT_COLUMNS,
        [
            ["PHY", "School of Physics", "物理学院", "school", "", "1200"],
            ["QLAB", "Quantum Laboratory", "量子重点实验室", "key_laboratory", "PHY", ""],
        ],
        structure.plan_units,
        structure.apply_units,
    ),
    "agreements": Kind(
        _l("Import agreements"),
        structure.AGREEMENT_COLUMNS,
        [
            [
                "IIA-2026-001",
                "uni-example.de",
                "",
                "",
                "bilateral",
                "2026",
                "2030",
                "2",
                "5",
                "bachelor master",
                "0533 0541",
                "en",
                "B2",
                "3.0",
                "4",
                "",
                "active",
            ],
            [
                "",
                "",
                "Example University",
                "FR",
                "summer_school",
                "2026",
                "2027",
                "5",
                "1",
                "本科",
                "",
                "",
                "",
                "",
                "",
                "PHY",
                "active",
            ],
        ],
        structure.plan_agreements,
        structure.apply_agreements,
    ),
}


def _kind(kind):
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def _remember(token):
    tokens = [t for t in session.get(SESSION_KEY, []) if t != token][-4:]
    session[SESSION_KEY] = [*tokens, token]


def _forget(token):
    session[SESSION_KEY] = [t for t in session.get(SESSION_KEY, []) if t != token]
    tables.forget_upload(token)


@bp.route("/import/<kind>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def upload(kind):
    spec = _kind(kind)
    form = ImportForm()
    plan = confirm = None
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        content = upload.read()
        plan = spec.plan(content, upload.filename or "")
        db.session.rollback()  # planning writes nothing; let nothing it loaded linger
        if plan.problems:
            status = 400
        else:
            token = tables.keep_upload(content, upload.filename or "")
            _remember(token)
            confirm = ConfirmImportForm(formdata=None, token=token, kind=kind)
    elif form.is_submitted():
        status = 400
    return (
        render_template(
            "students/import.html", kind=kind, spec=spec, form=form, plan=plan, confirm=confirm
        ),
        status,
    )


@bp.post("/import/<kind>/confirm")
@roles_required(Role.ADMIN)
def confirm(kind):
    spec = _kind(kind)
    form = ConfirmImportForm()
    mine = form.validate_on_submit() and form.token.data in session.get(SESSION_KEY, [])
    kept = tables.kept_upload(form.token.data) if mine else None
    if kept is None:
        flash(_("This preview has expired. Upload the file again."), "danger")
        return redirect(url_for("records_import.upload", kind=kind))
    content, filename = kept
    plan = spec.plan(content, filename)
    try:
        options = (
            {"deactivate_missing": bool(form.deactivate_missing.data)} if kind == "roster" else {}
        )
        spec.apply(plan, actor=current_user, **options)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("records_import.upload", kind=kind))
    db.session.commit()
    _forget(form.token.data)
    message = _(
        "Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
        created=plan.created,
        updated=plan.updated,
        unchanged=plan.unchanged,
    )
    if getattr(plan, "deactivated", 0):
        message += " " + _("%(n)d students deactivated.", n=plan.deactivated)
    flash(message, "success")
    return redirect(url_for("records_import.upload", kind=kind))


@bp.get("/import/<kind>/template.<fmt>")
@roles_required(Role.ADMIN)
def template(kind, fmt):
    spec = _kind(kind)
    if fmt == "csv":
        body = "".join(spreadsheets.csv_chunks(spec.columns, spec.example))
        mimetype = "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body = b"".join(spreadsheets.xlsx_chunks(kind, spec.columns, spec.example))
        mimetype = spreadsheets.XLSX_TYPE
    else:
        abort(404)
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.{fmt}"'},
    )
