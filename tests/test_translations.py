"""The Simplified Chinese catalogue: complete, compiled from its source, and used."""

import re
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from .conftest import client_for
from .factories import coordinator, student

FOLDER = Path(__file__).resolve().parent.parent / "exchange" / "translations" / "zh_Hans_CN"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_0-9]*\}")


def _catalogue(kind):
    path = FOLDER / "LC_MESSAGES" / f"messages.{kind}"
    with path.open("rb") as f:
        return read_po(f) if kind == "po" else read_mo(f)


def test_every_message_is_translated_with_its_placeholders():
    problems = []
    for message in _catalogue("po"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings) or message.fuzzy:
            problems.append(("untranslated", ids[0]))
            continue
        wanted = sorted(PLACEHOLDER.findall(ids[-1]))
        if any(sorted(PLACEHOLDER.findall(s)) != wanted for s in strings):
            problems.append(("placeholders", ids[0]))
    assert problems == []


def test_the_compiled_catalogue_is_the_source_compiled():
    """`make translations` compiles the .mo; a .po edited without it fails here."""

    def pairs(catalogue):
        return {
            (m.context, tuple(m.id) if isinstance(m.id, list | tuple) else m.id): (
                tuple(m.string) if isinstance(m.string, list | tuple) else m.string
            )
            for m in catalogue
            if m.id
        }

    assert pairs(_catalogue("mo")) == pairs(_catalogue("po"))


def test_a_user_who_chose_chinese_reads_the_pages_in_chinese(app):
    office = client_for(app, coordinator(locale="zh_Hans_CN"))
    html = office.get("/catalogue/").get_data(as_text=True)
    assert '<html lang="zh-Hans-CN">' in html
    assert "首页" in html and "合作院校" in html
    assert "跳到主要内容" in html and "时间均按 Asia/Shanghai 显示" in html  # base.html
    assert ">Home<" not in html
    pupil = client_for(app, student(locale="en"))
    assert ">Home<" in pupil.get("/home").get_data(as_text=True)


def test_a_kept_formatted_time_is_each_readers_own_zone_and_language(app):
    from datetime import UTC, datetime

    from flask import render_template_string
    from flask_login import login_user

    moment = datetime(2027, 3, 1, 12, 30, tzinfo=UTC)
    shown = []
    for user in (
        coordinator(timezone="Asia/Shanghai", locale="en"),
        coordinator(timezone="Europe/Paris", locale="en"),
        coordinator(timezone="Asia/Shanghai", locale="zh_Hans_CN"),
        coordinator(timezone="Asia/Shanghai", locale="en"),  # the first one's, kept
    ):
        with app.test_request_context():
            login_user(user)
            shown.append(render_template_string("{{ t|datetime('short') }}", t=moment))
    # One format per language everywhere (the format asked for is not a second one).
    assert shown[0] == shown[3] == "Mon, Mar 1, 2027 20:30"
    assert shown[1] == "Mon, Mar 1, 2027 13:30"
    assert shown[2] == "2027年3月1日周一 20:30"
