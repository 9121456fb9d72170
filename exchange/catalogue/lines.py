"""Agreement lines shaped for the catalogue's templates: every label, badge, year range and
eligibility verdict computed once per page in Python, so that the list renders them in a flat
loop. A Jinja macro call per line (with its own gettext and name look-ups) took ~0.25 ms a line,
~35 ms for a page of ~140 lines; most lines share their texts, which are worked out once here."""

from dataclasses import dataclass

from flask_babel import format_decimal, get_translations
from markupsafe import Markup

from ..accounts.labels import DEGREE_LABELS
from .academic import label as year_label
from .eligibility import reasons
from .labels import AGREEMENT_TYPE_LABELS
from .reference import isced_name, language_name


@dataclass(frozen=True)
class AgreementLine:
    """What a line shows: plain strings and markup, no lookups left for the template.
    `verdict` is None without a student, else the reasons they fail (empty: they qualify)."""

    id: int
    type: str
    places: str
    months: str
    levels: str
    years: str
    details: Markup
    verdict: tuple | None


class _Texts:
    """The page's texts in the page's language, each worked out once per distinct value."""

    def __init__(self):
        self.t = get_translations()  # one locale lookup for the page
        self.memo = {}

    def _once(self, key, make):
        value = self.memo.get(key)
        if value is None:
            value = self.memo[key] = make()
        return value

    # Messages are written out at each call (self.t.ugettext("...")) for pybabel to extract.
    @staticmethod
    def text(translated, **variables):
        # As Jinja's autoescaping gettext does: the message is markup, its variables escaped.
        return Markup(translated) % variables

    def places(self, num):
        return self._once(
            ("places", num),
            lambda: (
                self.t.ungettext("%(num)d place a year", "%(num)d places a year", num)
                % {"num": num}
            ),
        )

    def months(self, num):
        return self._once(
            ("months", num),
            lambda: self.t.ungettext("%(num)d month", "%(num)d months", num) % {"num": num},
        )

    def verdict(self, a, student):
        key = ("verdict", a.all_units, tuple(u.id for u in a.units), tuple(a.degree_levels))
        key += (a.min_gpa, a.min_gpa_scale, a.language, a.language_level)
        return self._once(key, lambda: tuple(str(r) for r in reasons(a, student)))

    def decimal(self, value):
        return self._once(("decimal", value), lambda: format_decimal(value))

    def type_label(self, kind):
        return self._once(("type", kind), lambda: str(AGREEMENT_TYPE_LABELS[kind]))

    def levels(self, levels):
        return self._once(
            ("levels", levels), lambda: ", ".join(str(DEGREE_LABELS[lvl]) for lvl in levels)
        )

    def years(self, first, last):
        return self._once(("years", first, last), lambda: f"{year_label(first)}–{year_label(last)}")

    def details(self, a, unit_codes, subjects):
        key = ("details", a.language, a.language_level, a.min_gpa, a.min_gpa_scale)
        key += (a.all_units, unit_codes, subjects)
        return self._once(key, lambda: self._details(a, unit_codes, subjects))

    def _details(self, a, unit_codes, subjects):
        parts = []
        if a.language:
            parts.append(
                self.text(
                    self.t.ugettext("Language: %(lang)s %(level)s"),
                    lang=language_name(a.language),
                    # A language without a level shows none (as the macro did, by Jinja's
                    # Undefined).
                    level=a.language_level.value if a.language_level else "",
                )
                + " · "
            )
        if a.min_gpa is not None:
            parts.append(
                self.text(
                    self.t.ugettext("Minimum GPA %(gpa)s/%(scale)s"),
                    gpa=self.decimal(a.min_gpa),
                    scale=self.decimal(a.min_gpa_scale),
                )
                + " · "
            )
        if a.all_units:
            parts.append(self.text(self.t.ugettext("All units")))
        else:
            parts.append(
                self.text(self.t.ugettext("Units: %(units)s"), units=", ".join(unit_codes))
            )
        if subjects:
            abbrs = Markup(", ").join(
                Markup('<abbr title="{}">{}</abbr>').format(isced_name(code), code)
                for code in subjects
            )
            parts.append(Markup(" · ") + self.text(self.t.ugettext("Subjects:")) + " " + abbrs)
        return Markup("\n").join(parts)


def agreement_lines(agreements, student=None):
    """{agreement id: AgreementLine} of agreements (ORM objects or views alike: they need the
    attributes `reasons` reads), with the verdicts for `student` if there is one."""
    texts = _Texts()
    lines = {}
    for a in agreements:
        unit_codes = tuple(u.code for u in a.units)
        lines[a.id] = AgreementLine(
            id=a.id,
            type=texts.type_label(a.type),
            places=texts.places(a.places_per_year),
            months=texts.months(a.months_per_mobility),
            levels=texts.levels(tuple(a.degree_levels)),
            years=texts.years(a.first_academic_year, a.last_academic_year),
            details=texts.details(a, unit_codes, tuple(a.subject_area_list)),
            verdict=None if student is None else texts.verdict(a, student),
        )
    return lines
