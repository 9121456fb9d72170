"""Reference lists: countries (ISO 3166-1), continents, languages (ISO 639-1), ISCED-F 2013
subject areas and CEFR levels. Codes come from pycountry and the data files beside this module;
names are shown in the user's language through Babel (CLDR)."""

import csv
import re
import unicodedata
from functools import cache, lru_cache
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


def _isced_file(path) -> dict[str, str]:
    with path.open(newline="") as fh:
        return {row["code"]: row["name"] for row in csv.DictReader(fh)}


@cache
def isced_fields() -> dict[str, str]:
    """The codes and their English names."""
    return _isced_file(DATA / "isced_f_2013.csv")


@cache
def _isced_names_in(language: str) -> dict[str, str]:
    """The names in `language` (isced_f_2013_<language>.csv), or none (English then)."""
    path = DATA / f"isced_f_2013_{language}.csv"
    return _isced_file(path) if language.isalpha() and path.is_file() else {}


def isced_name(code: str) -> str:
    """The field's name in the user's language."""
    return _isced_names_in(_locale().language).get(code) or isced_fields().get(code, code)


def isced_label(code: str) -> str:
    """ "0613 Software and applications development and analysis", in the user's language."""
    return f"{code} {isced_name(code)}" if code in isced_fields() else code


def isced_choices():
    """Narrow and detailed fields, each labelled with its code, in code order."""
    return [(code, isced_label(code)) for code in isced_fields() if len(code) >= 3]


def normalise_country(value: str | None) -> str | None:
    code = (value or "").strip().upper()
    return code if code in country_codes() else None


def normalise_language(value: str | None) -> str | None:
    code = (value or "").strip().lower()
    return code if code in language_codes() else None


# --- reading names as partner files write them -----------------------------------------------

# The languages whose names for countries and languages an import understands, besides codes.
NAME_LOCALES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "pl", "cs", "sv", "da", "nb", "fi", "hu", "ro",
    "tr", "el", "ru", "uk", "ar", "zh", "zh_Hant", "ja", "ko",
)  # fmt: skip
# Names in daily use that neither CLDR nor pycountry lists (they list the current forms).
COUNTRY_ALIASES = {
    "UK": "GB",
    "Great Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Turkey": "TR",
    "Holland": "NL",
    "한국": "KR",
    "Swaziland": "SZ",
    "Macedonia": "MK",
}
_NAME_NOISE = re.compile(r"[.'’()\"]")


def name_key(text: str | None) -> str:
    """A name compared loosely: same Unicode form, case, spaces; no dots or brackets."""
    text = unicodedata.normalize("NFKC", text or "")
    return " ".join(_NAME_NOISE.sub(" ", text).casefold().split())


def _unique(pairs):
    """{key: code} from (key, code) pairs, without the keys that name two different codes."""
    found, clashes = {}, set()
    for key, code in pairs:
        if not key:
            continue
        if found.setdefault(key, code) != code:
            clashes.add(key)
    return {key: code for key, code in found.items() if key not in clashes}


@cache
def country_names() -> dict[str, str]:
    """Country names and codes as people write them, to ISO 3166-1 alpha-2: CLDR names in
    NAME_LOCALES, pycountry's names, official and common names, and alpha-3 codes."""
    codes = country_codes()
    pairs = []
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name", "alpha_3"):
            pairs.append((name_key(getattr(country, attr, None)), country.alpha_2))
    pairs += [(name_key(name), code) for code, name in EXTRA_COUNTRIES.items()]
    pairs += [(name_key(name), code) for name, code in COUNTRY_ALIASES.items()]
    for locale in NAME_LOCALES:
        for code, name in Locale.parse(locale).territories.items():
            if code in codes:
                pairs.append((name_key(name), code))
    return _unique(pairs)


@lru_cache(maxsize=4096)  # a file names the same few countries on thousands of rows
def read_country(value: str | None) -> str | None:
    """The ISO code for a code or a country's name in one of NAME_LOCALES; None if unknown
    or ambiguous."""
    return normalise_country(value) or country_names().get(name_key(value))


@cache
def language_names() -> dict[str, str]:
    """Language names (CLDR, in NAME_LOCALES) and ISO 639-2/3 codes to ISO 639-1 codes."""
    codes = language_codes()
    pairs = []
    for lang in pycountry.languages:
        if getattr(lang, "alpha_2", None):
            for attr in ("name", "alpha_3", "bibliographic"):
                pairs.append((name_key(getattr(lang, attr, None)), lang.alpha_2))
    for locale in NAME_LOCALES:
        for code, name in Locale.parse(locale).languages.items():
            if code in codes:
                pairs.append((name_key(name), code))
    return _unique(pairs)


@lru_cache(maxsize=4096)
def read_language(value: str | None) -> str | None:
    return normalise_language(value) or language_names().get(name_key(value))
