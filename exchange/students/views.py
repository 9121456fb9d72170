"""The profile pages: the student's own (/profile) and the office's view and correction of a
student's profile (/students/<id>/profile)."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.models import Role, Unit, User
from ..core import audit, uploads
from ..core.errors import DomainError
from ..core.forms import show_problems
from ..core.security import roles_required
from ..core.validation import ValidationFailed
from ..extensions import db
from . import profiles
from .forms import LanguageForm, PlainForm, ProfileForm

bp = Blueprint("students", __name__)
PROFILE_FIELDS = (
    "student_number",
    "unit_id",
    "degree_level",
    "programme",
    "year_of_study",
    "gpa",
    "gpa_scale",
    "nationality",
    "date_of_birth",
    "phone",
    "emergency_contact",
    "emergency_phone",
)


def _form_data(user):
    profile = user.profile
    unit = profiles.member_unit(user)
    if profile is None:
        return {"gpa_scale": "4.00", "unit_id": str(unit.id) if unit else ""}
    return {
        "student_number": profile.student_number or "",
        "unit_id": str(unit.id) if unit else "",
        "degree_level": profile.degree_level.value if profile.degree_level else "",
        "programme": profile.programme or "",
        "year_of_study": str(profile.year_of_study or ""),
        "gpa": "" if profile.gpa is None else f"{profile.gpa:f}",
        "gpa_scale": f"{profile.gpa_scale:f}",
        "nationality": profile.nationality or "",
        "date_of_birth": profile.date_of_birth.isoformat() if profile.date_of_birth else "",
        "phone": profile.phone or "",
        "emergency_contact": profile.emergency_contact or "",
        "emergency_phone": profile.emergency_phone or "",
    }


def _units():
    return db.session.scalars(sa.select(Unit).where(Unit.active.is_(True)).order_by(Unit.code))


def _student(user_id):
    user = db.session.get(User, user_id)
    if user is None or not user.has_role(Role.STUDENT):
        abort(404)
    return user


def _locked(user, staff):
    """The form fields the viewer may not change."""
    if staff:
        return set()
    owned = profiles.registrar_owned(user.profile)
    locked = {"student_number", "unit_id"}
    locked |= {"unit_id" if name == "unit" else name for name in owned}
    return locked


def _save(user, form, staff):
    locked = _locked(user, staff)
    data = profiles.ProfileData(
        **{
            name: getattr(form, name).data
            for name in PROFILE_FIELDS
            if name not in locked and name in request.form
        }
    )
    try:
        changed = profiles.update_profile(user, data, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        for message in show_problems(form, exc):
            flash(message, "danger")
        return None
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return None
    db.session.commit()
    flash(_("Profile saved.") if changed else _("Nothing changed."), "success")
    return True


def _render(user, form, staff, status=200):
    history = []
    if staff:
        history = audit.history(user, limit=50, action_prefix="profile.")
    return (
        render_template(
            "students/profile.html",
            student=user,
            profile=user.profile,
            form=form,
            language_form=LanguageForm(),
            staff=staff,
            locked=_locked(user, staff),
            registrar=profiles.registrar_owned(user.profile),
            gaps=profiles.gaps(user),
            history=history,
        ),
        status,
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    if not current_user.has_role(Role.STUDENT):
        abort(404)
    return _profile_page(current_user, staff=False)


@bp.route("/students/<int:user_id>/profile", methods=["GET", "POST"])
@roles_required(*profiles.STAFF_ROLES)
def staff_profile(user_id):
    return _profile_page(_student(user_id), staff=True)


def _profile_page(user, staff):
    units = list(_units())
    if request.method == "POST":
        form = ProfileForm(units=units)
        if form.validate_on_submit() and _save(user, form, staff):
            return redirect(request.path)
        return _render(user, form, staff, 400)
    form = ProfileForm(units=units, formdata=None, data=_form_data(user))
    return _render(user, form, staff)


def _target(user_id):
    if user_id is None:
        if not current_user.has_role(Role.STUDENT):
            abort(404)
        return current_user, url_for("students.profile")
    if not current_user.has_role(*profiles.STAFF_ROLES):
        abort(404)
    user = _student(user_id)
    return user, url_for("students.staff_profile", user_id=user.id)


@bp.post("/profile/languages", defaults={"user_id": None})
@bp.post("/students/<int:user_id>/profile/languages")
@login_required
def save_language(user_id):
    user, back = _target(user_id)
    form = LanguageForm()
    if not form.validate_on_submit():
        flash(_("Choose a language and a level."), "danger")
        return redirect(back + "#languages")
    upload = form.certificate.data
    data = profiles.LanguageData(
        language=form.language.data,
        level=form.level.data,
        test_name=form.test_name.data or "",
        score=form.score.data or "",
        taken_on=form.taken_on.data or "",
    )
    _commit_or_flash(
        lambda: profiles.save_language_result(
            user,
            data,
            upload.stream if upload else None,
            upload.filename if upload else None,
            actor=current_user,
        ),
        _("Language result saved."),
    )
    return redirect(back + "#languages")


@bp.post("/profile/languages/<int:result_id>/delete", defaults={"user_id": None})
@bp.post("/students/<int:user_id>/profile/languages/<int:result_id>/delete")
@login_required
def delete_language(result_id, user_id):
    user, back = _target(user_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    _commit_or_flash(
        lambda: profiles.delete_language_result(user, result_id, actor=current_user),
        _("Language result deleted."),
    )
    return redirect(back + "#languages")


def _commit_or_flash(change, done):
    """Run `change`: commit and say `done`, or roll back and say every problem."""
    try:
        change()
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(str(m) for _f, m in exc.problems), "danger")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(done, "success")


@bp.get("/profile/languages/<int:result_id>/certificate", defaults={"user_id": None})
@bp.get("/students/<int:user_id>/profile/languages/<int:result_id>/certificate")
@login_required
def certificate(result_id, user_id):
    user, _back = _target(user_id)
    result = next(
        (r for r in (user.profile.language_results if user.profile else []) if r.id == result_id),
        None,
    )
    path = uploads.path_of("certificates", result.certificate_stored_name if result else None)
    if path is None or not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=result.certificate_type,
        as_attachment=True,
        download_name=result.certificate_name or "certificate",
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
