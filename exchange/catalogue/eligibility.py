"""Does a student meet an agreement's requirements? The same rules twice: in Python, to say
exactly why not, and in SQL, to filter the catalogue to "agreements I am eligible for"."""

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..accounts.labels import DEGREE_LABELS
from ..accounts.models import DegreeLevel
from .models import CEFR_RANK, Agreement, agreement_units
from .reference import language_name


@dataclass
class StudentFacts:
    """What eligibility needs to know of a student, read once per request."""

    unit_ids: frozenset[int]
    degree_level: DegreeLevel | None
    gpa: Decimal | None
    gpa_scale: Decimal
    languages: dict[str, int] = field(default_factory=dict)  # code -> best CEFR rank

    def key(self):
        """A hashable summary: two students with the same key meet the same agreements."""
        return (
            self.unit_ids,
            self.degree_level,
            self.gpa,
            self.gpa_scale,
            tuple(sorted(self.languages.items())),
        )

    @classmethod
    def of(cls, user):
        profile = user.profile
        languages = {}
        for result in profile.language_results if profile else []:
            rank = CEFR_RANK[result.level]
            languages[result.language] = max(rank, languages.get(result.language, 0))
        return cls(
            unit_ids=frozenset(user.unit_ids()),
            degree_level=profile.degree_level if profile else None,
            gpa=profile.gpa if profile else None,
            gpa_scale=profile.gpa_scale if profile else Decimal("4.00"),
            languages=languages,
        )


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:.2f}"


def reasons(agreement: Agreement, student: StudentFacts) -> list[str]:
    """Why the student does not meet the agreement; empty when they do."""
    out = []
    if not agreement.all_units and not student.unit_ids & {u.id for u in agreement.units}:
        out.append(
            _l(
                "Open only to students of %(units)s.",
                units=", ".join(u.code for u in agreement.units),
            )
        )
    levels = agreement.degree_levels
    if student.degree_level not in levels:
        wanted = ", ".join(str(DEGREE_LABELS[lvl]).lower() for lvl in levels)
        if student.degree_level is None:
            out.append(
                _l("Open to %(levels)s students; your degree level is not recorded.", levels=wanted)
            )
        else:
            out.append(
                _l(
                    "Open to %(levels)s students; you are a %(level)s student.",
                    levels=wanted,
                    level=str(DEGREE_LABELS[student.degree_level]).lower(),
                )
            )
    if agreement.min_gpa is not None:
        need = f"{_fmt(agreement.min_gpa)}/{_fmt(agreement.min_gpa_scale)}"
        if student.gpa is None:
            out.append(
                _l("Requires a GPA of at least %(need)s; your GPA is not recorded.", need=need)
            )
        elif student.gpa * agreement.min_gpa_scale < agreement.min_gpa * student.gpa_scale:
            out.append(
                _l(
                    "Requires a GPA of at least %(need)s; yours is %(have)s.",
                    need=need,
                    have=f"{_fmt(student.gpa)}/{_fmt(student.gpa_scale)}",
                )
            )
    if agreement.language and agreement.language_level:
        lang = language_name(agreement.language)
        have = student.languages.get(agreement.language)
        need = agreement.language_level.value
        if have is None:
            out.append(
                _l(
                    "Requires %(lang)s at level %(need)s; you have no %(lang)s result on record.",
                    lang=lang,
                    need=need,
                )
            )
        elif have < CEFR_RANK[agreement.language_level]:
            level = next(lvl.value for lvl, rank in CEFR_RANK.items() if rank == have)
            out.append(
                _l(
                    "Requires %(lang)s at level %(need)s; yours is %(have)s.",
                    lang=lang,
                    need=need,
                    have=level,
                )
            )
    return out


def eligible_clause(student: StudentFacts):
    """A WHERE clause on Agreement that keeps the agreements the student meets."""
    unit_ok = Agreement.all_units.is_(True)
    if student.unit_ids:
        unit_ok = sa.or_(
            unit_ok,
            sa.exists().where(
                agreement_units.c.agreement_id == Agreement.id,
                agreement_units.c.unit_id.in_(sorted(student.unit_ids)),
            ),
        )
    level_column = {
        DegreeLevel.BACHELOR: Agreement.bachelor,
        DegreeLevel.MASTER: Agreement.master,
        DegreeLevel.DOCTORAL: Agreement.doctoral,
    }
    level_ok = level_column[student.degree_level].is_(True) if student.degree_level else sa.false()
    gpa_ok = Agreement.min_gpa.is_(None)
    if student.gpa is not None:
        gpa_ok = sa.or_(
            gpa_ok, Agreement.min_gpa * student.gpa_scale <= Agreement.min_gpa_scale * student.gpa
        )
    language_ok = sa.or_(
        Agreement.language.is_(None),
        Agreement.language_rank.is_(None),
        *[
            sa.and_(Agreement.language == code, Agreement.language_rank <= rank)
            for code, rank in sorted(student.languages.items())
        ],
    )
    return sa.and_(unit_ok, level_ok, gpa_ok, language_ok)
