"""The publication pages, on the selection blueprint: the office publishes a committed
allocation and answers objections; a student files an objection from their result page; the
applicants read the masked ranked list when the office shows it."""

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.models import Role
from ..applications.models import Application
from ..calls.models import Call
from ..core.database import utcnow
from ..core.forms import ConfirmForm
from ..core.params import whole
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from . import publication as ops
from . import publication_queries as queries
from .models import Objection, ObjectionStatus
from .views import bp

STAFF = Role.STAFF
ANSWERS = {"upheld": ObjectionStatus.UPHELD, "dismissed": ObjectionStatus.DISMISSED}


def _call(call_id: int) -> Call:
    call = db.session.get(Call, call_id)
    if call is None:
        abort(404)
    return call


def _window_days(text: str | None):
    """Empty or 0: no window; anything else that is not a whole number fails the check."""
    text = (text or "").strip()
    return whole(text, -1, low=0) if text else None


@bp.get("/calls/<int:call_id>/selection/publication")
@roles_required(*STAFF)
def publication(call_id):
    page = queries.office_page(_call(call_id), utcnow())
    return render_template(
        "selection/publication.html", form=ConfirmForm(), window_limit=ops.WINDOW_LIMIT, **page
    )


@bp.post("/calls/<int:call_id>/selection/publish")
@roles_required(*STAFF)
def publish(call_id):
    call = _call(call_id)
    if ConfirmForm().validate_on_submit():
        days = _window_days(request.form.get("window_days"))
        shown = request.form.get("show_list") == "1"
        run_and_flash(
            lambda: ops.publish(call, actor=current_user, window_days=days, show_list=shown),
            _("The result is published: every applicant is notified."),
        )
    return redirect(url_for(".publication", call_id=call.id))


@bp.post("/calls/<int:call_id>/selection/publication/list")
@roles_required(*STAFF)
def show_list(call_id):
    call = _call(call_id)
    publication = ops.publication_of(call.id)
    if publication is None:
        abort(404)
    shown = request.form.get("show") == "1"
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.show_list(publication, shown, actor=current_user),
            _("The applicants now see the masked list.")
            if shown
            else _("The list is hidden from the applicants."),
        )
    return redirect(url_for(".publication", call_id=call.id))


@bp.post("/calls/<int:call_id>/selection/objections/<int:objection_id>/answer")
@roles_required(*STAFF)
def answer_objection(call_id, objection_id):
    call = _call(call_id)
    objection = db.session.get(Objection, objection_id)
    if objection is None or objection.publication.call_id != call.id:
        abort(404)
    status = ANSWERS.get(request.form.get("status", ""), ObjectionStatus.OPEN)
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.answer_objection(
                objection, status, request.form.get("answer", ""), actor=current_user
            ),
            _("The answer is recorded and the student notified."),
        )
    return redirect(url_for(".publication", call_id=call.id))


@bp.post("/applications/<int:application_id>/selection/objection")
@login_required
def file_objection(application_id):
    application = db.session.get(Application, application_id)
    if application is None or application.student_id != current_user.id:
        abort(404)  # another student's application is not shown to exist
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.file_objection(
                application, request.form.get("reason", ""), actor=current_user
            ),
            _("Your objection is filed: the international office will answer it."),
        )
    return redirect(url_for(".result", application_id=application.id))


@bp.get("/calls/<int:call_id>/selection/published")
@login_required
def published_list(call_id):
    call = _call(call_id)
    publication = ops.publication_of(call.id)
    if not queries.may_see_list(publication, current_user, current_user.has_role(*STAFF)):
        abort(404)
    return render_template(
        "selection/publication_list.html",
        call=call,
        publication=publication,
        rows=queries.masked_list(publication, current_user.id),
        final=publication.is_final(utcnow()),
    )
