"""The approver's side in the browser: the queue of waiting steps with batch approval,
deciding one step, and internal notes on an application.

Whoever may not see an application gets 404 for its steps and notes, as for the application
page itself: a guessed id must not even confirm that it exists."""

import functools

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..applications.forms import CommentForm
from ..applications.models import Application
from ..applications.operations import can_view
from ..core.database import utcnow
from ..core.forms import ConfirmForm
from ..core.params import whole
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from . import operations as ops
from . import queue as queries
from . import review
from .models import ApplicationStep, Decision, StepStatus

bp = Blueprint("approvals", __name__)
APPROVER_ROLES = queries.QUEUE_ROLES

STEP_STATUS_LABELS = {
    StepStatus.PENDING: _l("Not yet"),
    StepStatus.WAITING: _l("Waiting"),
    StepStatus.APPROVED: _l("Approved"),
    StepStatus.REJECTED: _l("Rejected"),
    StepStatus.RETURNED: _l("Returned"),
    StepStatus.CANCELLED: _l("Cancelled"),
}
STEP_STATUS_COLOURS = {
    StepStatus.PENDING: "light border text-body-secondary",
    StepStatus.WAITING: "primary",
    StepStatus.APPROVED: "success",
    StepStatus.REJECTED: "danger",
    StepStatus.RETURNED: "warning",
    StepStatus.CANCELLED: "secondary",
}
DONE = {
    Decision.APPROVE: _l("You approved this step."),
    Decision.REJECT: _l("You rejected the application."),
    Decision.RETURN: _l("The application is returned to the student."),
}


def _today():
    # The day decide_step judges substitutions by (UTC), so the queue and the decision agree.
    return utcnow().date()


def approvals_waiting():
    """How many steps wait on the current user (the navigation badge); once per request."""
    if not current_user.is_authenticated or not current_user.has_role(*APPROVER_ROLES):
        return 0
    if "approvals_waiting" not in g:
        g.approvals_waiting = queries.count_waiting(current_user._get_current_object(), _today())
    return g.approvals_waiting


@bp.record_once
def _provide_review(_state):
    review.register()  # the review part of the application page


@bp.record_once
def _register_globals(state):
    state.app.jinja_env.globals.update(
        approvals_waiting=approvals_waiting,
        step_status_label=STEP_STATUS_LABELS.get,
        step_status_colour=STEP_STATUS_COLOURS.get,
        StepStatus=StepStatus,
    )


def _queue_args(source):
    """The queue's filters, sort and page from `source`, for links and redirects."""
    return {k: source.get(k) for k in ("q", "call", "overdue", "sort", "page") if source.get(k)}


def _link_maker(endpoint, name):
    """url_for(endpoint, name=value) for a page of values at the cost of one url_for."""
    sentinel = "9876543210"
    pattern = url_for(endpoint, **{name: int(sentinel)})
    return lambda value: pattern.replace(sentinel, str(value))


def _day_labels():
    """Labels like “3 days” and “2 days overdue”, translated once per number on a page
    rather than once per row."""

    @functools.cache
    def waiting(days):
        return _("today") if days == 0 else ngettext("%(num)d day", "%(num)d days", days)

    @functools.cache
    def due(days):
        if days < 0:
            return ngettext("%(num)d day overdue", "%(num)d days overdue", -days)
        if days == 0:
            return _("due today")
        return ngettext("in %(num)d day", "in %(num)d days", days)

    return waiting, due


@bp.get("/")
@roles_required(*APPROVER_ROLES)
def queue():
    filters = queries.QueueFilters.from_args(request.args)
    sort = queries.read_sort(request.args.get("sort"))
    now = utcnow()
    page = queries.queue_for(
        current_user,
        now=now,
        today=now.date(),
        sort=sort,
        page=queries.read_page(request.args.get("page")),
        filters=filters,
    )
    if page.waiting_total is not None:
        g.approvals_waiting = page.waiting_total  # the badge needs no statement of its own
    waiting_label, due_label = _day_labels()
    return render_template(
        "approvals/queue.html",
        result=page,
        filters=filters,
        sort=sort,
        sorts=queries.SORTS,
        calls=queries.call_options(),
        args=_queue_args(request.args),
        form=ConfirmForm(),
        detail_url=_link_maker("applications.detail", "application_id"),
        waiting_label=waiting_label,
        due_label=due_label,
    )


def _ids(values):
    ids = []
    for value in values:
        number = whole(value)
        if number is None:
            return None
        ids.append(number)
    return list(dict.fromkeys(ids))


def _summary(results):
    done = sum(1 for r in results if r.ok)
    reasons = list(dict.fromkeys(r.message for r in results if not r.ok))
    if not reasons:
        return ngettext("%(num)d approved.", "%(num)d approved.", done), "success"
    failed = len(results) - done
    text = _(
        "%(done)d approved; %(failed)d not: %(reasons)s",
        done=done,
        failed=failed,
        reasons=" ".join(reasons),
    )
    return text, "warning" if done else "danger"


@bp.post("/approve")
@roles_required(*APPROVER_ROLES)
def approve_selected():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = redirect(url_for("approvals.queue", **_queue_args(request.form)))
    ids = _ids(request.form.getlist("step"))
    if ids is None:
        abort(400)
    if not ids:
        flash(_("Select the applications to approve first."), "warning")
        return back
    results = ops.approve_many(ids, request.form.get("comment"), actor=current_user)
    db.session.commit()
    flash(*_summary(results))
    return back


def _detail(application, anchor=""):
    return redirect(url_for("applications.detail", application_id=application.id) + anchor)


@bp.post("/steps/<int:step_id>")
@login_required
def decide(step_id):
    step = db.session.get(ApplicationStep, step_id)
    if step is None or not can_view(current_user, step.application):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        decision = Decision(request.form.get("decision", ""))
    except ValueError:
        abort(400)
    application = step.application
    run_and_flash(
        lambda: ops.decide_step(step, decision, request.form.get("comment"), actor=current_user),
        DONE[decision],
    )
    return _detail(application)


@bp.post("/applications/<int:application_id>/notes")
@login_required
def note(application_id):
    application = _reviewed(application_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_and_flash(
        lambda: ops.add_note(application, request.form.get("note"), actor=current_user),
        _("The note is added."),
    )
    return _detail(application, "#notes")


def _reviewed(application_id):
    """The application, for a reviewer's change: 404 for its student and for whoever may not
    see it."""
    application = db.session.get(Application, application_id)
    if (
        application is None
        or application.student_id == current_user.id
        or not can_view(current_user, application)
    ):
        abort(404)
    return application


@bp.post("/applications/<int:application_id>/return")
@login_required
def return_for_changes(application_id):
    application = _reviewed(application_id)
    form = CommentForm()
    if not form.validate_on_submit():
        flash(_("Say what the student should change."), "danger")
    else:
        run_and_flash(
            lambda: ops.return_for_changes(application, form.comment.data, actor=current_user),
            DONE[Decision.RETURN],
        )
    return _detail(application)
