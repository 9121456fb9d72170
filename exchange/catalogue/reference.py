"""Reference lists: countries (ISO 3166-1), continents, languages (ISO 639-1), ISCED-F 2013
subject areas and CEFR levels. Codes come from pycountry and the data files beside this module;
names are shown in the user's language through Babel (CLDR)."""

import csv
from functools import cache
from pathlib import Path

import pycountry
from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

DATA = Path(__file__).resolve().parent / "data"

# Kosovo has no ISO 3166-1 code yet; XK is the user-assigned code the EU and EWP use.
EXTRA_COUNTRIES = {"XK": "Kosovo"}

CONTINENTS = {
    "AF": _l("Africa"),
    "AN": _l("Antarctica"),
    "AS": _l("Asia"),
    "EU": _l("Europe"),
    "NA": _l("North America"),
    "OC": _l("Oceania"),
    "SA": _l("South America"),
}


@cache
def country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries) | frozenset(EXTRA_COUNTRIES)


@cache
def continent_of() -> dict[str, str]:
    with (DATA / "country_continents.csv").open(newline="") as fh:
        return {row["country"]: row["continent"] for row in csv.DictReader(fh)}


def countries_in(continent: str) -> list[str]:
    return sorted(code for code, cont in continent_of().items() if cont == continent)


def _locale():
    try:
        return get_locale() or Locale("en")
    except RuntimeError:  # outside a request or app context
        return Locale("en")


def country_name(code: str | None) -> str:
    if not code:
        return ""
    name = _locale().territories.get(code)
    if name:
        return name
    country = pycountry.countries.get(alpha_2=code)
    return country.name if country else EXTRA_COUNTRIES.get(code, code)


def country_choices():
    return sorted(((c, country_name(c)) for c in country_codes()), key=lambda p: p[1])


@cache
def language_codes() -> frozenset[str]:
    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def language_name(code: str | None) -> str:
    if not code:
        return ""
    name = _locale().languages.get(code)
    if name:
        return name
    lang = pycountry.languages.get(alpha_2=code)
    return lang.name if lang else code


def language_choices():
    return sorted(((c, language_name(c)) for c in language_codes()), key=lambda p: p[1])


@cache
def isced_fields() -> dict[str, str]:
    with (DATA / "isced_f_2013.csv").open(newline="") as fh:
        return {row["code"]: row["name"] for row in csv.DictReader(fh)}


def isced_name(code: str) -> str:
    return isced_fields().get(code, code)


def isced_choices():
    """Narrow and detailed fields, each labelled with its code, in code order."""
    return [(code, f"{code} {name}") for code, name in isced_fields().items() if len(code) >= 3]


def normalise_country(value: str | None) -> str | None:
    code = (value or "").strip().upper()
    return code if code in country_codes() else None


def normalise_language(value: str | None) -> str | None:
    code = (value or "").strip().lower()
    return code if code in language_codes() else None
