"""The partner import as offices use it: another source over curated partners (kept unless
overwriting is chosen), the result page, real-world country and language names, and large
files checked and imported by the worker with a progress page."""

import io
import json
import re
import time

import pytest
import sqlalchemy as sa
from celery.contrib.testing.worker import start_worker

from exchange.catalogue import importer
from exchange.catalogue.models import Partner
from exchange.extensions import db

from .conftest import csrf_token, login
from .factories import PartnerFactory, coordinator
from .helpers import hidden, partners, run, upload

KEEP, OVERWRITE = importer.ImportMode.KEEP, importer.ImportMode.OVERWRITE


@pytest.fixture
def staff_client(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    client = app.test_client()
    login(client, coordinator().email)
    return client


# --- 11.10: another source does not overwrite curated data -----------------------------------


def curated():
    tum = PartnerFactory(
        name="Technical University of Munich",
        name_native="Technische Universität München",
        country="DE",
        website="https://www.tum.de",
        hei_id="tum.de",
        domains="tum.de",
    )
    bare = PartnerFactory(
        name="Sciences Po", country="FR", website=None, hei_id="sciencespo.fr", domains=""
    )
    return tum, bare


WORLD_LIST = json.dumps(
    [
        {
            "name": "Technische Universität München",
            "domains": ["tum.de", "mytum.de"],
            "web_pages": ["http://www.tum.de/"],
            "alpha_two_code": "DE",
            "country": "Germany",
        },
        {
            "name": "Sciences Po",
            "domains": ["sciencespo.fr"],
            "web_pages": ["http://www.sciencespo.fr/"],
            "alpha_two_code": "FR",
        },
        {
            "name": "Universität Passau",
            "domains": ["uni-passau.de"],
            "web_pages": ["http://www.uni-passau.de/"],
            "alpha_two_code": "DE",
        },
    ]
)


def test_another_source_adds_and_fills_but_keeps_stored_values_by_default(app, ctx):
    tum, bare = curated()
    result = run(WORLD_LIST, fmt="json", filename="world.json")
    assert (result.created, result.updated, result.unchanged, result.with_kept) == (1, 1, 1, 1)
    db.session.expire_all()
    assert (tum.name, tum.website, tum.hei_id, tum.domains) == (
        "Technical University of Munich",
        "https://www.tum.de",
        "tum.de",
        "tum.de",
    )
    assert bare.website == "http://www.sciencespo.fr/"  # an empty field is filled
    preview = result.preview()
    [kept] = preview.samples["kept"]
    assert kept["name"] == "Technical University of Munich"
    assert kept["changes"] == {
        "domains": ["tum.de", "tum.de mytum.de"],
        "name": ["Technical University of Munich", "Technische Universität München"],
        "website": ["https://www.tum.de", "http://www.tum.de/"],
    }
    [filled] = preview.samples["update"]
    assert filled["changes"] == {
        "domains": ["", "sciencespo.fr"],
        "website": [None, "http://www.sciencespo.fr/"],
    }

    overwritten = run(WORLD_LIST, fmt="json", filename="world.json", mode=OVERWRITE)
    assert (overwritten.updated, overwritten.with_kept) == (1, 0)
    db.session.expire_all()
    assert (tum.name, tum.website) == ("Technische Universität München", "http://www.tum.de/")


def test_the_preview_shows_kept_values_field_by_field_and_overwriting_is_a_choice(
    app, staff_client
):
    tum, _bare = curated()
    resp = upload(staff_client, WORLD_LIST.encode(), "world.json")
    html = resp.get_data(as_text=True)
    kept = html[html.index('data-testid="import-kept"') :]
    kept = kept[: kept.index("</table>")]
    assert "Technical University of Munich" in kept
    assert "<code>name</code>: <span>Technical University of Munich</span>" in kept
    assert "(file: Technische Universität München)" in kept
    assert "<code>website</code>: <span>https://www.tum.de</span>" in kept
    updated = html[html.index('data-testid="import-updated"') :]
    assert "<del>—</del> → <ins>http://www.sciencespo.fr/</ins>" in updated
    assert "Import 2 partners" in html
    assert "Import and overwrite the values of 1 partner" in html

    forms = re.findall(
        r'<form method="post" action="/catalogue/import/confirm".*?</form>', html, re.S
    )
    modes = [hidden(form, "mode") for form in forms]
    assert modes == ["keep", "overwrite"]
    data = {n: hidden(forms[0], n) for n in ("csrf_token", "token", "filename", "mode")}
    assert staff_client.post("/catalogue/import/confirm", data=data).status_code == 302
    db.session.expire_all()
    assert tum.name == "Technical University of Munich"

    resp = staff_client.post(
        "/catalogue/import",
        data={
            "csrf_token": csrf_token(staff_client, "/catalogue/import"),
            "file": (io.BytesIO(WORLD_LIST.encode()), "world.json"),
            "mode": "overwrite",
        },
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert "<del>Technical University of Munich</del> → <ins>Technische Universität München" in html
    data = {n: hidden(html, n) for n in ("csrf_token", "token", "filename", "mode")}
    assert data["mode"] == "overwrite"
    staff_client.post("/catalogue/import/confirm", data=data)
    db.session.expire_all()
    assert tum.name == "Technische Universität München"


def test_the_command_line_keeps_by_default_and_overwrites_on_request(app, ctx, tmp_path):
    tum, _bare = curated()
    path = tmp_path / "world.json"
    path.write_text(WORLD_LIST, encoding="utf-8")
    out = app.test_cli_runner().invoke(args=["partners", "import", str(path)])
    assert out.exit_code == 0, out.output
    assert "1 matched partners keep stored values" in out.output
    assert "name: 'Technical University of Munich' (file: 'Technische Universität München')" in (
        out.output
    )
    db.session.expire_all()
    assert tum.name == "Technical University of Munich"
    out = app.test_cli_runner().invoke(args=["partners", "import", str(path), "--overwrite"])
    assert out.exit_code == 0, out.output
    db.session.expire_all()
    assert tum.name == "Technische Universität München"


# --- 11.11: the result page says where the new partners are ----------------------------------


def test_the_result_page_says_new_partners_are_hidden_and_links_to_them(app, staff_client):
    text = "name,country\nNeu U,DE\nNeuer U,DE\n"
    html = upload(staff_client, text.encode()).get_data(as_text=True)
    data = {n: hidden(html, n) for n in ("csrf_token", "token", "filename", "mode")}
    resp = staff_client.post("/catalogue/import/confirm", data=data, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "Imported partners.csv: 2 created" in html
    assert "2 new partners have no agreements yet." in html
    link = re.search(r'href="([^"]+)" data-testid="import-catalogue-link"', html).group(1)
    assert link.replace("&amp;", "&") == "/catalogue/?all=1&country=DE"
    created = html[html.index('data-testid="import-created"') :]
    for partner in partners():
        assert f'href="/catalogue/partners/{partner.id}">{partner.name}</a>' in created

    assert "Neu U" not in staff_client.get("/catalogue/").get_data(as_text=True)
    listed = staff_client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "Neu U" in listed and "Neuer U" in listed


# --- 12.11: real-world country and language names ---------------------------------------------

OFFICE_EXPORT = """name,country,languages
Peking University,China,zh;en
Seoul National University,"Korea, Republic of",ko;en
Universität Heidelberg,Deutschland,de
Fudan University,中国,"中文、英文"
Kyoto University,日本,ja/en
Sorbonne Université,France,"French, English"
Universidad de Salamanca,España,es | en
MIT,United States,English
Universität Wien,Österreich,Deutsch; Englisch
Uppsala University,Sweden,sv en
KU Leuven,Belgium,nl;fr;en
Tsinghua University,CN,"zh，en"
University of Tokyo,Japan,Japanese;English
Yonsei University,South Korea,한국어;영어
ETH Zürich,Schweiz,de;en
Università di Bologna,Italia,it
"""


def test_an_office_export_with_country_names_and_language_lists_is_accepted(app, ctx):
    result = run(OFFICE_EXPORT)
    assert [(p.line, p.message) for p in result.problems] == []
    assert result.created == 16
    got = {p.name: (p.country, p.languages) for p in partners()}
    assert got["Peking University"] == ("CN", "zh en")
    assert got["Seoul National University"] == ("KR", "ko en")
    assert got["Universität Heidelberg"] == ("DE", "de")
    assert got["Fudan University"] == ("CN", "zh en")
    assert got["Kyoto University"] == ("JP", "ja en")
    assert got["Sorbonne Université"] == ("FR", "fr en")
    assert got["Universität Wien"] == ("AT", "de en")
    assert got["Yonsei University"] == ("KR", "ko en")
    assert got["Tsinghua University"] == ("CN", "zh en")
    interpreted = {
        (f, w): (code, rows, line) for f, w, code, rows, line in result.preview().interpreted
    }
    assert interpreted[("country", "Deutschland")] == ("DE", 1, 4)
    assert interpreted[("country", "中国")] == ("CN", 1, 5)
    assert interpreted[("country", "Korea, Republic of")] == ("KR", 1, 3)
    assert interpreted[("languages", "英文")][0] == "en"
    assert ("country", "CN") not in interpreted  # a code needs no explanation


def test_the_preview_says_what_was_read_how(staff_client):
    html = upload(staff_client, OFFICE_EXPORT.encode()).get_data(as_text=True)
    table = html[html.index('data-testid="import-interpreted"') :]
    assert "<td>Deutschland</td><td>→ <strong>DE</strong></td>" in table
    assert "<td>中国</td><td>→ <strong>CN</strong></td>" in table
    assert "Import 16 partners" in html


@pytest.mark.parametrize("country", ["Atlantis", "Korea", "XX"])
def test_unknown_or_ambiguous_countries_are_still_refused(app, ctx, country):
    result = run(f"name,country\nSome U,{country}\n")
    assert [(p.line, p.field) for p in result.problems] == [(2, "country")]
    assert partners() == []


# --- 12.10: large files in the worker, with a progress page -----------------------------------


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.committed(IMPORT_INLINE_BYTES=1024)
def test_a_large_file_is_checked_and_imported_by_the_worker(committed_app, tmp_path):
    app = committed_app
    app.config["UPLOAD_DIR"] = str(tmp_path)
    rows = "".join(f"Big University {n},DE,https://u{n}.example.de\n" for n in range(3000))
    content = ("name,country,website\n" + rows).encode()
    with app.app_context():
        email = coordinator().email
        db.session.remove()
        client = app.test_client()
        login(client, email)
        resp = upload(client, content, "big.csv")
        assert resp.status_code == 302  # the request read no row: the worker will
        status_url = resp.headers["Location"]
        page = client.get(status_url).get_data(as_text=True)
        assert 'data-testid="import-progress"' in page and 'http-equiv="refresh"' in page
        with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False):
            assert wait_for(lambda: "Import 3000 partners" in client.get(status_url).text)
            html = client.get(status_url).get_data(as_text=True)
            data = {n: hidden(html, n) for n in ("csrf_token", "token", "filename", "mode")}
            resp = client.post("/catalogue/import/confirm", data=data)
            assert resp.headers["Location"] == status_url
            assert wait_for(lambda: "3000 new partners" in client.get(status_url).text)
        db.session.remove()
        assert db.session.scalar(sa.select(sa.func.count(Partner.id))) == 3000


def test_a_partner_is_matched_by_another_of_the_rows_domains(app, ctx):
    sciences_po = PartnerFactory(name="Sciences Po", country="FR", hei_id="sciencespo.fr")
    entry = {
        "name": "Institut d'Etudes Politiques de Paris (Sciences Po)",
        "domains": ["sciences-po.fr", "sciencespo.fr"],
        "web_pages": ["http://www.sciences-po.fr/"],
        "alpha_two_code": "FR",
    }
    result = run(json.dumps([entry]), fmt="json")
    assert (result.created, result.with_kept) == (0, 1)  # no second Sciences Po
    [kept] = result.preview().samples["kept"]
    assert kept["id"] == sciences_po.id
    assert kept["changes"]["hei_id"] == ["sciencespo.fr", "sciences-po.fr"]
    db.session.expire_all()
    assert [p.hei_id for p in partners()] == ["sciencespo.fr"]


# --- the progress page when the worker does not run or fails -----------------------------------

BIG = ("name,country,website\n" + "Slow University,DE,https://slow.example.de\n" * 40).encode()


@pytest.fixture
def no_worker(app, staff_client, monkeypatch):
    """Large files go to the worker, and the tasks sent are kept here instead (none runs)."""
    sent = []
    monkeypatch.setitem(app.config, "IMPORT_INLINE_BYTES", 100)
    monkeypatch.setattr(
        app.extensions["celery"], "send_task", lambda name, args: sent.append((name, args))
    )
    return sent


def _age(app, token, seconds):
    """Make the job's status look `seconds` old."""
    import os
    from pathlib import Path

    path = Path(app.config["UPLOAD_DIR"]) / "imports" / f"{token}.status"
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def test_progress_says_when_the_worker_has_not_started(app, staff_client, no_worker):
    from exchange.catalogue import import_jobs

    status_url = upload(staff_client, BIG, "big.csv").headers["Location"]
    [(name, (token, *_rest))] = no_worker
    assert name == import_jobs.CHECK_TASK
    page = staff_client.get(status_url).get_data(as_text=True)
    assert "Waiting for the background worker" in page and "worker-stalled" not in page

    _age(app, token, app.config["IMPORT_WORKER_WAIT_SECONDS"] + 1)
    page = staff_client.get(status_url).get_data(as_text=True)
    assert 'data-testid="worker-stalled"' in page
    assert "has not started this work for 2 minutes: it seems not to be running" in page
    assert "Ask an administrator to start the worker" in page

    data = {"csrf_token": hidden(page, "csrf_token")}
    resp = staff_client.post(f"/catalogue/import/{token}/cancel", data=data)
    assert resp.headers["Location"].endswith("/catalogue/import")
    assert "Cancelled: nothing was imported." in staff_client.get("/catalogue/import").text
    assert import_jobs.kept(token) is None
    # The worker, started later, finds nothing to check; the page does not wait again.
    import_jobs.check_in_worker(token, KEEP.value, "big.csv")
    resp = staff_client.get(status_url)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/catalogue/import")


def test_progress_says_when_the_worker_stopped_and_not_before(app, staff_client, no_worker):
    from exchange.catalogue import import_jobs
    from exchange.core import imports

    status_url = upload(staff_client, BIG, "big.csv").headers["Location"]
    token = no_worker[0][1][0]
    imports.write_status(import_jobs.KIND, token, state="checking", done=10, total=40)
    page = staff_client.get(status_url).get_data(as_text=True)
    assert "Checking the file: 10 of 40 rows." in page and "worker-stalled" not in page
    data = {"csrf_token": csrf_token(staff_client, "/catalogue/import")}
    resp = staff_client.post(f"/catalogue/import/{token}/cancel", data=data)
    assert resp.headers["Location"] == status_url  # the worker is on it: not cancelled
    assert import_jobs.kept(token) is not None

    _age(app, token, app.config["IMPORT_WORKER_WAIT_SECONDS"] + 1)
    page = staff_client.get(status_url).get_data(as_text=True)
    assert "No progress for 2 minutes: the background worker seems to have stopped." in page
    staff_client.post(f"/catalogue/import/{token}/cancel", data=data)
    assert import_jobs.kept(token) is None


def test_progress_says_when_the_import_failed_in_the_worker(
    app, staff_client, no_worker, monkeypatch
):
    from exchange.catalogue import import_jobs

    status_url = upload(staff_client, BIG, "big.csv").headers["Location"]
    token = no_worker[0][1][0]
    import_jobs.check_in_worker(token, KEEP.value, "big.csv")
    page = staff_client.get(status_url).get_data(as_text=True)
    data = {n: hidden(page, n) for n in ("csrf_token", "token", "filename", "mode")}
    assert staff_client.post("/catalogue/import/confirm", data=data).headers["Location"] == (
        status_url
    )
    name, args = no_worker[1]
    assert name == import_jobs.IMPORT_TASK

    def crash(*args, **kwargs):
        raise RuntimeError("the worker crashed")

    monkeypatch.setattr(importer, "run_import", crash)
    with pytest.raises(RuntimeError):
        import_jobs.run_in_worker(*args)
    resp = staff_client.get(status_url)
    assert resp.status_code == 302  # not a progress page that waits for ever
    page = staff_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "The import failed; nothing was imported." in page
    assert db.session.scalar(sa.select(sa.func.count(Partner.id))) == 0


def test_a_broker_that_is_down_is_said_on_the_page(app, staff_client, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setitem(app.config, "IMPORT_INLINE_BYTES", 100)
    monkeypatch.setattr(app.extensions["celery"], "send_task", broker_down)
    resp = upload(staff_client, BIG, "big.csv")
    assert resp.status_code == 302
    page = staff_client.get(resp.headers["Location"], follow_redirects=True).text
    assert "The background worker cannot be reached now; nothing was done." in page
