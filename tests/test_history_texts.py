"""Staff pages in words, not internals: histories, the audit log, the outbox; one date format
per language everywhere (issues 11.7 and 11.8)."""

import io
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from zoneinfo import ZoneInfo

from exchange.applications import operations as app_ops
from exchange.calls import offerings as call_offerings
from exchange.calls.models import DocumentKind
from exchange.core import audit
from exchange.extensions import db
from exchange.mail.delivery import deliver
from exchange.mail.operations import queue_mail

from .conftest import client_for
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    admin,
    coordinator,
    student,
)

PDF = b"%PDF-1.4\n%%EOF\n"


def visible(html):
    """The page's text without tags and attributes (a raw key may stay in a tooltip)."""
    return re.sub(r"<[^>]+>", " ", html)


def test_the_audit_log_and_the_call_history_show_readable_changes(app):
    office = coordinator(locale="en", timezone="Asia/Shanghai")
    call = CallFactory(title="Spring exchange 2027", academic_year=2027)
    agreement = AgreementFactory(places_per_year=8, partner=PartnerFactory(name="Heidelberg"))
    call_offerings.set_offerings(call, [(agreement.id, 3)], actor=office)
    call_offerings.set_offerings(call, [(agreement.id, 5)], actor=office)
    audit.record(
        "call.updated",
        call,
        actor=office,
        details={
            "term": ["autumn", "full_year"],
            "description": ["", "海德堡大学"],
            "closes_at": ["2026-12-21T09:00+00:00", "2026-12-28T09:00+00:00"],
        },
    )
    db.session.commit()
    for client, url in (
        (client_for(app, admin(locale="en", timezone="Asia/Shanghai")), "/admin/audit"),
        (client_for(app, office), f"/calls/{call.id}"),
    ):
        html = client.get(url).get_data(as_text=True)
        text = visible(html)
        assert "Places offered changed" in text
        assert "Places: Heidelberg" in text and "3 → 5" in text
        assert "Term: Autumn term → Full year" in text
        assert "Description: 海德堡大学" in text
        assert "Application deadline: Mon, Dec 21, 2026 17:00 → Mon, Dec 28, 2026 17:00" in text
        for raw in ("call.offerings_changed", "full_year", "\\u", "2026-12-28T09:00", "{"):
            assert raw not in text, (url, raw)


def test_histories_speak_the_readers_language(app):
    reader = coordinator(locale="zh_Hans_CN", timezone="Asia/Shanghai")
    call = CallFactory(title="Spring exchange 2027")
    audit.record("call.updated", call, actor=reader, details={"term": ["autumn", "full_year"]})
    db.session.commit()
    text = visible(client_for(app, reader).get(f"/calls/{call.id}").get_data(as_text=True))
    assert "全学年" in text  # "Full year"
    assert "full_year" not in text and "Full year" not in text


def test_the_outbox_shows_times_in_the_readers_zone_and_format(app, tmp_path):
    app.config.update(MAIL_BACKEND="outbox", MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    try:
        boss = admin(locale="en", timezone="Asia/Shanghai")
        mail = queue_mail(boss, "password_reset", {"link": "http://x/r", "hours": 2})
        db.session.commit()
        assert deliver(mail.id).state == "sent"
        [eml] = (tmp_path / "outbox").glob("*.eml")
        sent = BytesParser(policy=policy.default).parse(eml.open("rb"))["Date"].datetime
        client = client_for(app, boss)
        expected = sent.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%a, %b %-d, %Y %H:%M")
        for url in ("/admin/outbox", f"/admin/outbox/{eml.name}"):
            html = client.get(url).get_data(as_text=True)
            assert expected in html, url
            assert sent.strftime("%d %b %Y %H:%M:%S") not in html  # the raw UTC header
            assert "Times are shown in Asia/Shanghai" in html
    finally:
        app.config["MAIL_BACKEND"] = "memory"


def test_sizes_are_written_in_the_readers_words(app):
    s = student(locale="en")
    call = CallFactory(required_documents="transcript")
    application = ApplicationFactory(call=call, student=s, choices=[OfferingFactory(call=call)])
    app_ops.upload_document(application, DocumentKind.TRANSCRIPT, io.BytesIO(PDF), "t.pdf", actor=s)
    db.session.commit()
    html = client_for(app, s).get(f"/applications/{application.id}").get_data(as_text=True)
    assert f"{len(PDF)} bytes" in html and "Bytes" not in html


def test_one_date_format_on_pages_and_in_mails(app):
    """The `datetime` and `date` filters and call times all write one format per language."""
    from flask import render_template_string
    from flask_babel import force_locale

    moment = datetime(2026, 11, 30, 5, 20, tzinfo=UTC)
    with app.test_request_context():
        for locale, whole, day in (
            ("en", "Mon, Nov 30, 2026 13:20", "Mon, Nov 30, 2026"),
            ("zh_Hans_CN", "2026年11月30日周一 13:20", "2026年11月30日周一"),
        ):
            with force_locale(locale):
                shown = render_template_string(
                    "{{ t|datetime('short') }}|{{ t|datetime }}|{{ t|call_time(z, False) }}"
                    "|{{ t|date }}",
                    t=moment,
                    z="Asia/Shanghai",
                )
            # The reader's zone (here the default, Asia/Shanghai) and the call's zone agree.
            assert shown.split("|") == [whole, whole, whole, day]


def test_subject_areas_and_languages_are_named_in_the_readers_language(app):
    """Issue 11.7: ISCED-F fields and languages showed in English, or as raw codes ("fi en")."""
    reader = coordinator(locale="zh_Hans_CN", timezone="Asia/Shanghai")
    partner = PartnerFactory(name="Aalto", country="FI", languages="fi en")
    agreement = AgreementFactory(partner=partner, subject_areas="0613 0411", language="en")
    audit.record("partner.updated", partner, actor=reader, details={"languages": ["fi", "fi en"]})
    audit.record(
        "agreement.updated",
        agreement,
        actor=reader,
        details={"partner_id": partner.id, "subject_areas": ["0613", "0613 0411"]},
    )
    db.session.commit()
    client = client_for(app, reader)
    text = visible(client.get(f"/catalogue/partners/{partner.id}").get_data(as_text=True))
    assert "芬兰语 → 芬兰语, 英语" in text  # Finnish → Finnish, English
    assert "0613 软件和应用开发与分析 → 0613 软件和应用开发与分析, 0411 会计和税务" in text
    assert "fi en" not in text and "Software" not in text

    html = client.get(f"/catalogue/partners/{partner.id}").get_data(as_text=True)
    assert '<abbr title="会计和税务">0411</abbr>' in html  # the agreement's card
    html = client.get("/catalogue/").get_data(as_text=True)
    assert re.search(r"<option value=\"0613\" ?>0613 软件和应用开发与分析</option>", html), (
        re.findall(r"<option value=\"0613\"[^/]*/option>", html)
    )  # the filter
    assert '<abbr title="芬兰语">FI</abbr> · <abbr title="英语">EN</abbr>' in html  # its card
    html = client.get(f"/catalogue/partners/{partner.id}/agreements/new").get_data(as_text=True)
    assert "0613 软件和应用开发与分析</option>" in html  # the agreement form
    assert "Software and applications" not in html


def test_every_isced_field_has_a_chinese_name(app):
    from flask_babel import force_locale

    from exchange.catalogue import reference

    with app.test_request_context(), force_locale("zh_Hans_CN"):
        names = {code: reference.isced_name(code) for code in reference.isced_fields()}
        assert reference.isced_name("0613") == "软件和应用开发与分析"
    english = reference.isced_fields()
    assert all(names[code] and names[code] != english[code] for code in english)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in names.values())
    with app.test_request_context(), force_locale("en"):
        assert reference.isced_name("0613") == english["0613"]
