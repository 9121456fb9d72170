"""The SELECTs of the minimal references, in SQLAlchemy Core on the application's tables.

Enumerations are read and compared as their stored strings (type_coerce to String), so rows
carry plain values and nothing of the application's code runs per row."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from exchange.catalogue.models import CEFR_RANK
from exchange.extensions import db

T = db.metadata.tables
USERS, ROLES, MEMBERS = T["users"], T["user_roles"], T["unit_memberships"]
PROFILES, RESULTS, UNITS = T["student_profiles"], T["language_results"], T["units"]
APPS, CHOICES, LANGS = T["applications"], T["application_choices"], T["application_languages"]
DOCS, EVENTS, STEPS = T["application_documents"], T["application_events"], T["application_steps"]
CALLS, OFFERINGS, NOTES = T["calls"], T["call_offerings"], T["notifications"]
PARTNERS, AGREEMENTS, CONTACTS = T["partners"], T["agreements"], T["partner_contacts"]
AGREEMENT_UNITS = T["agreement_units"]
QUEUE_SORTS = ("waiting", "due", "name")
RANK = {level.value: rank for level, rank in CEFR_RANK.items()}
WENT = ("host_accepted", "departed", "completed")
VERDICTS = ("unit_ok", "level_ok", "gpa_ok", "language_ok")


def v(column):
    """An enumeration column as its stored string."""
    return sa.type_coerce(column, sa.String)


def utcnow():
    return datetime.now(UTC)


def academic_year(now=None, start_month=9):
    now = now or utcnow()
    return now.year if now.month >= start_month else now.year - 1


# --- who is asking ------------------------------------------------------------------------------


def header(uid):
    """The user, their roles, units, unread notifications and student facts: one SELECT."""
    u = USERS.c
    roles = sa.select(sa.func.string_agg(v(ROLES.c.role), ",")).where(ROLES.c.user_id == u.id)
    members = (
        sa.select(
            sa.func.json_agg(
                sa.func.json_build_array(MEMBERS.c.unit_id, v(MEMBERS.c.function), UNITS.c.name)
            )
        )
        .select_from(MEMBERS.join(UNITS, UNITS.c.id == MEMBERS.c.unit_id))
        .where(MEMBERS.c.user_id == u.id)
    )
    results = sa.select(
        sa.func.json_agg(
            aggregate_order_by(
                sa.func.json_build_array(
                    RESULTS.c.language, v(RESULTS.c.level), RESULTS.c.test_name, RESULTS.c.score
                ),
                RESULTS.c.id,
            )
        )
    ).where(RESULTS.c.user_id == u.id)
    unread = (
        sa.select(sa.func.count())
        .select_from(NOTES)
        .where(NOTES.c.user_id == u.id, NOTES.c.read_at.is_(None))
    )
    p = PROFILES.c
    return (
        sa.select(
            u.id,
            u.name,
            u.email,
            roles.scalar_subquery().label("roles"),
            members.scalar_subquery().label("members"),
            results.scalar_subquery().label("results"),
            unread.scalar_subquery().label("unread"),
            p.student_number,
            v(p.degree_level).label("degree_level"),
            p.programme,
            p.gpa,
            p.gpa_scale,
            (p.user_id.is_not(None)).label("has_profile"),
        )
        .select_from(USERS.outerjoin(PROFILES, p.user_id == u.id))
        .where(u.id == uid)
    )


@dataclass
class UserFacts:
    id: int
    name: str
    email: str
    roles: set
    members: list  # (unit id, function, unit name)
    results: list  # (language, level, test name, score)
    unread: int
    profile: dict | None
    languages: dict = field(default_factory=dict)  # code -> best CEFR rank

    @classmethod
    def of(cls, row):
        results = row.results or []
        languages = {}
        for code, level, *_ in results:
            languages[code] = max(RANK[level], languages.get(code, 0))
        profile = None
        if row.has_profile:
            profile = {
                k: getattr(row, k)
                for k in ("student_number", "degree_level", "programme", "gpa", "gpa_scale")
            }
        return cls(
            row.id,
            row.name,
            row.email,
            set((row.roles or "").split(",")) - {""},
            row.members or [],
            results,
            row.unread,
            profile,
            languages,
        )

    def units(self, function=None):
        return sorted({m[0] for m in self.members if function is None or m[1] == function})


# --- the office's list --------------------------------------------------------------------------


@dataclass
class OfficeFilters:
    statuses: tuple = ()
    partner: int | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args):
        return cls(
            tuple(s for raw in args.getlist("status") for s in raw.split(",") if s),
            int(args["partner"]) if (args.get("partner") or "").isdigit() else None,
            (args.get("q") or "").strip()[:100],
            max(1, int(args.get("page") or 1)),
        )


def _like(q):
    return "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _students_matching(q):
    like = _like(q)
    return (
        sa.select(USERS.c.id)
        .outerjoin(PROFILES, PROFILES.c.user_id == USERS.c.id)
        .where(
            sa.or_(
                sa.func.lower(USERS.c.name).like(like, escape="\\"),
                USERS.c.email_key.like(like, escape="\\"),
                sa.func.lower(PROFILES.c.student_number).like(like, escape="\\"),
            )
        )
    )


def office_filter(call_id, f, with_status=True):
    a = APPS.c
    conditions = [a.call_id == call_id]
    if with_status:
        conditions.append(v(a.status).in_(f.statuses) if f.statuses else v(a.status) != "draft")
    if f.partner:
        conditions.append(
            a.id.in_(
                sa.select(CHOICES.c.application_id)
                .join(OFFERINGS, OFFERINGS.c.id == CHOICES.c.offering_id)
                .join(AGREEMENTS, AGREEMENTS.c.id == OFFERINGS.c.agreement_id)
                .where(AGREEMENTS.c.partner_id == f.partner, OFFERINGS.c.call_id == call_id)
            )
        )
    if f.q:
        conditions.append(a.student_id.in_(_students_matching(f.q)))
    return sa.and_(*conditions)


def office_counts(call_id, f, user):
    """The call's title, the approvals badge and the applications per status: one SELECT."""
    counts = (
        sa.select(v(APPS.c.status).label("status"), sa.func.count().label("n"))
        .where(office_filter(call_id, f, with_status=False))
        .group_by(APPS.c.status)
        .subquery()
    )
    return (
        sa.select(CALLS.c.title, waiting_count(user).label("waiting"), counts.c.status, counts.c.n)
        .select_from(CALLS.outerjoin(counts, sa.true()))
        .where(CALLS.c.id == call_id)
    )


def office_options(call_id):
    """The unit, partner and offering filters' options: one SELECT."""
    partner_name = PARTNERS.c.name
    in_call = (
        sa.select()
        .select_from(OFFERINGS)
        .join(AGREEMENTS, AGREEMENTS.c.id == OFFERINGS.c.agreement_id)
        .join(PARTNERS, PARTNERS.c.id == AGREEMENTS.c.partner_id)
        .where(OFFERINGS.c.call_id == call_id)
    )
    units = sa.select(
        sa.literal("unit").label("kind"),
        UNITS.c.id,
        (UNITS.c.code + " · " + UNITS.c.name).label("label"),
        UNITS.c.code.label("k"),
    )
    partners = in_call.add_columns(
        sa.literal("partner"), PARTNERS.c.id, partner_name, PARTNERS.c.name_key
    ).distinct()
    offerings = in_call.add_columns(
        sa.literal("offering"),
        OFFERINGS.c.id,
        sa.func.concat_ws(
            " · ",
            partner_name,
            AGREEMENTS.c.code,
            v(AGREEMENTS.c.type),
            sa.func.concat(AGREEMENTS.c.months_per_mobility, " months"),
            sa.func.concat(OFFERINGS.c.places, " places"),
        ),
        sa.func.concat(PARTNERS.c.name_key, " ", AGREEMENTS.c.code),
    )
    union = sa.union_all(units, partners, offerings).subquery()
    return sa.select(union).order_by(union.c.kind, union.c.k, union.c.id)


def _documents(application_id):
    return (
        sa.select(sa.func.count())
        .select_from(DOCS)
        .where(DOCS.c.application_id == application_id)
        .scalar_subquery()
    )


def office_rows(call_id, f, page, per_page):
    """One page of applications with what the list shows, a row per choice: one SELECT."""
    a = APPS.c
    order = (a.submitted_at.desc().nulls_first(), a.id.desc())
    ids = (
        sa.select(a.id)
        .where(office_filter(call_id, f))
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .subquery()
    )
    return (
        sa.select(
            a.id,
            v(a.status).label("status"),
            a.gpa,
            a.gpa_scale,
            a.submitted_at,
            USERS.c.name,
            USERS.c.email,
            PROFILES.c.student_number,
            UNITS.c.code.label("unit_code"),
            _documents(a.id).label("documents"),
            CHOICES.c.rank,
            PARTNERS.c.name.label("partner"),
            AGREEMENTS.c.code,
            v(AGREEMENTS.c.type).label("type"),
            AGREEMENTS.c.months_per_mobility,
        )
        .select_from(
            ids.join(APPS, a.id == ids.c.id)
            .join(USERS, USERS.c.id == a.student_id)
            .outerjoin(PROFILES, PROFILES.c.user_id == a.student_id)
            .outerjoin(UNITS, UNITS.c.id == a.unit_id)
            .outerjoin(CHOICES, CHOICES.c.application_id == a.id)
            .outerjoin(OFFERINGS, OFFERINGS.c.id == CHOICES.c.offering_id)
            .outerjoin(AGREEMENTS, AGREEMENTS.c.id == OFFERINGS.c.agreement_id)
            .outerjoin(PARTNERS, PARTNERS.c.id == AGREEMENTS.c.partner_id)
        )
        .order_by(*order, CHOICES.c.rank)
    )


def group_choices(result):
    rows = []
    for r in result:
        if not rows or rows[-1]["id"] != r.id:
            rows.append({**r._mapping, "choices": []})
        if r.rank is not None:
            rows[-1]["choices"].append(r)
    return rows


# --- the approver's queue -----------------------------------------------------------------------


def waiting_clause(user):
    """The waiting steps `user` decides (their own grants; nobody they stand in for)."""
    s = STEPS.c
    pieces = [sa.and_(v(s.rule) == "named_user", s.approver_id == user.id)]
    if "coordinator" in user.roles:
        pieces.append(v(s.rule) == "international_office")
    advised = user.units("advisor")
    if advised and "advisor" in user.roles:
        pieces.append(sa.and_(v(s.rule) == "unit_advisor", s.unit_id.in_(advised)))
    for function in sorted({m[1] for m in user.members}):
        same = v(s.unit_function) == function
        if function == "dean":
            same = sa.or_(same, s.unit_function.is_(None))
        pieces.append(sa.and_(v(s.rule) == "unit_role", s.unit_id.in_(user.units(function)), same))
    own = sa.select(APPS.c.id).where(APPS.c.student_id == user.id)
    return sa.and_(v(s.status) == "waiting", sa.or_(*pieces), s.application_id.not_in(own))


def waiting_count(user):
    return (
        sa.select(sa.func.count()).select_from(STEPS).where(waiting_clause(user)).scalar_subquery()
    )


def queue_count(user):
    return sa.select(waiting_count(user))


def queue_rows(user, sort, page, per_page):
    """One page of the queue with the count, choices and languages: one SELECT."""
    s, a = STEPS.c, APPS.c
    key = {"waiting": s.activated_at, "due": s.due_at, "name": USERS.c.name}[sort]
    source = STEPS
    if sort == "name":
        source = STEPS.join(APPS, a.id == s.application_id).join(USERS, USERS.c.id == a.student_id)
    chosen = (
        sa.select(s.id.label("id"), key.label("k"))
        .select_from(source)
        .where(waiting_clause(user))
        .order_by(key, s.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .subquery()
    )
    choices = (
        sa.select(sa.func.array_agg(aggregate_order_by(PARTNERS.c.name, CHOICES.c.rank)))
        .select_from(
            CHOICES.join(OFFERINGS, OFFERINGS.c.id == CHOICES.c.offering_id)
            .join(AGREEMENTS, AGREEMENTS.c.id == OFFERINGS.c.agreement_id)
            .join(PARTNERS, PARTNERS.c.id == AGREEMENTS.c.partner_id)
        )
        .where(CHOICES.c.application_id == a.id)
    )
    text = LANGS.c.language + " " + v(LANGS.c.level)
    languages = sa.select(sa.func.array_agg(aggregate_order_by(text, text))).where(
        LANGS.c.application_id == a.id
    )
    return (
        sa.select(
            s.id.label("step_id"),
            s.name.label("step_name"),
            s.activated_at,
            s.due_at,
            a.id.label("application_id"),
            a.gpa,
            a.gpa_scale,
            USERS.c.name.label("student_name"),
            PROFILES.c.student_number,
            UNITS.c.code.label("unit_code"),
            UNITS.c.name.label("unit_name"),
            CALLS.c.title.label("call_title"),
            _documents(a.id).label("documents"),
            choices.scalar_subquery().label("choices"),
            languages.scalar_subquery().label("languages"),
            waiting_count(user).label("total"),
        )
        .select_from(
            chosen.join(STEPS, s.id == chosen.c.id)
            .join(APPS, a.id == s.application_id)
            .join(USERS, USERS.c.id == a.student_id)
            .outerjoin(PROFILES, PROFILES.c.user_id == a.student_id)
            .outerjoin(UNITS, UNITS.c.id == a.unit_id)
            .join(CALLS, CALLS.c.id == a.call_id)
        )
        .order_by(chosen.c.k, chosen.c.id)
    )


def call_options():
    return (
        sa.select(CALLS.c.id, CALLS.c.title)
        .where(v(CALLS.c.status).not_in(("draft", "archived")))
        .order_by(CALLS.c.opens_at.desc(), CALLS.c.id.desc())
    )


def unit_options():
    return sa.select(UNITS.c.id, UNITS.c.code, UNITS.c.name).order_by(UNITS.c.code)


# --- the catalogue ------------------------------------------------------------------------------


def _current():
    return sa.and_(
        v(AGREEMENTS.c.status) == "active", AGREEMENTS.c.last_academic_year >= academic_year()
    )


def _verdicts(user):
    """(unit, level, GPA, language) conditions of eligibility for `user`, as in
    catalogue.eligibility.eligible_clause."""
    ag = AGREEMENTS.c
    profile = user.profile or {}
    unit_ok = ag.all_units.is_(True)
    if user.units():
        unit_ok = sa.or_(
            unit_ok,
            sa.exists().where(
                AGREEMENT_UNITS.c.agreement_id == ag.id,
                AGREEMENT_UNITS.c.unit_id.in_(user.units()),
            ),
        )
    level = profile.get("degree_level")
    level_ok = getattr(ag, level).is_(True) if level else sa.false()
    gpa_ok = ag.min_gpa.is_(None)
    if profile.get("gpa") is not None:
        gpa_ok = sa.or_(
            gpa_ok, ag.min_gpa * profile["gpa_scale"] <= ag.min_gpa_scale * profile["gpa"]
        )
    language_ok = sa.or_(
        ag.language.is_(None),
        ag.language_rank.is_(None),
        *[
            sa.and_(ag.language == code, ag.language_rank <= rank)
            for code, rank in sorted(user.languages.items())
        ],
    )
    return unit_ok, level_ok, gpa_ok, language_ok


def catalogue_partners(user, q, eligible, page, per_page):
    """One page of partners with a current (eligible) agreement, with the total: one SELECT."""
    p = PARTNERS.c
    condition = [_current(), *(_verdicts(user) if eligible else ())]
    where = [
        v(p.status) == "active",
        sa.exists().where(AGREEMENTS.c.partner_id == p.id, *condition),
    ]
    if q:
        where.append(p.search_text.like(_like(q), escape="\\"))
    return (
        sa.select(
            p.id,
            p.name,
            p.name_native,
            p.country,
            p.city,
            p.languages,
            sa.func.count().over().label("total"),
        )
        .where(*where)
        .order_by(p.name_key, p.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )


def agreements(user, partner_ids, eligible):
    """The current agreements of some partners with their units and the user's verdicts."""
    ag = AGREEMENTS.c
    verdicts = _verdicts(user) if user.profile is not None else ()
    units = (
        sa.select(sa.func.array_agg(aggregate_order_by(UNITS.c.code, UNITS.c.code)))
        .select_from(AGREEMENT_UNITS.join(UNITS, UNITS.c.id == AGREEMENT_UNITS.c.unit_id))
        .where(AGREEMENT_UNITS.c.agreement_id == ag.id)
        .scalar_subquery()
    )
    columns = [
        ag.id,
        ag.partner_id,
        v(ag.type).label("type"),
        ag.places_per_year,
        ag.months_per_mobility,
        ag.bachelor,
        ag.master,
        ag.doctoral,
        ag.first_academic_year,
        ag.last_academic_year,
        ag.language,
        ag.language_level,
        ag.min_gpa,
        ag.min_gpa_scale,
        ag.all_units,
        ag.subject_areas,
        units.label("units"),
    ]
    for name, condition in zip(VERDICTS, verdicts, strict=False):
        columns.append(condition.label(name))
    where = [ag.partner_id.in_(partner_ids), _current()]
    if eligible:
        where += verdicts
    return sa.select(*columns).where(*where).order_by(ag.partner_id, ag.type, ag.id)


def partner(partner_id):
    """The partner with its contacts and how many students went there: one SELECT."""
    p = PARTNERS.c
    contacts = sa.select(
        sa.func.json_agg(
            aggregate_order_by(
                sa.func.json_build_array(
                    CONTACTS.c.name, CONTACTS.c.role, CONTACTS.c.email, CONTACTS.c.phone
                ),
                CONTACTS.c.id,
            )
        )
    ).where(CONTACTS.c.partner_id == p.id)
    sent = (
        sa.select(sa.func.count())
        .select_from(
            APPS.join(OFFERINGS, OFFERINGS.c.id == APPS.c.placed_offering_id).join(
                AGREEMENTS, AGREEMENTS.c.id == OFFERINGS.c.agreement_id
            )
        )
        .where(AGREEMENTS.c.partner_id == p.id, v(APPS.c.status).in_(WENT))
    )
    return sa.select(
        p.id,
        p.name,
        p.name_native,
        p.country,
        p.region,
        p.city,
        p.website,
        p.hei_id,
        p.languages,
        p.description,
        contacts.scalar_subquery().label("contacts"),
        sent.scalar_subquery().label("students_sent"),
    ).where(p.id == partner_id, v(p.status) == "active")


# --- the student's pages ------------------------------------------------------------------------


def _waiting_step(column):
    s = STEPS.c
    return (
        sa.select(column)
        .where(s.application_id == APPS.c.id, v(s.status) == "waiting")
        .order_by(s.round.desc(), s.position)
        .limit(1)
        .scalar_subquery()
    )


def _accepting():
    now = utcnow()
    return sa.and_(
        v(CALLS.c.status).in_(("scheduled", "open")),
        CALLS.c.opens_at <= now,
        CALLS.c.closes_at > now,
    )


def student_applications(student_id):
    a = APPS.c
    return (
        sa.select(
            a.id,
            v(a.status).label("status"),
            CALLS.c.title,
            CALLS.c.academic_year,
            CALLS.c.closes_at,
            CALLS.c.decision_at,
            _accepting().label("accepting"),
            _waiting_step(STEPS.c.name).label("step_name"),
            _waiting_step(STEPS.c.due_at).label("step_due"),
        )
        .join(CALLS, CALLS.c.id == a.call_id)
        .where(a.student_id == student_id)
        .order_by(a.created_at.desc(), a.id.desc())
    )


def open_calls(student_id):
    """The calls open now, with their offerings and places and the student's application."""
    mine = APPS.alias("mine")
    offered = (
        sa.select(
            OFFERINGS.c.call_id,
            sa.func.count().label("offerings"),
            sa.func.coalesce(sa.func.sum(OFFERINGS.c.places), 0).label("places"),
        )
        .group_by(OFFERINGS.c.call_id)
        .subquery()
    )
    return (
        sa.select(
            CALLS.c.id,
            CALLS.c.title,
            CALLS.c.closes_at,
            CALLS.c.timezone,
            offered.c.offerings,
            offered.c.places,
            mine.c.id.label("application_id"),
            v(mine.c.status).label("application_status"),
        )
        .outerjoin(offered, offered.c.call_id == CALLS.c.id)
        .outerjoin(mine, sa.and_(mine.c.call_id == CALLS.c.id, mine.c.student_id == student_id))
        .where(_accepting())
        .order_by(CALLS.c.closes_at, CALLS.c.id)
    )


def _json_list(table, fk, order, *columns, where=()):
    return (
        sa.select(sa.func.json_agg(aggregate_order_by(sa.func.json_build_array(*columns), order)))
        .select_from(table)
        .where(fk == APPS.c.id, *where)
        .scalar_subquery()
    )


def application(application_id, student_id):
    """The student's application with its call, choices, languages, documents and timeline:
    one SELECT."""
    a = APPS.c
    choice_source = (
        CHOICES.join(OFFERINGS, OFFERINGS.c.id == CHOICES.c.offering_id)
        .join(AGREEMENTS, AGREEMENTS.c.id == OFFERINGS.c.agreement_id)
        .join(PARTNERS, PARTNERS.c.id == AGREEMENTS.c.partner_id)
    )
    actor = USERS.alias("actor")
    return (
        sa.select(
            a.id,
            a.call_id,
            v(a.status).label("status"),
            a.statement,
            a.gpa,
            a.gpa_scale,
            a.submitted_at,
            CALLS.c.title,
            CALLS.c.max_choices,
            CALLS.c.closes_at,
            CALLS.c.required_documents,
            _accepting().label("accepting"),
            _waiting_step(STEPS.c.name).label("step_name"),
            _waiting_step(STEPS.c.due_at).label("step_due"),
            _json_list(
                choice_source,
                CHOICES.c.application_id,
                CHOICES.c.rank,
                CHOICES.c.rank,
                PARTNERS.c.name,
                PARTNERS.c.country,
                v(AGREEMENTS.c.type),
                AGREEMENTS.c.months_per_mobility,
                OFFERINGS.c.places,
            ).label("choices"),
            _json_list(
                LANGS,
                LANGS.c.application_id,
                LANGS.c.id,
                LANGS.c.language,
                v(LANGS.c.level),
                LANGS.c.test_name,
            ).label("languages"),
            _json_list(
                DOCS,
                DOCS.c.application_id,
                DOCS.c.id,
                DOCS.c.id,
                DOCS.c.kind,
                DOCS.c.original_name,
                DOCS.c.size,
                DOCS.c.uploaded_at,
            ).label("documents"),
            _json_list(
                EVENTS.outerjoin(actor, actor.c.id == EVENTS.c.actor_id),
                EVENTS.c.application_id,
                EVENTS.c.at,
                EVENTS.c.action,
                EVENTS.c.at,
                actor.c.name,
                EVENTS.c.comment,
                where=[EVENTS.c.internal.is_(False)],
            ).label("events"),
        )
        .join(CALLS, CALLS.c.id == a.call_id)
        .where(a.id == application_id, a.student_id == student_id)
    )


def offerings(user, call_id):
    """The call's offerings to choose from, with the student's verdicts on each."""
    ag = AGREEMENTS.c
    verdicts = _verdicts(user)
    return (
        sa.select(
            OFFERINGS.c.id,
            OFFERINGS.c.places,
            PARTNERS.c.name,
            PARTNERS.c.country,
            v(ag.type).label("type"),
            ag.months_per_mobility,
            *[c.label(n) for c, n in zip(verdicts, VERDICTS, strict=False)],
        )
        .join(AGREEMENTS, ag.id == OFFERINGS.c.agreement_id)
        .join(PARTNERS, PARTNERS.c.id == ag.partner_id)
        .where(OFFERINGS.c.call_id == call_id)
        .order_by(PARTNERS.c.name_key, OFFERINGS.c.id)
    )
