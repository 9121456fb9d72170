import time

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from ..accounts.models import Role
from ..applications.queries import student_applications
from ..approvals.queue import QUEUE_ROLES, queue_for
from ..calls.queries import open_calls
from ..core.database import utcnow
from ..core.heartbeat import last_beat
from ..extensions import csrf, db, limiter
from . import queries

bp = Blueprint("main", __name__)
PUBLIC_ENDPOINTS = {"main.index", "main.healthz", "main.livez"}


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    return redirect(url_for("auth.login"))


@bp.get("/home")
@login_required
def home():
    role = current_user.primary_role
    now = utcnow()
    context = {"role": role}
    if current_user.has_role(*QUEUE_ROLES):
        # The same count as the navigation's badge, and the first of the steps it counts.
        context["my_queue"] = queue_for(current_user, now=now, today=now.date())
        g.approvals_waiting = context["my_queue"].waiting_total  # the badge: no statement more
    if role is Role.STUDENT:
        context["profile"] = current_user.profile
        context["applications"] = student_applications(current_user.id)
        context["open_calls"], context["mine"] = open_calls(now, current_user.id)
    elif role is Role.ADVISOR:
        context["unit_rows"] = queries.students_per_unit(current_user.unit_ids())
    else:
        context["role_counts"] = queries.users_per_role()
        context["unit_rows"] = queries.students_per_unit()
        context["overview"] = queries.office_overview(now)
        if role is Role.ADMIN:
            context["mail_counts"] = queries.mail_counts()
            context["failed_logins"] = queries.failed_logins_last_day()
            context["events"] = queries.recent_audit_events()
            context["worker_beat"] = last_beat()
    return render_template(f"main/home_{role.value}.html", **context)


@bp.get("/livez")
@limiter.exempt
def livez():
    """Liveness: the process answers (no database or broker involved)."""
    return {"status": "alive"}


@bp.get("/healthz")
@limiter.exempt
@csrf.exempt
def healthz():
    checks = {"database": _check_database(), "broker": _check_broker()}
    beat = last_beat() if checks["database"]["ok"] else None
    body = {
        "status": "ok" if all(c["ok"] for c in checks.values()) else "unavailable",
        **checks,
        "worker_last_heartbeat": beat.isoformat() if beat else None,
    }
    return jsonify(body), 200 if body["status"] == "ok" else 503


def _timed(check):
    start = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure means "not answering"
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1)}


def _check_database():
    def check():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()

    return _timed(check)


def _check_broker():
    celery = current_app.extensions["celery"]

    def check():
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)

    return _timed(check)
