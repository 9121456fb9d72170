"""Bulk seeding shared by the benchmarks: Core inserts in batches, ids back with RETURNING."""

from decimal import Decimal

import sqlalchemy as sa

COUNTRIES = ["DE", "FR", "JP", "US", "GB", "IT", "KR", "AU"]


def batches(rows, size=5000):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert(model, rows):
    """Insert `rows` (dicts) and return their ids in order (needs an app context)."""
    from exchange.extensions import db

    ids = []
    for batch in batches(rows):
        result = db.session.execute(
            sa.insert(model).returning(model.id, sort_by_parameter_order=True), batch
        )
        ids += result.scalars().all()
    return ids


def partners_and_agreements(rng, partners=150, agreements=200):
    """Active partners and current bilateral agreements open to all units; agreement ids."""
    from exchange.catalogue.models import Agreement, Partner

    partner_ids = insert(
        Partner,
        [
            {
                "name": f"Partner University {i:03d}",
                "name_key": f"partner university {i:03d}",
                "country": rng.choice(COUNTRIES),
                "languages": "en",
                "search_text": f"partner university {i:03d}",
                "status": "active",
            }
            for i in range(partners)
        ],
    )
    return insert(
        Agreement,
        [
            {
                "partner_id": partner_ids[i % len(partner_ids)],
                "code": f"IIA-2026-{i:03d}",
                "type": "bilateral",
                "status": "active",
                "first_academic_year": 2024,
                "last_academic_year": 2030,
                "places_per_year": rng.randint(1, 6),
                "months_per_mobility": 5,
                "all_units": True,
                "bachelor": True,
                "master": True,
                "doctoral": False,
                "subject_areas": "0613",
                "min_gpa_scale": Decimal("4"),
            }
            for i in range(agreements)
        ],
    )


def transcripts(rng, application_id, student_id, now):
    """0 to 3 uploaded transcripts of an application (rows of application_documents)."""
    return [
        {
            "application_id": application_id,
            "kind": "transcript",
            "original_name": "transcript.pdf",
            "stored_name": f"{application_id}-{k}",
            "content_type": "application/pdf",
            "size": 1000,
            "sha256": "0" * 64,
            "uploaded_at": now,
            "uploaded_by_id": student_id,
        }
        for k in range(rng.randint(0, 3))
    ]
