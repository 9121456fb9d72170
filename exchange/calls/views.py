"""Call pages: coordinators prepare and schedule calls; students see the open ones."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.models import Role
from ..catalogue.academic import current_academic_year
from ..catalogue.academic import label as year_label
from ..catalogue.reference import normalise_country
from ..chains.operations import chain_choices
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.forms import ConfirmForm, show_problems
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from ..students import profiles
from . import editing, labels, queries, scheduling, times
from . import offerings as offering_ops
from .forms import CallForm, OfferingsForm, offering_rows
from .models import Call

bp = Blueprint("calls", __name__)
STAFF = Role.STAFF


@bp.record_once
def _register_template_helpers(state):
    state.app.jinja_env.globals.update(labels.template_globals())
    state.app.jinja_env.filters["call_time"] = labels.call_time
    state.app.jinja_env.filters["utc_offset"] = labels.utc_offset
    state.app.jinja_env.filters["time_left"] = labels.time_left


def is_staff():
    return current_user.has_role(*STAFF)


@bp.get("/")
@login_required
def index():
    now = utcnow()
    if is_staff():
        return render_template(
            "calls/index.html",
            staff=True,
            rows=queries.staff_index(),
            now=now,
            confirm=ConfirmForm(),
        )
    student_id = current_user.id if current_user.has_role(Role.STUDENT) else None
    rows, mine = queries.open_calls(now, student_id)
    return render_template("calls/index.html", staff=False, rows=rows, mine=mine, now=now)


@bp.get("/<int:call_id>")
@login_required
def detail(call_id):
    staff = is_staff()
    student_id = current_user.id if current_user.has_role(Role.STUDENT) else None
    page = queries.call_page(call_id, staff=staff, student_id=student_id)
    if page is None:
        abort(404)
    return render_template(
        "calls/detail.html",
        staff=staff,
        is_student=student_id is not None,
        now=utcnow(),
        confirm=ConfirmForm(),
        lists_endpoint="application_lists.index" in current_app.view_functions,
        user_timezone=str(get_timezone()),
        profile_gaps=profiles.gaps(current_user) if student_id is not None else [],
        **page,
    )


def _call_data(form):
    return editing.CallData(
        title=form.title.data,
        academic_year=form.academic_year.data,
        term=form.term.data,
        description=form.description.data,
        timezone=form.timezone.data,
        opens_at=form.opens_at.data,
        closes_at=form.closes_at.data,
        decision_at=form.decision_at.data,
        nomination_deadline=form.nomination_deadline.data,
        max_choices=form.max_choices.data,
        required_documents=form.required_documents.data or [],
        approval_chain_id=form.approval_chain_id.data or None,
    )


def _form_data(call):
    zone = call.timezone
    return {
        "title": call.title,
        "academic_year": call.academic_year,
        "term": call.term.value,
        "description": call.description,
        "timezone": zone,
        **{name: times.utc_to_local(getattr(call, name), zone) for name in editing.DATE_FIELDS},
        "max_choices": call.max_choices,
        "required_documents": [k.value for k in call.required_kinds],
        "approval_chain_id": str(call.approval_chain_id or ""),
    }


def _new_call_data():
    zone = str(get_timezone())
    year = current_academic_year() + 1
    return {
        "title": _("Exchange call %(year)s", year=year_label(year)),
        "academic_year": year,
        "term": "full_year",
        "timezone": zone,
        **editing.default_dates(zone=zone),
        "max_choices": 3,
        "required_documents": ["transcript"],
    }


@bp.route("/new", methods=["GET", "POST"], defaults={"call_id": None})
@bp.route("/<int:call_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(call_id):
    call = db.get_or_404(Call, call_id) if call_id else None
    form = CallForm(chains=chain_choices(call.approval_chain_id if call else None))
    if request.method == "GET":
        form.process(data=_form_data(call) if call else _new_call_data())
    if form.validate_on_submit():
        try:
            call, changed = editing.save_call(call, _call_data(form), actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc, fallback=form.title)
        else:
            db.session.commit()
            flash(_("Call saved.") if changed else _("Nothing changed."), "success")
            if call_id is None:
                return redirect(url_for("calls.offerings", call_id=call.id))
            return redirect(url_for("calls.detail", call_id=call.id))
    return render_template("calls/form.html", form=form, call=call)


@bp.route("/<int:call_id>/offerings", methods=["GET", "POST"])
@roles_required(*STAFF)
def offerings(call_id):
    call = db.get_or_404(Call, call_id)
    q = (request.args.get("q") or "").strip()[:100]
    country = normalise_country(request.args.get("country")) or ""
    form = OfferingsForm()
    problems = []
    if form.validate_on_submit():
        rows, shown = offering_rows(request.form)
        try:
            offering_ops.set_offerings(call, rows, actor=current_user, only=shown)
        except DomainError as exc:
            db.session.rollback()
            problems = [str(m) for _f, m in getattr(exc, "problems", [(exc.field, exc.message)])]
        else:
            db.session.commit()
            flash(_("Offerings saved."), "success")
            return redirect(url_for("calls.detail", call_id=call.id) + "#offerings")
    candidates, offered = queries.offering_candidates(call, q=q, country=country)
    return render_template(
        "calls/offerings.html",
        call=call,
        form=form,
        problems=problems,
        typed=bool(problems),
        candidates=candidates,
        offered=offered,
        q=q,
        country=country,
        countries=queries.candidate_countries(call),
    )


def _status_change(call_id, operation, success):
    call = db.get_or_404(Call, call_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_and_flash(lambda: operation(call), success)
    return redirect(url_for("calls.detail", call_id=call.id))


@bp.post("/<int:call_id>/schedule")
@roles_required(*STAFF)
def schedule(call_id):
    return _status_change(
        call_id,
        lambda call: scheduling.schedule_call(call, actor=current_user),
        _("The call is scheduled: it opens and closes by itself at the times set."),
    )


@bp.post("/<int:call_id>/unschedule")
@roles_required(*STAFF)
def unschedule(call_id):
    return _status_change(
        call_id,
        lambda call: scheduling.unschedule_call(call, actor=current_user),
        _("The call is a draft again: students no longer see it."),
    )


@bp.post("/<int:call_id>/close")
@roles_required(*STAFF)
def close(call_id):
    return _status_change(
        call_id,
        lambda call: scheduling.close_call_now(call, actor=current_user),
        _("The call is closed: students can no longer apply."),
    )


@bp.post("/<int:call_id>/clone")
@roles_required(*STAFF)
def clone(call_id):
    call = db.get_or_404(Call, call_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    copy, skipped = scheduling.clone_call(call, actor=current_user)
    db.session.commit()
    flash(
        _("A draft copy for %(year)s was created.", year=year_label(copy.academic_year)), "success"
    )
    if skipped:
        flash(
            _(
                "Left out because their agreements do not cover %(year)s: %(names)s.",
                year=year_label(copy.academic_year),
                names=", ".join(skipped),
            ),
            "warning",
        )
    return redirect(url_for("calls.detail", call_id=copy.id))
