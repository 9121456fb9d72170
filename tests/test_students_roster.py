"""The registrar's roster import: preview, all-or-nothing, idempotent, invitations once,
Chinese headers and degree levels, bad input, the CLI, and a roster-only student applying."""

import io
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from exchange.accounts.models import DegreeLevel, Role, StudentProfile, User
from exchange.applications import operations as app_ops
from exchange.core.audit import AuditEvent
from exchange.core.errors import DomainError
from exchange.extensions import db
from exchange.mail.models import OutboxMail
from exchange.students import roster

from .conftest import CSRF_RE, client_for
from .factories import (
    AgreementFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    UserFactory,
    admin,
    coordinator,
)
from .helpers import accept_invitation

HEADER = "student_number,name,email,unit,degree_level,programme,year_of_study,gpa,gpa_scale\n"


def csv(*lines, header=HEADER):
    return (header + "".join(line + "\n" for line in lines)).encode()


def xlsx(rows):
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def units():
    return UnitFactory(code="PHY"), UnitFactory(code="CS")


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def invitations():
    return db.session.scalars(
        sa.select(OutboxMail.to_address).where(OutboxMail.template == "account_invitation")
    ).all()


def run(content, filename="roster.csv", actor=None, **options):
    plan = roster.plan_roster(content, filename)
    roster.apply_roster(plan, actor=actor, **options)
    db.session.commit()
    return plan


GOOD = csv(
    "2024001,Li Hua,li.hua@example.edu,PHY,bachelor,Physics,2,3.45,4",
    "2024002,Wang Fang,wang.fang@example.edu,cs,master,,1,,",
)


def test_roster_creates_students_and_invites_them_once(app, units):
    plan = run(GOOD)
    assert (plan.created, plan.updated, plan.unchanged) == (2, 0, 0)
    li = db.session.scalar(sa.select(User).where(User.email_key == "li.hua@example.edu"))
    assert li.roles == {Role.STUDENT} and [u.code for u in li.units] == ["PHY"]
    p = li.profile
    assert (p.student_number, p.degree_level, p.programme, p.year_of_study) == (
        "2024001",
        DegreeLevel.BACHELOR,
        "Physics",
        2,
    )
    assert (p.gpa, p.gpa_scale) == (Decimal("3.45"), Decimal("4.00"))
    assert set(p.registrar_fields.split()) >= {"student_number", "unit", "degree_level", "gpa"}
    assert sorted(invitations()) == ["li.hua@example.edu", "wang.fang@example.edu"]

    again = run(GOOD)  # idempotent: nothing changes, nobody is invited twice
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert len(invitations()) == 2
    assert count(User) == 2


def test_roster_updates_matching_on_number_then_email(app, units):
    run(GOOD)
    existing = UserFactory(email="zhao@example.edu", roles=(Role.STUDENT,))
    plan = run(
        csv(
            "2024001,Li Hua,li.hua.new@example.edu,PHY,bachelor,Physics,3,3.60,4",
            "2024002,Wang Fang,wang.fang@example.edu,CS,master,,1,,",
            "2024003,Zhao Lei,ZHAO@example.edu,PHY,doctoral,,,,",
        )
    )
    assert (plan.created, plan.updated, plan.unchanged) == (0, 2, 1)
    li = db.session.scalar(
        sa.select(User).join(StudentProfile).where(StudentProfile.student_number == "2024001")
    )
    assert li.email == "li.hua.new@example.edu" and li.profile.gpa == Decimal("3.60")
    assert existing.profile.student_number == "2024003"
    assert existing.profile.degree_level is DegreeLevel.DOCTORAL
    assert len(invitations()) == 2  # the existing account is not invited again
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "profile.imported"))
    assert event is not None


def test_single_sign_on_sends_no_invitation(app, units):
    app.config["SINGLE_SIGN_ON"] = True
    try:
        run(GOOD)
    finally:
        app.config["SINGLE_SIGN_ON"] = False
    assert count(User) == 2 and invitations() == []


def test_chinese_headers_and_degree_levels_in_an_xlsx(app, units):
    content = xlsx(
        [
            ["学号", "姓名", "邮箱", "学院代码", "学历层次", "专业", "年级", "绩点", "绩点满分"],
            [2024101, "王芳", "wang@example.edu", "PHY", "本科", "物理学", 2, 88.5, 100],
            ["2024102", "李雷", "li@example.edu", "CS", "硕士", None, None, None, None],
            ["2024103", "韩梅", "han@example.edu", "CS", "博士", None, None, None, None],
        ]
    )
    plan = run(content, "名单.xlsx")
    assert plan.created == 3
    levels = dict(
        db.session.execute(
            sa.select(StudentProfile.student_number, StudentProfile.degree_level)
        ).all()
    )
    assert levels == {
        "2024101": DegreeLevel.BACHELOR,
        "2024102": DegreeLevel.MASTER,
        "2024103": DegreeLevel.DOCTORAL,
    }
    wang = db.session.scalar(sa.select(User).where(User.email_key == "wang@example.edu"))
    assert wang.profile.gpa == Decimal("88.50") and wang.profile.gpa_scale == Decimal("100.00")


def test_bad_input_gives_one_message_per_line_and_writes_nothing(app, units):
    UserFactory(email="office@example.edu", roles=(Role.COORDINATOR,))
    users_before = count(User)
    content = csv(
        "2024001,Li Hua,li@example.edu,PHY,bachelor,,,3.0,4",
        "2024001,Li Twin,twin@example.edu,PHY,bachelor,,,,",
        "2024003,Nobody,nobody@example.edu,XYZ,bachelor,,,,",
        "2024004,Too Good,good@example.edu,PHY,本科,,,4.5,4",
        "2024005,Staff,Office@example.edu,PHY,bachelor,,,,",
        '2024006,Evil,evil@example.edu,PHY,bachelor,"=HYPERLINK(""http://x"")",,,',
        "2024007,Funny,funny@example.edu,PHY,licence,,,,",
        "2024008,,,PHY,,,,,",
    )
    plan = roster.plan_roster(content, "roster.csv")
    by_line = {(p.line, p.field): p.message for p in plan.problems}
    assert "also on line 2" in by_line[(3, "student_number")]
    assert by_line[(4, "unit")] == "Unknown unit code “XYZ”."
    assert "above its scale" in by_line[(5, "gpa")]
    assert "staff account" in by_line[(6, "email")]
    assert "formula" in by_line[(7, "programme")]
    assert "not a degree level" in by_line[(8, "degree_level")]
    assert {(9, "name"), (9, "email")} <= set(by_line)
    assert not any(p.line == 2 for p in plan.problems)  # 本科 is fine; line 2 is fine
    with pytest.raises(DomainError):
        roster.apply_roster(plan, actor=None)
    db.session.rollback()
    assert count(User) == users_before and invitations() == []


def test_a_rows_problems_come_in_the_order_of_its_columns(app, units):
    content = csv(
        f"{'9' * 33},,not-an-address,XYZ,licence,,13,five,0",
        "2024002,Over,over@example.edu,PHY,,,,4.5,four",
    )
    plan = roster.plan_roster(content, "roster.csv")
    assert [(p.line, p.field) for p in plan.problems] == [
        (2, "student_number"),
        (2, "name"),
        (2, "email"),
        (2, "unit"),
        (2, "degree_level"),
        (2, "year_of_study"),
        (2, "gpa"),
        (2, "gpa_scale"),
        # An unreadable scale is not a scale to measure the GPA against.
        (3, "gpa_scale"),
    ]
    assert plan.items == []


def test_a_formula_in_an_xlsx_is_refused_not_run(app, units):
    content = xlsx(
        [
            ["student_number", "name", "email", "unit", "gpa"],
            ["2024001", "Li", "li@example.edu", "PHY", "=1+2"],
        ]
    )
    plan = roster.plan_roster(content, "roster.xlsx")
    assert [(p.line, p.field) for p in plan.problems] == [(2, "gpa")]
    assert "formula" in plan.problems[0].message


def test_missing_columns_and_unknown_files_are_reported(app, units):
    plan = roster.plan_roster(b"student_number,name,colour\n1,a,red\n", "roster.csv")
    messages = " ".join(p.message for p in plan.problems)
    assert "Unknown column “colour”" in messages and "“email” is missing" in messages
    plan = roster.plan_roster(b"PK\x03\x04 broken", "roster.xlsx")
    assert "not an Excel workbook" in plan.problems[0].message
    plan = roster.plan_roster(b"x", "roster.pdf")
    assert "Upload a .csv or an .xlsx file." in plan.problems[0].message


def test_a_50000_row_roster_with_one_bad_line_is_refused_quickly(app, units):
    lines = [
        f"{3000000 + i},Student {i},s{i}@example.edu,PHY,bachelor,,,3.1,4" for i in range(50000)
    ]
    lines[41234] = lines[41234].replace("PHY", "NOPE")
    started = time.perf_counter()
    plan = roster.plan_roster(csv(*lines), "big.csv")
    elapsed = time.perf_counter() - started
    assert [(p.line, p.field) for p in plan.problems] == [(41236, "unit")]
    assert plan.total == 50000 and plan.created == 49999
    assert elapsed < 60
    with pytest.raises(DomainError):
        roster.apply_roster(plan, actor=None)
    assert count(User) == 0


def test_students_missing_from_a_new_roster_are_reported_and_may_be_deactivated(app, units):
    run(GOOD)
    plan = roster.plan_roster(
        csv("2024001,Li Hua,li.hua@example.edu,PHY,bachelor,Physics,2,3.45,4"), "r.csv"
    )
    assert [m.student_number for m in plan.missing] == ["2024002"]
    roster.apply_roster(plan, actor=None)
    db.session.commit()
    wang = db.session.scalar(sa.select(User).where(User.email_key == "wang.fang@example.edu"))
    assert wang.active  # reported, never deleted nor deactivated unless asked
    plan = run(
        csv("2024001,Li Hua,li.hua@example.edu,PHY,bachelor,Physics,2,3.45,4"),
        deactivate_missing=True,
    )
    assert plan.deactivated == 1
    db.session.refresh(wang)
    assert not wang.active and count(User) == 2


# --- the web pages and the command line -----------------------------------------------------


def token(client, url):
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    return match.group(1) or match.group(2)


def test_admin_previews_then_confirms_the_roster_on_the_web(app, units):
    me = admin()
    client = client_for(app, me)
    url = "/students/import/roster"
    bad = csv("2024001,Li Hua,li.hua@example.edu,MATH,bachelor,,,,")
    resp = client.post(
        url, data={"file": (io.BytesIO(bad), "r.csv"), "csrf_token": token(client, url)}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Unknown unit code “MATH”." in html
    assert 'data-testid="confirm-form"' not in html
    resp = client.post(
        url, data={"file": (io.BytesIO(GOOD), "r.csv"), "csrf_token": token(client, url)}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "2 to create" in html and count(User) == 1  # only me
    confirm_token = CSRF_RE.findall(html)
    upload_token = html.split('name="token" type="hidden" value="')[1].split('"')[0]
    resp = client.post(
        f"{url}/confirm",
        data={
            "token": upload_token,
            "kind": "roster",
            "csrf_token": confirm_token[-1][0] or confirm_token[-1][1],
        },
    )
    assert resp.status_code == 302
    assert count(User) == 3 and len(invitations()) == 2
    assert "Imported: 2 created" in client.get(url).get_data(as_text=True)
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "students.roster_imported")
    )
    assert event.actor_id == me.id and event.details["created"] == 2
    # The same preview cannot be confirmed twice.
    resp = client.post(
        f"{url}/confirm",
        data={"token": upload_token, "kind": "roster", "csrf_token": token(client, url)},
        follow_redirects=True,
    )
    assert "expired" in resp.get_data(as_text=True) and count(User) == 3


def test_only_admins_import_and_templates_download(app, units):
    assert client_for(app, coordinator()).get("/students/import/roster").status_code == 403
    client = client_for(app, admin())
    resp = client.get("/students/import/roster/template.csv")
    assert resp.status_code == 200 and resp.get_data(as_text=True).lstrip("\ufeff").startswith(
        "student_number,name,email,unit"
    )
    resp = client.get("/students/import/roster/template.xlsx")
    assert resp.status_code == 200 and resp.data.startswith(b"PK")
    # The templates import as they are (their units exist).
    plan = roster.plan_roster(resp.data, "template.xlsx")
    assert not plan.problems and plan.created == 2


def test_cli_dry_run_writes_nothing_then_imports(app, units, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(GOOD)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["students", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 to create" in result.output and "dry run" in result.output
    assert count(User) == 0
    result = runner.invoke(args=["students", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported: 2 created" in result.output and count(User) == 2
    path.write_bytes(csv("2024009,X,x@example.edu,NOPE,,,,,"))
    result = runner.invoke(args=["students", "import", str(path)])
    assert result.exit_code == 1 and "line 2, unit: Unknown unit code" in result.output


# --- a student created only by the roster applies ---------------------------------------------


def test_roster_only_student_applies_where_they_fit_and_is_told_why_not_elsewhere(app, units):
    run(csv("2024001,Li Hua,li.hua@example.edu,PHY,bachelor,Physics,2,3.45,4"))
    user = db.session.scalar(sa.select(User).where(User.email_key == "li.hua@example.edu"))
    client = accept_invitation(app, user)
    call = CallFactory(required_documents="")
    fits = OfferingFactory(
        call=call,
        agreement=AgreementFactory(partner=PartnerFactory(name="Fits U"), min_gpa=Decimal("3.0")),
    )
    masters = OfferingFactory(
        call=call,
        agreement=AgreementFactory(
            partner=PartnerFactory(name="Masters U"), bachelor=False, master=True
        ),
    )
    application, _ = app_ops.start_application(call, user)
    with pytest.raises(DomainError, match="Open to master students; you are a bachelor student."):
        app_ops.set_choices(application, [masters.id], actor=user)
    app_ops.set_choices(application, [fits.id], actor=user)
    app_ops.save_details(application, app_ops.Details("Let me go.", "3.45", "4", []), actor=user)
    app_ops.submit_application(application, actor=user)
    db.session.commit()
    assert application.status.value == "submitted"
    assert "Fits U" in client.get(f"/applications/{application.id}").get_data(as_text=True)
