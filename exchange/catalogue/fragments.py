"""The catalogue list is assembled from rendered fragments kept in the catalogue cache: the
filter form, each partner's heading and each agreement's line are rendered once per language
and catalogue version; only the verdict for the logged-in student is per person (and cached
per set of student facts)."""

from dataclasses import dataclass

from flask import get_template_attribute
from flask_babel import get_locale
from markupsafe import Markup

from . import reference
from .eligibility import reasons
from .queries import catalogue_cache, units

LIST = "catalogue/_list_fragments.html"
AGREEMENT = "catalogue/_agreement.html"


@dataclass(frozen=True)
class Card:
    head: Markup
    lines: tuple  # ((agreement line, verdict or ""), ...)


def _cached(*key, render, locale=None, version=None):
    locale = locale or str(get_locale())
    return catalogue_cache.get_or_set((locale, *key), render, version=version)


def filter_form(filters, staff, is_student):
    key = ("filters", staff, is_student, filters.cache_key()[:-2])  # not sort and page
    return _cached(
        *key,
        render=lambda: get_template_attribute(LIST, "filter_form")(
            filters,
            staff,
            is_student,
            units(),
            reference.country_choices(),
            reference.language_choices(),
            reference.isced_choices(),
        ),
    )


def cards(partners, student, page_key):
    """The cards of one list page for one set of student facts (one cache lookup when warm;
    built from fragments shared by all students otherwise)."""
    facts = student.key() if student is not None else None
    scope = {"locale": str(get_locale()), "version": catalogue_cache.version()}
    # What is shown is part of the key: the same filters can pick other partners or agreements
    # (an open call closes by the clock, not by a write that would move the version).
    shown = tuple((p.id, tuple(a.id for a in p.agreements)) for p in partners)
    return _cached(
        "cards",
        page_key,
        shown,
        facts,
        **scope,
        render=lambda: _build_cards(partners, student, facts, scope),
    )


def _build_cards(partners, student, facts, scope):
    head = get_template_attribute(LIST, "partner_head")
    line = get_template_attribute(AGREEMENT, "agreement_line")
    verdict = get_template_attribute(AGREEMENT, "verdict")
    out = []
    for p in partners:
        lines = []
        for a in p.agreements:
            text = _cached("line", a.id, render=lambda a=a: line(a), **scope)
            judged = ""
            if student is not None:
                judged = _cached(
                    "verdict",
                    facts,
                    a.id,
                    **scope,
                    render=lambda a=a: verdict([str(r) for r in reasons(a, student)]),
                )
            lines.append((text, judged))
        out.append(Card(_cached("head", p.id, render=lambda p=p: head(p), **scope), tuple(lines)))
    return tuple(out)
