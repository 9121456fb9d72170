"""The student's answer to an offered place (accept, decline, keep it whatever frees above)
and the coordinator's days to answer; routes on the selection blueprint."""

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..applications.models import Application
from ..core.database import utcnow
from ..core.forms import ConfirmForm
from ..core.params import whole
from ..core.security import roles_required
from ..core.views import run_and_flash
from ..extensions import db
from . import offer_labels
from . import offers as ops
from .models import OfferStatus
from .views import STAFF, _call, bp


@bp.record_once
def _init(state):
    offer_labels.init_app(state.app)
    ops.init_app(state.app)


def _own_application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or application.student_id != current_user.id:
        abort(404)
    return application


def _back(application: Application):
    return redirect(url_for(".result", application_id=application.id))


def _answer(application_id: int, answer, done: str):
    """The student's accept or decline, run again if PostgreSQL breaks a deadlock."""
    application = _own_application(application_id)
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.retrying(lambda: answer(application, actor=current_user, now=utcnow())),
            done,
        )
    return _back(application)


@bp.post("/applications/<int:application_id>/selection/accept")
@login_required
def accept(application_id):
    return _answer(application_id, ops.accept_offer, _("You accepted the place."))


@bp.post("/applications/<int:application_id>/selection/decline")
@login_required
def decline(application_id):
    return _answer(
        application_id,
        ops.decline_offer,
        _("You declined the place; it goes to the next student."),
    )


@bp.post("/applications/<int:application_id>/selection/upgrades")
@login_required
def upgrades(application_id):
    application = _own_application(application_id)
    keep = request.form.get("keep") == "1"
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.keep_place(application, keep, actor=current_user),
            _("You keep this place whatever frees above it.")
            if keep
            else _("A place of a higher choice will replace this one if one frees."),
        )
    return _back(application)


@bp.post("/calls/<int:call_id>/selection/offer-days")
@roles_required(*STAFF)
def offer_days(call_id):
    call = _call(call_id)
    days = whole(request.form.get("days"), 0, low=0)
    if ConfirmForm().validate_on_submit():
        run_and_flash(
            lambda: ops.set_offer_days(call, days, actor=current_user),
            _("Days to answer an offer saved."),
        )
    return redirect(url_for(".index", call_id=call.id))


@bp.app_template_global()
def selection_offer(application_id: int):
    """The offer the result page shows: the holding one, else the last one."""
    return ops.holding_offer(application_id) or ops.latest_offer(application_id)


@bp.app_template_global()
def offer_days_of(call_id: int) -> int:
    return ops.offer_days(call_id)


@bp.app_context_processor
def _offer_statuses():
    return {"OfferStatus": OfferStatus}
