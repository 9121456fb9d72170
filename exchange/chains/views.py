"""Approval chain templates: the international office lists, writes and retires them."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..accounts.models import Role
from ..core import audit
from ..core.errors import DomainError
from ..core.forms import ConfirmForm, show_problems
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from . import hooks
from . import operations as ops
from .forms import FORM_ROWS, RESTART_LABELS, ChainForm, describe_step
from .models import ApprovalChain, ApprovalStepTemplate

bp = Blueprint("chains", __name__)
STAFF = Role.STAFF


@bp.record_once
def _register_template_helpers(state):
    state.app.jinja_env.globals.update(
        describe_step=describe_step, restart_label=RESTART_LABELS.get
    )


def _chain_or_404(chain_id):
    chain = db.session.scalar(
        sa.select(ApprovalChain)
        .where(ApprovalChain.id == chain_id)
        .options(selectinload(ApprovalChain.steps).selectinload(ApprovalStepTemplate.approver))
    )
    if chain is None:
        abort(404)
    return chain


@bp.get("/")
@roles_required(*STAFF)
def index():
    return render_template("chains/index.html", rows=ops.chains_with_usage(), confirm=ConfirmForm())


@bp.get("/<int:chain_id>")
@roles_required(*STAFF)
def detail(chain_id):
    chain = _chain_or_404(chain_id)
    calls = hooks.calls_naming(chain.id)
    history = audit.history(chain, limit=30)
    return render_template(
        "chains/detail.html",
        chain=chain,
        calls=calls,
        history=history,
        confirm=ConfirmForm(),
    )


def _form_data(chain):
    steps = [
        {
            "position": s.position,
            "name": s.name,
            "rule": s.rule.value,
            "unit_function": s.unit_function.value if s.unit_function else "",
            "approver": str(s.approver_id or ""),
            "time_limit_days": s.time_limit_days,
            "rejection_ends": s.rejection_ends,
            "may_return": s.may_return,
        }
        for s in chain.steps
    ]
    rows = min(ops.MAX_STEPS, max(FORM_ROWS, len(steps) + 2))
    for position in range(len(steps) + 1, rows + 1):
        steps.append({"position": position, "time_limit_days": 7})
    return {
        "name": chain.name,
        "description": chain.description,
        "restart_from": chain.restart_from.value,
        "steps": steps,
    }


def _new_form_data():
    return {"steps": [{"position": n, "time_limit_days": 7} for n in range(1, FORM_ROWS + 1)]}


def _chain_data(form):
    return ops.ChainData(
        name=form.name.data,
        description=form.description.data,
        restart_from=form.restart_from.data,
        steps=[
            ops.StepData(
                name=row.form.name.data,
                rule=row.form.rule.data,
                unit_function=row.form.unit_function.data,
                approver=row.form.approver.data,
                time_limit_days=row.form.time_limit_days.data,
                rejection_ends=row.form.rejection_ends.data,
                may_return=row.form.may_return.data,
                position=row.form.position.data,
            )
            for row in form.steps
        ],
    )


def _field(form, name):
    """The form field a problem names: "name", or "steps-<row>-<field>" for a step row."""
    parts = (name or "").split("-")
    if len(parts) == 3 and parts[0] == "steps" and parts[1].isdigit():
        row = int(parts[1])
        if row < len(form.steps.entries):
            return getattr(form.steps.entries[row].form, parts[2], None)
    return getattr(form, name or "", None) if name != "steps" else None


@bp.route("/new", methods=["GET", "POST"], defaults={"chain_id": None})
@bp.route("/<int:chain_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(chain_id):
    chain = _chain_or_404(chain_id) if chain_id else None
    form = ChainForm(approvers=ops.approver_choices())
    general = []
    if request.method == "GET":
        form.process(data=_form_data(chain) if chain else _new_form_data())
    if form.validate_on_submit():
        try:
            chain, changed = ops.save_chain(chain, _chain_data(form), actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            general = show_problems(form, exc, find=_field)
        else:
            db.session.commit()
            if not changed:
                flash(_("Nothing changed."), "success")
            elif "version" in changed:
                flash(
                    _(
                        "Chain saved as version %(version)d. Applications submitted earlier "
                        "keep the steps they started with.",
                        version=chain.version,
                    ),
                    "success",
                )
            else:
                flash(_("Chain saved."), "success")
            return redirect(url_for("chains.detail", chain_id=chain.id))
    return render_template("chains/form.html", form=form, chain=chain, general=general)


@bp.post("/<int:chain_id>/active")
@roles_required(*STAFF)
def set_active(chain_id):
    chain = db.get_or_404(ApprovalChain, chain_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    run_and_flash(
        lambda: ops.set_chain_active(chain, active, actor=current_user),
        _("The chain can be chosen for calls again.")
        if active
        else _("The chain can no longer be chosen for new calls; calls using it keep it."),
    )
    if request.form.get("back") == "index":
        return redirect(url_for("chains.index"))
    return redirect(url_for("chains.detail", chain_id=chain.id))
