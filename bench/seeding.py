"""Bulk seeding shared by the benchmarks: Core inserts in batches, ids back with RETURNING."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

# Where a waiting application waits: on step 1, 2 or 3, in per cent.
WAITING_AT = {1: 45, 2: 30, 3: 25}
COUNTRIES = ["DE", "FR", "JP", "US", "GB", "IT", "KR", "AU"]
FIRST = ["Wei", "Anna", "Li", "Maria", "Jun", "Tom", "Yuki", "Sara", "Chen", "Omar", "Lena"]
LAST = ["Zhang", "Smith", "Wang", "Müller", "Liu", "Rossi", "Sato", "Kim", "Chen", "Novak"]
ROOT = Path(__file__).resolve().parent.parent


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


def insert_rows(model, rows):
    """Insert `rows` (dicts) in batches, without taking their ids back."""
    from exchange.extensions import db

    for batch in batches(rows):
        db.session.execute(sa.insert(model), batch)


def schools(count):
    """Units U000, U001, ... (schools); their ids."""
    from exchange.accounts.models import Unit

    return insert(
        Unit,
        [
            {"code": f"U{i:03d}", "name": f"School {i}", "kind": "school", "active": True}
            for i in range(count)
        ],
    )


def student_rows(rng, count):
    """E-mail and name of `count` students (student0@example.edu, ...)."""
    return [
        {"email": f"student{i}@example.edu", "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}"}
        for i in range(count)
    ]


def students(rng, count, now):
    """Students who never log in (no role, no password), each with a profile; their ids."""
    from exchange.accounts.models import StudentProfile

    ids = users(student_rows(rng, count), [[]] * count, now)
    insert_rows(
        StudentProfile,
        [
            {"user_id": uid, "student_number": f"S{uid:08d}", "gpa_scale": Decimal("4")}
            for uid in ids
        ],
    )
    return ids


def approval_chain(now):
    """The approval chain of every call (unit advisor, dean, office); its id."""
    from exchange.chains.models import ApprovalChain

    row = {
        "name": "Advisor, dean, office",
        "version": 1,
        "restart_from": "first_step",
        "active": True,
        "created_at": now,
        "updated_at": now,
    }
    return insert(ApprovalChain, [row])[0]


def universities_file():
    """../shared/data/world_universities.json beside the checkout (or a worktree's)."""
    for folder in (ROOT.parent, ROOT.parent.parent):
        path = folder / "shared/data/world_universities.json"
        if path.exists():
            return path
    raise SystemExit("world_universities.json not found in ../shared/data")


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


LANGUAGES = ["en", "de", "fr", "es", "ja", "zh", "it", "pt", "ko", "nl"]
SUBJECTS = ["0613", "0311", "0413", "0912", "0533", "0232", "0731", "0421"]


def world_partners(rng, count, data_file):
    """`count` partners from the world universities list (names, countries, regions, domains),
    numbered copies once the list runs out; their ids."""
    from exchange.catalogue.models import Partner

    data = json.loads(data_file.read_text())
    rows, seen = [], set()
    for i in range(count):
        entry = data[i % len(data)]
        copy = i // len(data)
        name = entry["name"] + (f" ({copy + 1})" if copy else "")
        hei = entry["domains"][0] if entry["domains"] and not copy else None
        if hei in seen:
            hei = None
        seen.add(hei)
        rows.append(
            {
                "name": name,
                "name_key": name.lower(),
                "country": entry["alpha_two_code"],
                "region": entry["state-province"],
                "hei_id": hei,
                "domains": " ".join(entry["domains"]),
                "website": (entry["web_pages"] or [None])[0],
                "languages": " ".join(rng.sample(LANGUAGES, rng.randint(1, 2))),
                "search_text": " ".join(
                    x for x in (name, entry["state-province"], " ".join(entry["domains"])) if x
                ).lower(),
                "status": "active",
            }
        )
    return insert(Partner, rows)


def mixed_agreements(rng, partner_ids, unit_ids, per_partner=3):
    """Agreements of every kind, status, level and language requirement (as in the catalogue
    benchmark), 30% of them restricted to one unit; the ids of the current active ones."""
    from exchange.accounts.models import CEFR
    from exchange.catalogue.models import CEFR_RANK, Agreement, agreement_units

    rows = []
    for pid in partner_ids:
        for _ in range(per_partner):
            level = rng.choice([None, CEFR.B1, CEFR.B2, CEFR.C1])
            rows.append(
                {
                    "partner_id": pid,
                    "type": rng.choice(["bilateral", "bilateral", "summer_school", "dual_degree"]),
                    "status": rng.choices(["active", "draft", "terminated"], [90, 5, 5])[0],
                    "first_academic_year": 2022,
                    "last_academic_year": rng.choice([2024, 2028, 2029, 2030]),
                    "places_per_year": rng.randint(0, 6),
                    "months_per_mobility": 5,
                    "all_units": rng.random() > 0.3,
                    "bachelor": True,
                    "master": rng.random() > 0.3,
                    "doctoral": rng.random() > 0.7,
                    "subject_areas": " ".join(rng.sample(SUBJECTS, 2)),
                    "language": rng.choice(LANGUAGES[:4]) if level else None,
                    "language_level": level.value if level else None,
                    "language_rank": CEFR_RANK[level] if level else None,
                    "min_gpa": rng.choice([None, Decimal("2.5"), Decimal("3.0"), Decimal("3.3")]),
                    "min_gpa_scale": Decimal("4"),
                }
            )
    ids = insert(Agreement, rows)
    insert_rows(
        agreement_units,
        [
            {"agreement_id": aid, "unit_id": rng.choice(unit_ids)}
            for aid, row in zip(ids, rows, strict=True)
            if not row["all_units"]
        ],
    )
    return [
        aid
        for aid, row in zip(ids, rows, strict=True)
        if row["status"] == "active" and row["last_academic_year"] >= 2028
    ]


def users(rows, roles, now, password_hash=None):
    """Users with their roles (a list of `Role` per row) and the same password hash (None: they
    never log in); their ids. `rows` are dicts with email and name."""
    from exchange.accounts.models import User, UserRole

    ids = insert(
        User,
        [
            {
                "email": row["email"],
                "email_key": row["email"].lower(),
                "name": row["name"],
                "password_hash": password_hash,
                "active": True,
                "created_at": now,
            }
            for row in rows
        ],
    )
    insert_rows(
        UserRole,
        [
            {"user_id": uid, "role": role}
            for uid, kinds in zip(ids, roles, strict=True)
            for role in kinds
        ],
    )
    return ids


def approval_steps(rng, state, started, deciders, now):
    """The three steps (unit advisor, dean, international office) of an application in `state`
    (waiting, approved, rejected, returned, withdrawn) submitted at `started`, decided by
    `deciders` (user ids, one per step); and the application's status."""
    from exchange.accounts.models import UnitFunction
    from exchange.approvals.models import Decision, StepStatus
    from exchange.chains.models import ApproverRule

    rules = [
        ("Unit advisor", ApproverRule.UNIT_ADVISOR, None),
        ("Dean", ApproverRule.UNIT_ROLE, UnitFunction.DEAN),
        ("International office", ApproverRule.INTERNATIONAL_OFFICE, None),
    ]
    at = rng.choices(list(WAITING_AT), list(WAITING_AT.values()))[0]
    ends = rng.randint(1, 3)
    steps = []
    for position, (name, rule, function) in enumerate(rules, start=1):
        activated = started + timedelta(hours=position * rng.randint(1, 96))
        status, decision = StepStatus.PENDING, None
        if state == "approved" or (state == "waiting" and position < at):
            status, decision = StepStatus.APPROVED, Decision.APPROVE
        elif state == "waiting" and position == at:
            status = StepStatus.WAITING
        elif state in ("rejected", "returned") and position < ends:
            status, decision = StepStatus.APPROVED, Decision.APPROVE
        elif state == "rejected" and position == ends:
            status, decision = StepStatus.REJECTED, Decision.REJECT
        elif state == "returned" and position == ends:
            status, decision = StepStatus.RETURNED, Decision.RETURN
        elif state in ("rejected", "returned", "withdrawn"):
            status = StepStatus.CANCELLED
        reached = status not in (StepStatus.PENDING, StepStatus.CANCELLED)
        activated = min(activated, now - timedelta(minutes=5)) if reached else None
        steps.append(
            {
                "round": 1,
                "position": position,
                "status": status,
                "activated_at": activated,
                "due_at": activated + timedelta(days=7) if activated else None,
                "decided_at": activated + timedelta(hours=5) if decision else None,
                "decided_by_id": deciders[position - 1] if decision else None,
                "decision": decision,
                "comment": "Not complete." if decision is Decision.RETURN else None,
                "name": name,
                "rule": rule,
                "unit_function": function,
                "time_limit_days": 7,
                "rejection_ends": True,
                "may_return": True,
            }
        )
    status = {"waiting": "submitted" if at == 1 else "in_review"}.get(state, state)
    return steps, status
