"""Demo partners and agreements for `flask --app wsgi seed demo` (never in production)."""

from decimal import Decimal

from ..accounts.models import Unit
from ..extensions import db
from . import operations as ops
from . import rules
from .academic import current_academic_year
from .models import Partner

# (name, native name, country, city, hei-id, languages, agreements)
# agreement: (type, places, months, subjects, language, level, min GPA, unit codes or None)
PARTNERS = [
    (
        "University of Helsinki",
        "Helsingin yliopisto",
        "FI",
        "Helsinki",
        "helsinki.fi",
        ["fi", "en"],
        [("bilateral", 3, 5, ["0613", "0541"], "en", "B2", "3.0", None)],
    ),
    (
        "Technical University of Munich",
        "Technische Universität München",
        "DE",
        "Munich",
        "tum.de",
        ["de", "en"],
        [
            ("bilateral", 2, 10, ["0613", "0714"], "de", "B1", "3.3", ["CS"]),
            ("summer_school", 5, 1, [], "en", "B2", None, None),
        ],
    ),
    (
        "Sciences Po",
        None,
        "FR",
        "Paris",
        "sciencespo.fr",
        ["fr", "en"],
        [("bilateral", 2, 5, ["0312", "0311"], "fr", "B2", "3.2", ["ECON"])],
    ),
    (
        "The University of Tokyo",
        "東京大学",
        "JP",
        "Tokyo",
        "u-tokyo.ac.jp",
        ["ja", "en"],
        [("bilateral", 2, 10, ["0533", "0613"], "en", "B2", "3.5", None)],
    ),
    (
        "University of Toronto",
        None,
        "CA",
        "Toronto",
        "utoronto.ca",
        ["en"],
        [
            ("bilateral", 4, 5, ["0912", "0511"], "en", "C1", "3.3", None),
            ("research_visit", 2, 3, ["0533"], "en", "B2", None, ["KLQI"]),
        ],
    ),
    (
        "Universidad de Buenos Aires",
        None,
        "AR",
        "Buenos Aires",
        "uba.ar",
        ["es"],
        [("bilateral", 3, 5, ["0311", "0413"], "es", "B1", None, None)],
    ),
    (
        "University of Cape Town",
        None,
        "ZA",
        "Cape Town",
        "uct.ac.za",
        ["en"],
        [("bilateral", 2, 5, ["0912", "0521"], "en", "B2", "2.8", None)],
    ),
    (
        "The University of Melbourne",
        None,
        "AU",
        "Melbourne",
        "unimelb.edu.au",
        ["en"],
        [("dual_degree", 1, 12, ["0413"], "en", "C1", "3.5", ["ECON"])],
    ),
]


def seed_demo_catalogue():
    year = current_academic_year()

    units = {u.code: u for u in db.session.scalars(db.select(Unit))}
    created = 0
    for name, native, country, city, hei, langs, agreements in PARTNERS:
        if db.session.scalar(db.select(Partner).where(Partner.hei_id == hei)) is not None:
            continue
        partner, _ = ops.save_partner(
            None,
            rules.PartnerData(
                name=name,
                name_native=native or "",
                country=country,
                city=city,
                hei_id=hei,
                website=f"https://www.{hei}/",
                languages=langs,
            ),
            actor=None,
        )
        for kind, places, months, subjects, lang, level, gpa, unit_codes in agreements:
            ops.save_agreement(
                None,
                partner,
                ops.AgreementData(
                    type=kind,
                    status="active",
                    first_academic_year=year - 1,
                    last_academic_year=year + 3,
                    places_per_year=places,
                    months_per_mobility=months,
                    subject_areas=subjects,
                    language=lang,
                    language_level=level,
                    min_gpa=Decimal(gpa) if gpa else None,
                    all_units=unit_codes is None,
                ),
                units=[units[c] for c in unit_codes or [] if c in units],
                actor=None,
            )
        created += 1
    return created
