"""Substitutes: an approver names someone to decide for them while they are away."""

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ..accounts.models import Role, User
from ..chains.operations import approver_choices
from ..core.errors import DomainError
from ..core.forms import ConfirmForm, show_problems
from ..core.params import whole
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from . import operations as ops
from .forms import SubstituteForm
from .models import Substitution

bp = Blueprint("substitutes", __name__)
APPROVERS = Role.APPROVERS


def local_today():
    """Today where the user is: "from today" means their today, not UTC's."""
    return datetime.now(get_timezone()).date()


def _current_and_future(column, today):
    return db.session.scalars(
        sa.select(Substitution)
        .where(column == current_user.id, Substitution.ends_on >= today)
        .options(joinedload(Substitution.user), joinedload(Substitution.substitute))
        .order_by(Substitution.starts_on, Substitution.id)
    ).all()


@bp.route("/", methods=["GET", "POST"])
@roles_required(*APPROVERS)
def index():
    today = local_today()
    candidates = [u for u in approver_choices() if u.id != current_user.id]
    form = SubstituteForm(candidates=candidates)
    if form.validate_on_submit():
        substitute_id = whole(form.substitute.data)
        substitute = db.session.get(User, substitute_id) if substitute_id else None
        try:
            ops.name_substitute(
                current_user,
                substitute,
                form.starts_on.data,
                form.ends_on.data,
                actor=current_user,
                today=today,
            )
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc, fallback=form.substitute)
        else:
            db.session.commit()
            flash(
                _(
                    "%(name)s will decide for you from %(first)s to %(last)s.",
                    name=substitute.name,
                    first=form.starts_on.data.isoformat(),
                    last=form.ends_on.data.isoformat(),
                ),
                "success",
            )
            return redirect(url_for("substitutes.index"))
    elif not form.is_submitted():
        form.starts_on.data = form.starts_on.data or today
    return render_template(
        "approvals/substitutes/index.html",
        form=form,
        given=_current_and_future(Substitution.user_id, today),
        received=_current_and_future(Substitution.substitute_id, today),
        today=today,
        confirm=ConfirmForm(),
    )


@bp.post("/<int:substitution_id>/end")
@roles_required(*APPROVERS)
def end(substitution_id):
    row = db.get_or_404(Substitution, substitution_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_and_flash(
        lambda: ops.end_substitution(row, actor=current_user, today=local_today()),
        _("The substitution has ended."),
    )
    return redirect(url_for("substitutes.index"))
