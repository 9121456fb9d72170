"""The student's side of applying: draft, choices, documents, submit, withdraw, timeline.

Anyone who may not see an application gets 404 for it and its documents, never 403: a
guessed id must not even confirm that the application exists."""

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from ..calls.labels import offering_terms
from ..calls.models import Call, DocumentKind
from ..catalogue.eligibility import reasons
from ..catalogue.reference import country_name
from ..core import uploads
from ..core.errors import DomainError
from ..core.forms import ConfirmForm, show_problems
from ..core.params import whole
from ..core.validation import ValidationFailed
from ..core.views import run_and_flash
from ..extensions import db
from ..students import profiles
from . import operations as ops
from . import queries
from .forms import LANGUAGE_ROWS, DetailsForm, DocumentForm, ReasonForm
from .labels import template_globals
from .models import Document
from .review import review_of

bp = Blueprint("applications", __name__)


@bp.record_once
def _register_globals(state):
    state.app.jinja_env.globals.update(template_globals())


def _visible(application_id):
    application = queries.load_application(application_id)
    if application is None or not ops.can_view(current_user, application):
        abort(404)
    return application


def _own(application_id):
    """The application, for a change only its student may make."""
    application = _visible(application_id)
    if application.student_id != current_user.id:
        abort(404)
    return application


def _back(application, anchor=""):
    return redirect(url_for("applications.detail", application_id=application.id) + anchor)


@bp.get("/")
@login_required
def index():
    return render_template(
        "applications/index.html", applications=queries.student_applications(current_user.id)
    )


@bp.post("/start/<int:call_id>")
@login_required
def start(call_id):
    call = db.get_or_404(Call, call_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        application, created = ops.start_application(call, current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("calls.detail", call_id=call.id))
    db.session.commit()
    if created:
        flash(_("Your draft application is started. Nothing is sent until you submit."), "success")
    return _back(application)


def _details_form(application):
    """The form with the details as saved (one that failed to save is shown as it was sent)."""
    rows = [
        {"language": r.language, "level": r.level.name, "test_name": r.test_name}
        for r in application.languages
    ]
    rows += [{}] * max(0, LANGUAGE_ROWS - len(rows))
    return DetailsForm(
        formdata=None,
        data={
            "statement": application.statement,
            "gpa": "" if application.gpa is None else f"{application.gpa:f}",
            "gpa_scale": f"{application.gpa_scale:f}",
            "languages": rows,
        },
    )


@bp.get("/<int:application_id>")
@login_required
def detail(application_id):
    application = _visible(application_id)
    return _render_detail(application)


@dataclass(slots=True)
class OfferingRow:
    """A row of the table of what the call offers, shaped for the template."""

    id: int
    partner: str
    country_code: str
    country: str
    places: int
    terms: str
    reasons: list[str]


def _offering_rows(offerings, facts):
    """The offerings with their terms and, when the student no longer meets one, why not.
    Terms, countries and verdicts repeat across a call's offerings: each is formatted once
    per page."""
    terms: dict[tuple, str] = {}
    countries: dict[str, str] = {}
    verdicts: dict[tuple, list[str]] = {}
    rows = []
    for o in offerings:
        term = terms.get(o.terms_key)
        if term is None:
            term = terms[o.terms_key] = offering_terms(o)
        country = countries.get(o.country)
        if country is None:
            country = countries[o.country] = country_name(o.country)
        key = o.verdict_key
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = [str(r) for r in reasons(o, facts)]
        rows.append(
            OfferingRow(
                id=o.id,
                partner=o.partner,
                country_code=o.country,
                country=country,
                places=o.places,
                terms=term,
                reasons=verdict,
            )
        )
    return rows


def _offering_table(rows):
    """The rows of the table of what the call offers, joined in Python: a call may offer
    hundreds, and a template loop costs several times as much a row (as core.views.options_html
    says of options)."""
    meets = Markup(
        '<span class="text-success"><i class="bi bi-check-circle" aria-hidden="true"></i> {}</span>'
    ).format(_("You meet the requirements."))
    verdicts: dict[int, str] = {}  # rows alike in requirements share their list of reasons
    html = []
    for r in rows:
        verdict = verdicts.get(id(r.reasons))
        if verdict is None:
            verdict = verdicts[id(r.reasons)] = (
                '<ul class="mb-0 ps-3 text-danger">'
                + "".join(f"<li>{escape(reason)}</li>" for reason in r.reasons)
                + "</ul>"
                if r.reasons
                else meets
            )
        html.append(
            f'<tr data-testid="offering"><td>{escape(r.partner)}'
            f'<div class="text-body-secondary">{escape(r.country)}</div></td>'
            f'<td>{r.places}<div class="text-body-secondary">{escape(r.terms)}</div></td>'
            f"<td>{verdict}</td></tr>"
        )
    return Markup("".join(html))


def _choice_options(rows):
    """The <option>s of the choice selects, built once for all of them (a call may offer
    hundreds): a function of the offering chosen at a rank, which is selected and, even
    when the student no longer meets it, not disabled."""
    not_eligible = _("not eligible")
    places: dict[int, str] = {}
    labels = []
    for r in rows:
        if r.places not in places:
            places[r.places] = ngettext("%(num)d place", "%(num)d places", r.places)
        label = f"{r.partner} ({r.country_code}) — {r.terms} · {places[r.places]}"
        labels.append((r.id, escape(f"{label} — {not_eligible}" if r.reasons else label)))
    plain = [
        f'<option value="{oid}"{" disabled" if r.reasons else ""}>{label}</option>'
        for (oid, label), r in zip(labels, rows, strict=True)
    ]
    html = Markup("".join(plain))

    def options(current):
        if current is None:
            return html
        return Markup(
            "".join(
                f'<option value="{oid}" selected>{label}</option>' if oid == current else text
                for (oid, label), text in zip(labels, plain, strict=True)
            )
        )

    return options


def _render_detail(application, details_form=None, status=200):
    own = application.student_id == current_user.id
    editable = own and application.editable
    withdrawable = own and application.status in ops.WITHDRAWABLE
    # Only an application its student may still edit offers the call's offerings to choose,
    # judged on what the student confirmed in it.
    offerings = (
        _offering_rows(queries.call_offerings(application.call_id), ops.facts_for(application))
        if editable
        else []
    )
    # Reviewers: the chain's steps, internal notes and, when it is their turn, the decision,
    # as approvals provides them. The student never gets any of it.
    review = review_of(application, current_user)
    return (
        render_template(
            "applications/detail.html",
            application=application,
            call=application.call,
            own=own,
            editable=editable,
            staff=current_user.has_role(*ops.STAFF_ROLES),
            details_form=details_form or (_details_form(application) if editable else None),
            # The forms only the student's own, still editable or withdrawable, page shows.
            document_form=DocumentForm() if editable else None,
            confirm_form=ConfirmForm(),
            reason_form=ReasonForm() if withdrawable else None,
            checklist=ops.checklist(application),
            next_step=queries.waiting_for(application, for_student=own),
            deadline=ops.deadline_text(application.call),
            accepting=application.call.accepts_applications(),
            offerings=offerings,
            choice_options=_choice_options(offerings),
            offering_table=_offering_table(offerings),
            can_delete=ops.can_delete,
            timeline=[
                e
                for e in application.events
                if (not e.internal or not own) and not (review and e.action == "note")
            ],
            review=review,
            withdrawable=withdrawable,
            profile_gaps=profiles.gaps(current_user) if editable else [],
            profile_changes={} if own else profiles.snapshot_changes(application),
        ),
        status,
    )


@bp.post("/<int:application_id>/details")
@login_required
def save_details(application_id):
    application = _own(application_id)
    form = DetailsForm()
    if not form.validate_on_submit():
        return _render_detail(application, form, 400)
    details = ops.Details(
        statement=form.statement.data or "",
        gpa=form.gpa.data,
        gpa_scale=form.gpa_scale.data,
        languages=[
            (row.language.data, row.level.data, row.test_name.data) for row in form.languages
        ],
    )
    try:
        changed = ops.save_details(application, details, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        show_problems(form, exc, fallback=form.languages)
        return _render_detail(application, form, 400)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _back(application)
    db.session.commit()
    flash(_("Saved.") if changed else _("Nothing changed."), "success")
    return _back(application, "#details")


def _ids(values):
    ids = []
    for value in values:
        if not (value or "").strip():
            continue
        number = whole(value)
        if number is None:
            return None
        ids.append(number)
    return ids


@bp.post("/<int:application_id>/choices")
@login_required
def save_choices(application_id):
    application = _own(application_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    ids = _ids(request.form.getlist("choice"))
    if ids is None:
        flash(_("That choice is not offered in this call."), "danger")
    else:
        run_and_flash(
            lambda: ops.set_choices(application, ids, actor=current_user), _("Choices saved.")
        )
    return _back(application, "#choices")


@bp.post("/<int:application_id>/choices/<int:offering_id>/<direction>")
@login_required
def move_choice(application_id, offering_id, direction):
    if direction not in ("up", "down"):
        abort(404)
    application = _own(application_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    step = -1 if direction == "up" else 1
    run_and_flash(
        lambda: ops.move_choice(application, offering_id, step, actor=current_user),
        _("Choices saved."),
    )
    return _back(application, "#choices")


@bp.post("/<int:application_id>/documents")
@login_required
def upload_document(application_id):
    application = _own(application_id)
    form = DocumentForm()
    if not form.validate_on_submit():
        flash(_("Choose the kind of document and a file."), "danger")
        return _back(application, "#documents")
    upload = form.file.data
    run_and_flash(
        lambda: ops.upload_document(
            application,
            DocumentKind(form.kind.data),
            upload.stream,
            upload.filename,
            actor=current_user,
        ),
        _("The document is uploaded."),
    )
    return _back(application, "#documents")


def _document(document_id):
    document = db.session.get(Document, document_id)
    if document is None:
        abort(404)
    _visible(document.application_id)
    return document


@bp.post("/documents/<int:document_id>/delete")
@login_required
def delete_document(document_id):
    document = _document(document_id)
    application = document.application
    if application.student_id != current_user.id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_and_flash(
        lambda: ops.delete_document(document, actor=current_user), _("The document is deleted.")
    )
    return _back(application, "#documents")


@bp.get("/documents/<int:document_id>")
@login_required
def document(document_id):
    document = _document(document_id)
    return uploads.send_upload(
        uploads.path_of("applications", document.stored_name), document.original_name
    )


@bp.post("/<int:application_id>/submit")
@login_required
def submit(application_id):
    application = _own(application_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_and_flash(
        lambda: ops.submit_application(application, actor=current_user),
        _("Your application is submitted. You can follow its progress on this page."),
    )
    return _back(application)


@bp.post("/<int:application_id>/withdraw")
@login_required
def withdraw(application_id):
    application = _own(application_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for withdrawing."), "danger")
    else:
        run_and_flash(
            lambda: ops.withdraw_application(application, form.reason.data, actor=current_user),
            _("Your application is withdrawn."),
        )
    return _back(application)
