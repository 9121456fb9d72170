from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.models import Role, Unit
from ..core import uploads
from ..core.cache import LRUCache
from ..core.errors import DomainError
from ..core.forms import ConfirmForm, show_problems
from ..core.security import roles_required
from ..core.views import chooser, options_html, run_and_flash
from ..extensions import db
from . import operations as ops
from . import queries, reference, rules
from .academic import current_academic_year
from .eligibility import StudentFacts
from .forms import AgreementForm, ContactForm, DocumentForm, PartnerForm, TerminateForm
from .lines import agreement_lines
from .models import Agreement, Partner, PartnerContact, PartnerStatus

bp = Blueprint("catalogue", __name__)
STAFF = Role.STAFF


def is_staff():
    return current_user.has_role(*STAFF)


def student_facts():
    return StudentFacts.of(current_user) if current_user.has_role(Role.STUDENT) else None


def _units():
    return db.session.scalars(db.select(Unit).order_by(Unit.code)).all()


# The filter's countries, languages and subject areas as <option>s, per language: reference
# data that no table holds (core.cache declares it reads none). Rendering them took ~80 ms.
_rendered_references = LRUCache("reference_options", maxsize=64)


def _reference_options(kind, choices):
    key = (kind, str(get_locale()))
    return chooser(_rendered_references.get_or_set(key, lambda: options_html(choices())))


@bp.get("/")
@login_required
def index():
    staff = is_staff()
    student = student_facts()
    filters = queries.CatalogueFilters.from_args(request.args, staff=staff)
    result = queries.catalogue_page(filters, student)
    return render_template(
        "catalogue/index.html",
        filters=filters,
        staff=staff,
        student=student,
        lines=agreement_lines((a for p in result["partners"] for a in p.agreements), student),
        units=chooser(options_html(queries.units())),
        countries=_reference_options("countries", reference.country_choices),
        languages=_reference_options("languages", reference.language_choices),
        subjects=_reference_options("subjects", reference.isced_choices),
        **result,
    )


@bp.get("/partners/<int:partner_id>")
@login_required
def partner(partner_id):
    staff = is_staff()
    page = queries.partner_page(partner_id, staff=staff)
    if page is None:
        abort(404)
    student = student_facts()
    return render_template(
        "catalogue/partner.html",
        staff=staff,
        student=student,
        lines=agreement_lines(page["agreements"], student),
        contact_form=ContactForm(),
        confirm=ConfirmForm(),
        terminate_form=TerminateForm(),
        document_form=DocumentForm(),
        **page,
    )


def _partner_data(form):
    extra = (form.domains.data or "").replace(",", " ").split()
    return rules.PartnerData(
        name=form.name.data,
        country=form.country.data,
        name_native=form.name_native.data,
        city=form.city.data,
        region=form.region.data,
        website=form.website.data,
        hei_id=form.hei_id.data,
        domains=extra,
        languages=form.languages.data or [],
        description=form.description.data,
        status=form.status.data,
    )


@bp.route("/partners/new", methods=["GET", "POST"], defaults={"partner_id": None})
@bp.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def partner_edit(partner_id):
    partner = db.get_or_404(Partner, partner_id) if partner_id else None
    form = PartnerForm()
    if request.method == "GET" and partner is not None:
        form.process(
            data={
                "name": partner.name,
                "name_native": partner.name_native,
                "country": partner.country,
                "region": partner.region,
                "city": partner.city,
                "website": partner.website,
                "hei_id": partner.hei_id,
                "domains": " ".join(d for d in partner.domain_list if d != partner.hei_id),
                "languages": partner.language_codes,
                "description": partner.description,
                "status": partner.status.value,
            }
        )
    if form.validate_on_submit():
        try:
            partner, changed = ops.save_partner(partner, _partner_data(form), actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc, fallback=next(iter(form)))
        else:
            db.session.commit()
            flash(_("Partner saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("catalogue.partner", partner_id=partner.id))
    return render_template("catalogue/partner_form.html", form=form, partner=partner)


@bp.post("/partners/<int:partner_id>/status")
@roles_required(*STAFF)
def partner_status(partner_id):
    partner = db.get_or_404(Partner, partner_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    status = (
        PartnerStatus.INACTIVE if request.form.get("status") == "inactive" else PartnerStatus.ACTIVE
    )
    ops.set_partner_status(partner, status, actor=current_user)
    db.session.commit()
    flash(
        _("The partner is now hidden from students.")
        if status is PartnerStatus.INACTIVE
        else _("The partner is active again."),
        "success",
    )
    return redirect(url_for("catalogue.partner", partner_id=partner.id))


@bp.post("/partners/<int:partner_id>/contacts")
@roles_required(*STAFF)
def contact_add(partner_id):
    partner = db.get_or_404(Partner, partner_id)
    form = ContactForm()
    if form.validate_on_submit():
        run_and_flash(
            lambda: ops.add_contact(
                partner,
                name=form.name.data,
                role=form.role.data,
                email=form.email.data,
                phone=form.phone.data,
                actor=current_user,
            ),
            _("Contact added."),
        )
    else:
        flash(
            _(
                "The contact was not added: %(errors)s",
                errors="; ".join(e for errs in form.errors.values() for e in errs),
            ),
            "danger",
        )
    return redirect(url_for("catalogue.partner", partner_id=partner.id) + "#contacts")


@bp.post("/contacts/<int:contact_id>/delete")
@roles_required(*STAFF)
def contact_delete(contact_id):
    contact = db.get_or_404(PartnerContact, contact_id)
    partner_id = contact.partner_id
    if not ConfirmForm().validate_on_submit():
        abort(400)
    ops.remove_contact(contact, actor=current_user)
    db.session.commit()
    flash(_("Contact removed."), "success")
    return redirect(url_for("catalogue.partner", partner_id=partner_id) + "#contacts")


def _agreement_data(form):
    return rules.AgreementData(
        type=form.type.data,
        status=form.status.data,
        code=form.code.data,
        first_academic_year=form.first_academic_year.data,
        last_academic_year=form.last_academic_year.data,
        places_per_year=form.places_per_year.data if form.places_per_year.data is not None else 0,
        months_per_mobility=form.months_per_mobility.data or 5,
        all_units=form.all_units.data,
        unit_ids=form.unit_ids.data or [],
        degree_levels=form.degree_levels.data or [],
        subject_areas=form.subject_areas.data or [],
        language=form.language.data,
        language_level=form.language_level.data,
        min_gpa=form.min_gpa.data,
        min_gpa_scale=form.min_gpa_scale.data or 4,
        notes=form.notes.data,
    )


@bp.route(
    "/partners/<int:partner_id>/agreements/new",
    methods=["GET", "POST"],
    defaults={"agreement_id": None},
)
@bp.route(
    "/agreements/<int:agreement_id>/edit", methods=["GET", "POST"], defaults={"partner_id": None}
)
@roles_required(*STAFF)
def agreement_edit(partner_id, agreement_id):
    agreement = db.get_or_404(Agreement, agreement_id) if agreement_id else None
    partner = agreement.partner if agreement else db.get_or_404(Partner, partner_id)
    units = _units()
    form = AgreementForm(units=units)
    if request.method == "GET":
        if agreement is None:
            year = current_academic_year()
            form.process(
                data={
                    "first_academic_year": year,
                    "last_academic_year": year + 4,
                    "places_per_year": 2,
                    "months_per_mobility": 5,
                    "degree_levels": ["bachelor", "master"],
                    "all_units": True,
                    "min_gpa_scale": 4,
                    "status": "draft",
                }
            )
        else:
            form.process(
                data={
                    "code": agreement.code,
                    "type": agreement.type.value,
                    "status": agreement.status.value,
                    "first_academic_year": agreement.first_academic_year,
                    "last_academic_year": agreement.last_academic_year,
                    "places_per_year": agreement.places_per_year,
                    "months_per_mobility": agreement.months_per_mobility,
                    "degree_levels": [lvl.value for lvl in agreement.degree_levels],
                    "all_units": agreement.all_units,
                    "unit_ids": [u.id for u in agreement.units],
                    "subject_areas": agreement.subject_area_list,
                    "language": agreement.language or "",
                    "language_level": agreement.language_level.value
                    if agreement.language_level
                    else "",
                    "min_gpa": agreement.min_gpa,
                    "min_gpa_scale": agreement.min_gpa_scale,
                    "notes": agreement.notes,
                }
            )
    if form.validate_on_submit():
        chosen = [u for u in units if u.id in set(form.unit_ids.data or [])]
        try:
            agreement, changed = ops.save_agreement(
                agreement, partner, _agreement_data(form), units=chosen, actor=current_user
            )
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc, fallback=next(iter(form)))
        else:
            db.session.commit()
            flash(_("Agreement saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("catalogue.partner", partner_id=partner.id) + "#agreements")
    return render_template(
        "catalogue/agreement_form.html", form=form, partner=partner, agreement=agreement
    )


@bp.post("/agreements/<int:agreement_id>/terminate")
@roles_required(*STAFF)
def agreement_terminate(agreement_id):
    agreement = db.get_or_404(Agreement, agreement_id)
    form = TerminateForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for terminating the agreement."), "danger")
    else:
        run_and_flash(
            lambda: ops.terminate_agreement(agreement, reason=form.reason.data, actor=current_user),
            _("The agreement is terminated."),
        )
    return _back_to_agreements(agreement)


@bp.post("/agreements/<int:agreement_id>/document")
@roles_required(*STAFF)
def agreement_document_upload(agreement_id):
    agreement = db.get_or_404(Agreement, agreement_id)
    form = DocumentForm()
    if form.validate_on_submit():
        upload = form.document.data
        run_and_flash(
            lambda: ops.attach_document(
                agreement, upload.stream, upload.filename, actor=current_user
            ),
            _("The signed agreement is attached."),
        )
    else:
        flash(_("Choose a PDF file to upload."), "danger")
    return _back_to_agreements(agreement)


def _back_to_agreements(agreement):
    return redirect(url_for("catalogue.partner", partner_id=agreement.partner_id) + "#agreements")


@bp.get("/agreements/<int:agreement_id>/document")
@roles_required(*STAFF)
def agreement_document(agreement_id):
    agreement = db.get_or_404(Agreement, agreement_id)
    return uploads.send_upload(ops.document_path(agreement), agreement.document_name, "agreement")
