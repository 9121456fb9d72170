"""The coordinator's selection pages of a call (criteria, scoring grid, preview and commit,
overrides, runs) and the student's own result."""

from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..accounts.models import DegreeLevel, Role, Unit
from ..applications.models import Application
from ..calls.models import Call, CallOffering
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.forms import ConfirmForm
from ..core.params import whole
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from . import allocation, publication_queries, queries
from . import operations as ops
from .models import CriterionKind, SelectionCriterion, TieBreak

bp = Blueprint("selection", __name__)
STAFF = Role.STAFF
KIND_LABELS = {
    CriterionKind.GPA: _l("GPA over its scale"),
    CriterionKind.LANGUAGE: _l("Language level (CEFR)"),
    CriterionKind.COMMITTEE: _l("Committee score"),
}


def _call(call_id: int) -> Call:
    call = db.session.get(Call, call_id)
    if call is None:
        abort(404)
    return call


def _decimal(text: str, field: str) -> Decimal | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise DomainError(_("Weights and maximums are numbers."), field=field) from None
    if not number.is_finite():
        raise DomainError(_("Weights and maximums are numbers."), field=field)
    return number


def _criteria_rows(form) -> list[ops.CriterionData]:
    """The criteria table of the form: one row per line, blank lines left out."""
    rows = []
    columns = zip(
        form.getlist("kind"),
        form.getlist("label"),
        form.getlist("weight"),
        form.getlist("maximum"),
        form.getlist("language"),
        form.getlist("criterion_id"),
        strict=False,
    )
    for kind, label, weight, maximum, language, criterion_id in columns:
        if not label.strip() and not weight.strip():
            continue
        try:
            kind_value = CriterionKind(kind)
        except ValueError:
            raise DomainError(_("Choose the kind of each criterion.")) from None
        rows.append(
            ops.CriterionData(
                kind_value,
                label,
                _decimal(weight, "weight") or Decimal(0),
                _decimal(maximum, "maximum"),
                language.strip().lower()[:8] or None,
                whole(criterion_id),
            )
        )
    return rows


@bp.get("/calls/<int:call_id>/selection")
@roles_required(*STAFF)
def index(call_id):
    call = _call(call_id)
    return render_template(
        "selection/index.html",
        form=ConfirmForm(),
        kinds=KIND_LABELS,
        tie_breaks=list(TieBreak),
        **queries.overview(call),
    )


@bp.post("/calls/<int:call_id>/selection/criteria")
@roles_required(*STAFF)
def save_criteria(call_id):
    call = _call(call_id)
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.set_criteria(call, _criteria_rows(request.form), actor=current_user),
            _("Criteria saved."),
        )
    return redirect(url_for(".index", call_id=call.id))


@bp.post("/calls/<int:call_id>/selection/tie-breaks")
@roles_required(*STAFF)
def save_tie_breaks(call_id):
    call = _call(call_id)
    chosen = [t for t in request.form.getlist("tie_break") if t]
    order = [TieBreak(t) for t in chosen if t in {v.value for v in TieBreak}]
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.set_tie_breaks(call, order, actor=current_user), _("Tie-breaks saved.")
        )
    return redirect(url_for(".index", call_id=call.id))


def _quota_group(value: str) -> tuple[Unit | None, DegreeLevel | None]:
    """The quota's group from the form: "unit:<id>" or "level:<degree level>"."""
    kind, _sep, key = value.partition(":")
    if kind == "unit":
        return db.session.get(Unit, whole(key, 0) or 0), None
    if kind == "level" and key in {level.value for level in DegreeLevel}:
        return None, DegreeLevel(key)
    return None, None


@bp.post("/calls/<int:call_id>/selection/quotas")
@roles_required(*STAFF)
def save_quota(call_id):
    """Set the quota of one unit or degree level on an offering; empty places remove it."""
    call = _call(call_id)
    offering = db.session.get(CallOffering, whole(request.form.get("offering_id"), 0) or 0)
    unit, level = _quota_group(request.form.get("group", ""))
    text = request.form.get("places", "").strip()
    places = whole(text, None, low=0) if text else None
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for(".index", call_id=call.id))
    if offering is None or offering.call_id != call.id:
        flash(_("Choose an offering of this call."), "danger")
    elif unit is None and level is None:
        flash(_("Choose a unit or a degree level."), "danger")
    elif text and places is None:
        flash(
            _("A quota is a whole number of places; leave it empty to remove the quota."), "danger"
        )
    else:
        run_and_flash(
            lambda: ops.set_quota(
                offering, places, unit=unit, degree_level=level, actor=current_user
            ),
            _("Quota saved.") if places is not None else _("Quota removed."),
        )
    return redirect(url_for(".index", call_id=call.id))


@bp.route("/calls/<int:call_id>/selection/scores", methods=["GET", "POST"])
@roles_required(*Role.APPROVERS)
def scores(call_id):
    call = _call(call_id)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        run_and_flash(lambda: _save_scores(call, request.form), _("Scores saved."))
        return redirect(url_for(".scores", call_id=call.id))
    sheet = queries.scoring_sheet(call, current_user, current_user.has_role(*STAFF))
    return render_template("selection/scores.html", form=form, **sheet)


def _save_scores(call: Call, form) -> int:
    """Every changed cell of the grid ("score-<application>-<criterion>"), in one
    transaction: one bad cell saves none."""
    saved = 0
    criteria = {
        c.id: c
        for c in db.session.scalars(
            db.select(SelectionCriterion).where(SelectionCriterion.call_id == call.id)
        )
    }
    for key, value in form.items():
        parts = key.split("-")
        if len(parts) != 3 or parts[0] != "score" or value.strip() == form.get(f"was-{key}", ""):
            continue
        application = db.session.get(Application, whole(parts[1], 0) or 0)
        criterion = criteria.get(whole(parts[2], 0) or 0)
        if application is None or criterion is None or application.call_id != call.id:
            raise DomainError(_("The grid is out of date; reload the page."))
        if value.strip():
            ops.record_score(application, criterion, value, actor=current_user)
            saved += 1
        elif ops.clear_score(application, criterion, actor=current_user):
            saved += 1
    return saved


def _allocate(call_id: int, write_run, done: str | None = None):
    """Preview or commit: run the allocation, then show the run, or say why not."""
    call = _call(call_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for(".index", call_id=call.id))
    try:
        run, _result = write_run(
            call, actor=current_user, seed=whole(request.form.get("seed"), None, low=0)
        )
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for(".index", call_id=call.id))
    db.session.commit()
    if done:
        flash(done, "success")
    return redirect(url_for(".run", call_id=call.id, run_id=run.id))


@bp.post("/calls/<int:call_id>/selection/preview")
@roles_required(*STAFF)
def preview(call_id):
    return _allocate(call_id, allocation.record_preview)


@bp.post("/calls/<int:call_id>/selection/commit")
@roles_required(*STAFF)
def commit(call_id):
    return _allocate(
        call_id,
        allocation.commit_allocation,
        _("The allocation is committed: the applications show their outcome."),
    )


@bp.get("/calls/<int:call_id>/selection/runs/<int:run_id>")
@roles_required(*STAFF)
def run(call_id, run_id):
    page = queries.run_page(
        _call(call_id),
        run_id,
        page=whole(request.args.get("page"), 1, low=1),
        changes_page=whole(request.args.get("changes"), 1, low=1),
    )
    if page is None:
        abort(404)
    return render_template("selection/run.html", form=ConfirmForm(), **page)


@bp.post("/calls/<int:call_id>/selection/overrides")
@roles_required(*STAFF)
def add_override(call_id):
    call = _call(call_id)
    application = db.session.get(Application, whole(request.form.get("application_id"), 0) or 0)
    offering = db.session.get(CallOffering, whole(request.form.get("offering_id"), 0) or 0)
    if ConfirmForm().validate_on_submit():
        if application is None or offering is None or application.call_id != call.id:
            flash(_("Choose an application and an offering of this call."), "danger")
        else:
            reason = request.form.get("reason", "")
            run_and_flash(
                lambda: ops.override_placement(application, offering, reason, actor=current_user),
                _("Override saved: preview again to see the result around it."),
            )
    return redirect(url_for(".index", call_id=call.id))


@bp.post("/calls/<int:call_id>/selection/overrides/<int:application_id>/remove")
@roles_required(*STAFF)
def remove_override(call_id, application_id):
    call = _call(call_id)
    application = db.session.get(Application, application_id)
    if application is None or application.call_id != call.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.remove_override(application, actor=current_user), _("Override removed.")
        )
    return redirect(url_for(".index", call_id=call.id))


@bp.get("/applications/<int:application_id>/selection")
@login_required
def result(application_id):
    """The student's rank, score with its parts, outcome and why."""
    application = db.session.get(Application, application_id)
    if application is None:
        abort(404)
    if application.student_id != current_user.id and not current_user.has_role(*STAFF):
        abort(404)
    return render_template(
        "selection/result.html",
        application=application,
        result=queries.student_result(application),
        publication=publication_queries.student_part(application, utcnow()),
        form=ConfirmForm(),
    )


# The answers to offers are routes on this blueprint too (registered when it is).
from . import offer_views  # noqa: E402, F401
