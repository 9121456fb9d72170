"""Import (CLI and upload page) and export (CSV, XLSX) of the partner catalogue."""

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from exchange.catalogue import importer
from exchange.catalogue.models import AgreementStatus, Partner, PartnerStatus
from exchange.core.audit import AuditEvent
from exchange.extensions import db

from .conftest import csrf_token, login
from .factories import AgreementFactory, PartnerFactory, coordinator, student
from .helpers import hidden, partners, run, upload

# ../shared/data beside the checkout (a worktree in /work/wt/<name> has it one level higher).
WORLD = next(
    (
        p / "shared/data/world_universities.json"
        for p in Path(__file__).resolve().parents[1:4]
        if (p / "shared/data/world_universities.json").is_file()
    ),
    Path(__file__).resolve().parents[2] / "shared/data/world_universities.json",
)
HEADER = "name,country,city,website,hei_id,languages,status\n"


def audit_actions():
    return [e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def problems(result):
    return [(p.line, p.field) for p in result.problems]


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "\ufeffname;country;city;languages\nUniversität Wien;at;Wien;de|en\n".encode(),
        b"name,country,city,languages\r\nUniversit\xc3\xa4t Wien,AT,Wien,de en\r\n",
    ],
    ids=["bom-semicolons", "plain-commas-crlf"],
)
def test_csv_with_or_without_bom_and_either_separator(app, ctx, content):
    result = run(content)
    assert (result.problems, result.created) == ([], 1)
    [partner] = partners()
    assert (partner.name, partner.country, partner.city) == ("Universität Wien", "AT", "Wien")
    assert partner.languages == "de en"
    assert partner.status is PartnerStatus.ACTIVE
    assert "universität wien" in partner.search_text
    assert audit_actions() == ["partner.created", "partners.imported"]


def test_unknown_country_is_reported_with_line_and_field_and_nothing_is_written(app, ctx):
    text = HEADER + "Good U,DE,,,,,\n" + "Bad U,XX,,,,,\n" + "Worse U,DE,,ftp://x,,zz,maybe\n"
    result = run(text)
    assert problems(result) == [(3, "country"), (4, "website"), (4, "languages"), (4, "status")]
    assert "“XX” is not an ISO 3166 country code." in result.problems[0].message
    assert partners() == [] and audit_actions() == []


@pytest.mark.parametrize(
    "content, line, needle",
    [
        (HEADER.encode() + b'"Open quote U,DE,,,,,\nNext U,DE,,,,,\n', 2, "not valid CSV"),
        (HEADER.encode() + b"A,DE,,,,,\nB,DE,,,,,,extra\n", 3, "Expected 7 fields, found 8"),
        (HEADER.encode() + b"A,DE,,,,,\nUniversit\xe4t Wien,AT,,,,,\n", 3, "not UTF-8"),
        (b"name,country,citty\nA,DE,Berlin\n", 1, "Unknown column “citty”"),
        (b"name,city\nA,Berlin\n", 1, "required column “country” is missing"),
        (b"", None, "The file is empty"),
    ],
    ids=["unclosed-quote", "extra-field", "latin-1", "typo-column", "no-country", "empty"],
)
def test_malformed_csv_is_a_clear_problem(app, ctx, content, line, needle):
    result = run(content)
    assert result.problems, result
    assert result.problems[0].line == line
    assert needle in result.problems[0].message
    assert partners() == []


def test_duplicate_rows_in_the_file(app, ctx):
    text = HEADER + (
        "Same U,DE,Bonn,,same.de,,\n"  # 2
        "Same U,DE,Bonn,,same.de,,\n"  # 3: identical: skipped
        "Other Name,DE,Bonn,,same.de,,\n"  # 4: shares the hei-id: imported without it
        "Nameonly U,FR,Lyon,,,,\n"  # 5
        "Nameonly U,FR,Lyon,,,,\n"  # 6: same name and country, same data
    )
    result = run(text, dry_run=True)
    assert result.problems == []
    assert [(w.line, w.message) for w in result.warnings] == [
        (3, "Duplicate of line 2; skipped."),
        (4, "hei-id same.de is also used by line 2; imported without a hei-id."),
        (6, "Duplicate of line 5; skipped."),
    ]
    assert (result.created, result.skipped) == (3, 2)
    run(text)
    assert [(p.name, p.hei_id) for p in partners()] == [
        ("Nameonly U", None),
        ("Other Name", None),
        ("Same U", "same.de"),
    ]


def test_conflicting_duplicates_are_problems(app, ctx):
    text = HEADER + (
        "Same U,DE,Bonn,,same.de,,\n"
        "Same U,DE,Köln,,same.de,,\n"  # same hei-id and name, other city
        "Nameonly U,FR,Lyon,,,,\n"
        "Nameonly U,FR,Paris,,,,\n"  # same name and country, other city
    )
    result = run(text)
    assert problems(result) == [(3, "hei_id"), (5, "name")]
    assert "line 2" in result.problems[0].message and "line 4" in result.problems[1].message
    assert partners() == []


# --- matching, updates, idempotence ----------------------------------------------------------


def test_second_import_is_unchanged_and_changes_are_detected(app, ctx):
    text = HEADER + "Alpha U,DE,Bonn,https://alpha.de,alpha.de,de,active\nBeta U,FR,Lyon,,,,\n"
    first = run(text)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = run(text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert audit_actions().count("partner.created") == 2
    assert audit_actions().count("partner.updated") == 0

    beta = next(p for p in partners() if p.name == "Beta U")
    beta.description = "Kept: the file has no description column."
    db.session.commit()
    changed = HEADER + (
        "Alpha University,DE,Bonn,https://alpha.de,alpha.de,de en,active\n"  # matched by hei-id
        "BETA U,FR,Paris,,,,\n"  # matched by name (any case) and country
    )
    kept = run(changed)  # by default, stored values are kept
    assert (kept.created, kept.updated, kept.unchanged, kept.with_kept) == (0, 0, 2, 2)
    result = run(changed, mode=importer.ImportMode.OVERWRITE)
    assert (result.created, result.updated, result.unchanged) == (0, 2, 0)
    alpha, beta = partners()
    assert (alpha.name, alpha.languages) == ("Alpha University", "de en")
    assert (beta.name, beta.city) == ("BETA U", "Paris")
    assert beta.description == "Kept: the file has no description column."
    event = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "partner.updated", AuditEvent.object_id == str(beta.id)
        )
    ).one()
    assert event.details == {"name": ["Beta U", "BETA U"], "city": ["Lyon", "Paris"]}
    summary = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "partners.imported")
    ).all()[-1]
    assert summary.details["updated"] == 2 and summary.details["file"] == "partners.csv"


def test_matching_prefers_hei_id_and_never_merges_other_institutions(app, ctx):
    PartnerFactory(name="Cornell College", country="US", hei_id="cornell-iowa.edu")
    PartnerFactory(name="Legacy U", country="US", hei_id=None, domains="")
    text = HEADER + (
        "Cornell College,US,,,cornellcollege.edu,,\n"  # same name, another hei-id: new
        "Legacy U,US,,,legacy.edu,,\n"  # same name, the partner has no hei-id: gets it
    )
    result = run(text)
    assert (result.created, result.updated) == (1, 1)
    assert sorted((p.name, p.hei_id) for p in partners()) == [
        ("Cornell College", "cornell-iowa.edu"),
        ("Cornell College", "cornellcollege.edu"),
        ("Legacy U", "legacy.edu"),
    ]


def test_an_empty_status_or_hei_id_keeps_the_stored_value(app, ctx):
    PartnerFactory(
        name="Dormant U", country="DE", hei_id="dormant.de", status=PartnerStatus.INACTIVE
    )
    # Even when overwriting, an empty cell is no value.
    result = run(HEADER + "Dormant U,DE,Bonn,,,,\n", mode=importer.ImportMode.OVERWRITE)
    assert (result.updated, result.problems) == (1, [])
    [partner] = partners()
    assert (partner.hei_id, partner.status, partner.city) == (
        "dormant.de",
        PartnerStatus.INACTIVE,
        "Bonn",
    )


# --- JSON ------------------------------------------------------------------------------------


def world_entry(name, domains, country="NO", region=None):
    return {
        "name": name,
        "domains": domains,
        "web_pages": [f"https://{domains[0]}/"] if domains else [],
        "country": "Norway",
        "alpha_two_code": country,
        "state-province": region,
    }


def test_json_in_the_world_universities_format(app, ctx):
    entries = [
        world_entry("National College of Art and Design", ["khio.no"]),
        world_entry("University of Oslo", ["uio.no", "student.uio.no"], region="Oslo"),
        world_entry("Oslo National Academy of Fine Arts", ["khio.no"]),
    ]
    result = run(json.dumps(entries), fmt="json", filename="world.json")
    assert (result.problems, result.created) == ([], 3)
    assert [(w.line, w.message) for w in result.warnings] == [
        (3, "hei-id khio.no is also used by entry 1; imported without a hei-id.")
    ]
    oslo = next(p for p in partners() if p.name == "University of Oslo")
    assert (oslo.hei_id, oslo.domains, oslo.website, oslo.region, oslo.country) == (
        "uio.no",
        "uio.no student.uio.no",
        "https://uio.no/",
        "Oslo",
        "NO",
    )
    again = run(json.dumps(entries), fmt="json")
    assert again.unchanged == 3 and again.to_write == 0


@pytest.mark.parametrize(
    "content, needle",
    [
        ('{"name": "not a list"}', "must be a list of universities"),
        ("[{]", "not valid JSON (line 1, column 3)"),
        ('[{"name": "A", "alpha_two_code": "QQ", "domains": []}]', "not an ISO 3166"),
        ('[{"name": "A", "alpha_two_code": "DE", "domains": "a.de"}]', "must be a list"),
        ('["just text"]', "must be an object"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_bad_json_is_a_clear_problem(app, ctx, content, needle):
    result = run(content, fmt="json")
    assert result.problems and needle in result.problems[0].message
    assert partners() == []


def test_the_full_world_universities_file_imports_cleanly_and_idempotently(app, ctx):
    content = WORLD.read_bytes()
    started = time.monotonic()
    result = run(content, fmt="json", filename=WORLD.name)
    took = time.monotonic() - started
    assert result.total == 10251
    assert result.problems == []
    assert result.created + result.skipped == 10251
    assert len(result.warnings) >= 1  # two institutions share khio.no
    assert db.session.scalar(sa.select(sa.func.count(Partner.id))) == result.created
    assert took < 60, f"the import took {took:.1f}s"
    again = run(content, fmt="json", filename=WORLD.name)
    assert (again.created, again.updated, again.problems) == (0, 0, [])
    assert again.unchanged == result.created


# --- command line ----------------------------------------------------------------------------


def test_cli_dry_run_writes_nothing_and_summarises(app, ctx, tmp_path):
    path = tmp_path / "partners.csv"
    path.write_text(HEADER + "Alpha U,DE,,,,,\nAlpha U,DE,,,,,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["partners", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 rows: 1 to create, 0 to update, 0 unchanged, 1 duplicates skipped" in result.output
    assert "line 3: Duplicate of line 2; skipped." in result.output
    assert "Dry run: nothing was written." in result.output
    assert partners() == []

    result = app.test_cli_runner().invoke(args=["partners", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported: 1 created, 0 updated, 0 unchanged." in result.output
    assert [p.name for p in partners()] == ["Alpha U"]


def test_cli_with_problems_exits_non_zero_and_lists_them(app, ctx, tmp_path):
    path = tmp_path / "partners.txt"
    path.write_text(HEADER + "Alpha U,DE,,,,,\nBad U,XX,,,,,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["partners", "import", str(path)])
    assert result.exit_code != 0  # no format from ".txt"
    result = app.test_cli_runner().invoke(args=["partners", "import", str(path), "--format", "csv"])
    assert result.exit_code == 1
    assert "1 problems; nothing was written:" in result.output
    assert "line 3, field country: “XX” is not an ISO 3166 country code." in result.output
    assert partners() == []


# --- upload page -----------------------------------------------------------------------------


@pytest.fixture
def staff_client(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    client = app.test_client()
    login(client, coordinator().email)
    return client


def test_upload_preview_then_confirm(app, staff_client):
    text = HEADER + "Alpha U,DE,Bonn,,alpha.de,,\n<script>alert(1)</script> U,FR,Lyon,,,,\n"
    resp = upload(staff_client, text.encode())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Import 2 partners" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; U" in html
    assert "<script>alert(1)</script>" not in html
    assert partners() == []  # the preview writes nothing

    token = hidden(html, "token")
    assert re.fullmatch(r"[0-9a-f]{32}\.csv", token)
    stored = Path(app.config["UPLOAD_DIR"]) / "imports" / token
    assert stored.is_file()
    resp = staff_client.post(
        "/catalogue/import/confirm",
        data={
            "csrf_token": hidden(html, "csrf_token"),
            "token": token,
            "filename": hidden(html, "filename"),
        },
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/catalogue/import/{token}")
    assert [p.name for p in partners()] == ["<script>alert(1)</script> U", "Alpha U"]
    assert "partners.imported" in audit_actions()
    assert not stored.exists()
    html = staff_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Imported partners.csv: 2 created, 0 updated, 0 unchanged." in html


def test_confirm_checks_the_file_again_against_the_current_catalogue(staff_client):
    html = upload(staff_client, (HEADER + "Alpha U,DE,Bonn,,alpha.de,,\n").encode()).get_data(
        as_text=True
    )
    assert "Import 1 partner" in html
    PartnerFactory(name="Alpha U", country="DE", city="Köln", hei_id="alpha.de")  # meanwhile
    resp = staff_client.post(
        "/catalogue/import/confirm",
        data={n: hidden(html, n) for n in ("csrf_token", "token", "filename")},
    )
    assert resp.status_code == 302
    # Matched, not doubled; the stored city is kept (the default does not overwrite).
    assert [(p.name, p.city) for p in partners()] == [("Alpha U", "Köln")]
    again = staff_client.post(
        "/catalogue/import/confirm",
        data={n: hidden(html, n) for n in ("csrf_token", "token", "filename")},
    )
    assert again.headers["Location"].endswith("/catalogue/import")  # a preview confirms once


def test_upload_with_problems_lists_them_and_offers_no_import(staff_client):
    resp = upload(staff_client, (HEADER + "Bad U,XX,,,,,\n").encode())
    html = resp.get_data(as_text=True)
    assert "The file has 1 problem." in html
    assert "line 2" in html and "<code>country</code>" in html
    assert 'name="token"' not in html
    assert partners() == []


@pytest.mark.parametrize("token", ["../../secret_key", "0" * 32 + ".csv", "x.csv"])
def test_confirm_refuses_unknown_or_forged_tokens(staff_client, token):
    csrf = csrf_token(staff_client, "/catalogue/import")
    resp = staff_client.post(
        "/catalogue/import/confirm", data={"csrf_token": csrf, "token": token, "filename": "x"}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/catalogue/import")
    assert partners() == []


def test_upload_must_be_csv_or_json(staff_client):
    html = upload(staff_client, b"MZ\x90\x00", "tool.exe").get_data(as_text=True)
    assert "Upload a .csv or a .json file." in html
    html = upload(staff_client, b"\x89PNG\r\n", "image.json").get_data(as_text=True)
    assert "not UTF-8" in html
    assert partners() == []


def test_students_cannot_import(app):
    client = app.test_client()
    login(client, student().email)
    assert client.get("/catalogue/import").status_code == 403
    assert client.post("/catalogue/import/confirm").status_code in (400, 403)


def test_too_large_upload_is_refused_with_413(app, staff_client):
    token = csrf_token(staff_client, "/catalogue/import")
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2048
    try:
        big = (HEADER + "Big U,DE,,,,,\n" * 400).encode()
        resp = staff_client.post(
            "/catalogue/import",
            data={"csrf_token": token, "file": (io.BytesIO(big), "big.csv")},
            content_type="multipart/form-data",
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert resp.status_code == 413
    assert "larger than" in resp.get_data(as_text=True)
    assert partners() == []


# --- export ----------------------------------------------------------------------------------


@pytest.fixture
def catalogue():
    alpha = PartnerFactory(name="Alpha U", country="DE")
    AgreementFactory(partner=alpha, places_per_year=2)
    AgreementFactory(partner=alpha, places_per_year=3)
    AgreementFactory(partner=alpha, places_per_year=7, status=AgreementStatus.DRAFT)
    AgreementFactory(partner=PartnerFactory(name='=HYPERLINK("http://x") U', country="DE"))
    AgreementFactory(partner=PartnerFactory(name="Gamma U", country="FR"))
    PartnerFactory(name="No Agreement U", country="DE")
    PartnerFactory(name="Inactive U", country="DE", status=PartnerStatus.INACTIVE)


def read_csv(resp):
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def read_xlsx(resp):
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.parametrize("kind, reader", [("csv", read_csv), ("xlsx", read_xlsx)])
def test_export_equals_the_filtered_list(app, staff_client, catalogue, kind, reader):
    resp = staff_client.get(f"/catalogue/export.{kind}?country=DE")
    assert resp.status_code == 200
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert re.search(rf"partners-\d{{8}}\.{kind}", disposition)
    rows = reader(resp)
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://x") U', "Alpha U"]
    alpha = rows[1]
    assert (int(alpha["active_agreements"]), int(alpha["places_per_year"])) == (2, 5)
    assert alpha["country"] == "DE" and alpha["status"] == "active"

    names = [r["name"] for r in reader(staff_client.get(f"/catalogue/export.{kind}?all=1"))]
    assert names == ['\'=HYPERLINK("http://x") U', "Alpha U", "Gamma U", "No Agreement U"]
    query = f"/catalogue/export.{kind}?all=1&inactive=1&q=u&sort=country"
    names = [r["name"] for r in reader(staff_client.get(query))]
    assert len(names) == 5 and names[-1] == "Gamma U"


def test_students_export_only_what_they_can_see(app, catalogue):
    client = app.test_client()
    login(client, student().email)
    rows = read_csv(client.get("/catalogue/export.csv?all=1&inactive=1"))
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://x") U', "Alpha U", "Gamma U"]
    assert app.test_client().get("/catalogue/export.csv").status_code == 302  # to the login


def test_an_export_imports_again_unchanged(app, staff_client, catalogue):
    content = staff_client.get("/catalogue/export.csv?all=1&inactive=1").get_data()
    result = run(content)
    assert result.problems == []
    assert (result.total, result.unchanged, result.to_write) == (5, 5, 0)
