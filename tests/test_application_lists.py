"""The international office's list of a call's applications: filters, sorting, pages, counts
per status, CSV/XLSX export, who may see it, and a fixed number of statements per page."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from exchange.applications.lists import ApplicationFilters, counts_statement
from exchange.applications.models import Application, ApplicationStatus, Document
from exchange.calls.models import DocumentKind
from exchange.core.audit import AuditEvent
from exchange.extensions import db

from .conftest import login
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    admin,
    advisor,
    coordinator,
    student,
)
from .statements import StatementCounter

S = ApplicationStatus
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def staff(app):
    user = coordinator(timezone="Asia/Shanghai")
    client = app.test_client()
    login(client, user.email)
    client.user = user
    return client


@pytest.fixture
def call_data():
    """Four applications to one call (one a draft) and one to another call."""
    cs, law = UnitFactory(code="CS"), UnitFactory(code="LAW")
    call = CallFactory(title="Exchange 2027/28")
    offer = {
        name: OfferingFactory(
            call=call, agreement=AgreementFactory(partner=PartnerFactory(name=name), code=code)
        )
        for name, code in [("Alpha U", "IIA-A"), ("Beta U", "IIA-B"), ("Gamma U", None)]
    }

    def apply(name, unit, status, choices, gpa, minutes, **kw):
        return ApplicationFactory(
            call=call,
            student=student(unit, name=name, email=f"{name.split()[0].lower()}@example.edu"),
            status=status,
            choices=[offer[c] for c in choices],
            gpa=Decimal(gpa),
            submitted_at=None if status is S.DRAFT else T0 + timedelta(minutes=minutes),
            **kw,
        )

    apps = {
        "ann": apply("Ann Archer", cs, S.SUBMITTED, ["Alpha U", "Beta U"], "3.80", 10),
        "bob": apply("Bob Baker", law, S.IN_REVIEW, ["Beta U", "Alpha U"], "3.10", 30),
        "cyd": apply("Cyd Cole", cs, S.APPROVED, ["Gamma U"], "3.50", 20),
        "dan": apply("Dan Draft", law, S.DRAFT, ["Alpha U"], "2.90", 0),
    }
    ApplicationFactory(
        call=CallFactory(),
        student=student(cs, name="Eve Elsewhere"),
        status=S.SUBMITTED,
        choices=[OfferingFactory()],
    )
    db.session.add_all(
        Document(
            application_id=apps["ann"].id,
            kind=DocumentKind.TRANSCRIPT,
            original_name=f"t{i}.pdf",
            stored_name=f"stored-{apps['ann'].id}-{i}",
            content_type="application/pdf",
            size=10,
            sha256="0" * 64,
            uploaded_by_id=apps["ann"].student_id,
        )
        for i in range(2)
    )
    db.session.commit()
    return {"call": call, "offer": offer, "apps": apps, "units": {"cs": cs, "law": law}}


def url(call, suffix="", **args):
    query = "&".join(
        f"{k}={v}" for k, vs in args.items() for v in (vs if isinstance(vs, list) else [vs])
    )
    return f"/calls/{call.id}/applications{suffix}" + (f"?{query}" if query else "")


def names(html):
    return re.findall(r'<a class="fw-semibold" href="/applications/\d+">([^<]+)</a>', html)


def page(client, call, **args):
    resp = client.get(url(call, **args))
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_what_the_office_needs_and_hides_drafts(staff, call_data):
    call, apps = call_data["call"], call_data["apps"]
    html = page(staff, call)
    assert names(html) == ["Bob Baker", "Cyd Cole", "Ann Archer"]  # latest submitted first
    assert "Dan Draft" not in html and "Eve Elsewhere" not in html
    ann = apps["ann"]
    row = re.search(rf'data-id="{ann.id}">(.*?)</tr>', html, re.S).group(1)
    assert f'href="/applications/{ann.id}"' in row
    assert "ann@example.edu" in row and ann.student.profile.student_number in row
    assert ">CS<" in row and "Submitted" in row and "3.80/4" in row
    # ranked choices, in rank order, each with its agreement's terms
    assert re.search(r"<li>Alpha U <span[^>]*>· Bilateral[^<]*</span></li><li>Beta U ", row)
    assert re.search(r'<td class="text-end pe-3">2</td>', row)  # two documents
    # 12:10 UTC in the coordinator's time zone (Asia/Shanghai).
    assert "Mon, Mar 1, 2027 20:10" in row  # one date format per language
    bob_row = re.search(rf'data-id="{apps["bob"].id}">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r"<li>Beta U <span[^>]*>[^<]*</span></li><li>Alpha U ", bob_row)


def test_counts_per_status_are_shown_above_the_table(staff, call_data):
    html = page(staff, call_data["call"])
    counts = re.search(r'data-testid="status-counts">(.*?)</nav>', html, re.S).group(1)
    found = dict(
        re.findall(r'data-status="(\w+)">\s*[^<]+<span class="badge[^"]*">(\d+)</span>', counts)
    )
    assert found == {"draft": "1", "submitted": "1", "in_review": "1", "approved": "1"}
    assert re.search(r"All but drafts <span[^>]*>3</span>", counts)
    # Counts follow the other filters.
    unit = call_data["units"]["law"].id
    counts = re.search(
        r'data-testid="status-counts">(.*?)</nav>', page(staff, call_data["call"], unit=unit), re.S
    ).group(1)
    assert re.findall(r'data-status="(\w+)"', counts) == ["draft", "in_review"]


def test_counts_and_filter_options_follow_changes_at_once(staff, call_data):
    call = call_data["call"]
    page(staff, call)
    bob = call_data["apps"]["bob"]
    bob.status = S.APPROVED
    db.session.commit()
    html = page(staff, call)
    assert 'data-status="in_review"' not in html
    assert re.search(r'data-status="approved">\s*[^<]+<span[^>]*>2</span>', html)
    delta = OfferingFactory(
        call=call, agreement=AgreementFactory(partner=PartnerFactory(name="Delta U"))
    )
    terms = "Bilateral student exchange · 5 months · 2 places"  # an offering's own terms
    assert f'<option value="{delta.id}">Delta U · {terms}</option>' in page(staff, call)
    delta.agreement.partner.name = "Delta University"
    db.session.commit()
    html = page(staff, call)
    assert f'<option value="{delta.id}">Delta University · {terms}</option>' in html
    assert f'<option value="{delta.agreement.partner_id}">Delta University</option>' in html
    html = page(staff, call, partner=delta.agreement.partner_id)
    assert names(html) == []
    assert f'<option value="{delta.agreement.partner_id}" selected>' in html


def test_status_filter_takes_several_statuses_and_drafts_only_when_asked(staff, call_data):
    call = call_data["call"]
    assert names(page(staff, call, status=["submitted", "approved"])) == ["Cyd Cole", "Ann Archer"]
    assert names(page(staff, call, status="draft")) == ["Dan Draft"]
    assert names(page(staff, call, status=["draft", "in_review"])) == ["Dan Draft", "Bob Baker"]
    assert names(page(staff, call, status="nonsense")) == ["Bob Baker", "Cyd Cole", "Ann Archer"]


def test_unit_choice_partner_and_text_filters(staff, call_data):
    call, offer = call_data["call"], call_data["offer"]
    assert names(page(staff, call, unit=call_data["units"]["cs"].id)) == ["Cyd Cole", "Ann Archer"]
    alpha = offer["Alpha U"].id
    assert names(page(staff, call, choice=alpha)) == ["Bob Baker", "Ann Archer"]
    assert names(page(staff, call, choice=alpha, first=1)) == ["Ann Archer"]
    partner = offer["Beta U"].agreement.partner_id
    assert names(page(staff, call, partner=partner)) == ["Bob Baker", "Ann Archer"]
    assert names(page(staff, call, partner=partner, first=1)) == ["Bob Baker"]
    assert names(page(staff, call, q="baker")) == ["Bob Baker"]
    assert names(page(staff, call, q="CYD@EXAMPLE")) == ["Cyd Cole"]
    number = call_data["apps"]["ann"].student.profile.student_number
    assert names(page(staff, call, q=number)) == ["Ann Archer"]
    assert names(page(staff, call, q="100%")) == []  # % is a character, not a wildcard
    assert names(page(staff, call, q="ann", unit=call_data["units"]["law"].id)) == []


def test_sorting(staff, call_data):
    call = call_data["call"]
    assert names(page(staff, call, dir="asc")) == ["Ann Archer", "Cyd Cole", "Bob Baker"]
    assert names(page(staff, call, sort="name")) == ["Ann Archer", "Bob Baker", "Cyd Cole"]
    assert names(page(staff, call, sort="name", dir="desc")) == [
        "Cyd Cole",
        "Bob Baker",
        "Ann Archer",
    ]
    assert names(page(staff, call, sort="gpa")) == ["Ann Archer", "Cyd Cole", "Bob Baker"]
    # Status in life-cycle order: submitted, in review, ..., approved.
    assert names(page(staff, call, sort="status")) == ["Ann Archer", "Bob Baker", "Cyd Cole"]
    # The heading of the current sort turns the direction round and keeps the filters.
    html = page(staff, call, sort="name", unit=call_data["units"]["cs"].id)
    heading = re.search(r'aria-sort="ascending">\s*<a [^>]*href="([^"]+)"', html).group(1)
    assert "sort=name" in heading and "dir=desc" in heading and "unit=" in heading


def test_gpa_sort_compares_across_scales(staff, call_data):
    call = call_data["call"]
    ApplicationFactory(
        call=call,
        student=student(name="Zoe Hundred"),
        status=S.SUBMITTED,
        gpa=Decimal("90"),
        gpa_scale=Decimal("100"),
    )
    assert names(page(staff, call, sort="gpa"))[:2] == ["Ann Archer", "Zoe Hundred"]
    assert "90.00/100" in page(staff, call, sort="gpa")


def make_applications(call, n, status=S.SUBMITTED, unit=None):
    offering = OfferingFactory(call=call)
    other = OfferingFactory(call=call)
    for i in range(n):
        ApplicationFactory(
            call=call,
            student=student(unit, name=f"Student {i:03d}"),
            status=status,
            choices=[offering, other],
            submitted_at=T0 + timedelta(minutes=i),
        )


def test_pages_of_fifty_keep_the_filters(staff):
    call = CallFactory()
    make_applications(call, 55, status=S.IN_REVIEW)
    make_applications(call, 3, status=S.APPROVED)
    html = page(staff, call, status=["in_review", "approved"], sort="name")
    assert len(names(html)) == 50 and "58 applications" in html
    link = (
        re.search(r'<a class="page-link" href="([^"]+)">2</a>', html).group(1).replace("&amp;", "&")
    )
    assert "status=in_review" in link and "status=approved" in link and "sort=name" in link
    second = staff.get(link).get_data(as_text=True)
    # Page 1 holds 000-002 twice (both statuses) and 003-046.
    assert names(second) == [f"Student {i:03d}" for i in range(47, 55)]
    # A page past the end shows the last one.
    assert names(page(staff, call, status=["in_review", "approved"], sort="name", page=9)) == (
        names(second)
    )


def test_empty_list_says_which_filter_to_change(staff, call_data):
    call = call_data["call"]
    html = page(staff, call, q="nobody", unit=call_data["units"]["cs"].id)
    assert "No application matches these filters" in html
    relax = re.search(r'data-testid="relax-filters">(.*?)</div>', html, re.S).group(1)
    assert "Remove the search “nobody”" in relax and "Any unit" in relax
    html = page(staff, call, status="rejected")
    relax = re.search(r'data-testid="relax-filters">(.*?)</div>', html, re.S).group(1)
    assert "Any status" in relax and "In review instead (1)" in relax

    empty = CallFactory()
    assert "No application to this call yet" in page(staff, empty)
    ApplicationFactory(call=empty, status=S.DRAFT)
    html = page(staff, empty)
    assert "1 student has a draft that is not submitted" in html
    assert f"/calls/{empty.id}/applications?status=draft" in html


def test_unknown_call_is_404(staff):
    assert staff.get("/calls/999999/applications").status_code == 404
    assert staff.get("/calls/999999/applications/export.csv").status_code == 404


# --- who may see it ----------------------------------------------------------------------------

ENDPOINTS = ["", "/export.csv", "/export.xlsx"]


def test_students_and_advisors_are_refused(app, call_data):
    call = call_data["call"]
    for user in (call_data["apps"]["ann"].student, advisor(call_data["units"]["cs"])):
        client = app.test_client()
        login(client, user.email)
        for suffix in ENDPOINTS:
            assert client.get(url(call, suffix)).status_code == 403, (user, suffix)


def test_anonymous_users_are_sent_to_login(client, call_data):
    for suffix in ENDPOINTS:
        resp = client.get(url(call_data["call"], suffix))
        assert resp.status_code == 302
        assert resp.headers["Location"].startswith("/login?next=")


def test_admins_may_see_the_list(app, call_data):
    client = app.test_client()
    login(client, admin().email)
    assert names(page(client, call_data["call"])) == ["Bob Baker", "Cyd Cole", "Ann Archer"]


# --- export ------------------------------------------------------------------------------------

HEADER = [
    "application_id",
    "student_name",
    "email",
    "student_number",
    "unit",
    "status",
    "gpa",
    "gpa_scale",
    "submitted_at",
    "documents",
    "choice_1",
    "choice_2",
    "choice_3",
]


def read_csv(resp):
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def read_xlsx(resp):
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_csv_export_has_one_row_per_application_with_choice_columns(staff, call_data):
    call, apps = call_data["call"], call_data["apps"]
    resp = staff.get(url(call, "/export.csv"))
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = read_csv(resp)
    assert rows[0] == HEADER
    assert [r[1] for r in rows[1:]] == ["Bob Baker", "Cyd Cole", "Ann Archer"]
    ann = rows[3]
    assert ann[0] == str(apps["ann"].id)
    assert ann[2:10] == [
        "ann@example.edu",
        apps["ann"].student.profile.student_number,
        "CS",
        "submitted",
        "3.80",
        "4.00",
        "2027-03-01T20:10+08:00",  # the coordinator's time zone
        "2",
    ]
    assert ann[10:] == ["Alpha U (IIA-A)", "Beta U (IIA-B)", ""]
    assert rows[2][10:] == ["Gamma U", "", ""]


def test_exports_follow_the_filters_and_sort(staff, call_data):
    call = call_data["call"]
    rows = read_csv(staff.get(url(call, "/export.csv", status=["draft", "approved"], sort="name")))
    assert [r[1] for r in rows[1:]] == ["Cyd Cole", "Dan Draft"]
    assert rows[2][8] == ""  # a draft has not been submitted
    rows = read_xlsx(staff.get(url(call, "/export.xlsx", unit=call_data["units"]["cs"].id)))
    assert [r[1] for r in rows[1:]] == ["Cyd Cole", "Ann Archer"]


def test_xlsx_export_reads_back(staff, call_data):
    call, apps = call_data["call"], call_data["apps"]
    rows = read_xlsx(staff.get(url(call, "/export.xlsx")))
    assert rows[0] == HEADER
    ann = rows[3]
    assert ann[0] == apps["ann"].id and ann[1] == "Ann Archer"
    assert ann[6] == pytest.approx(3.8) and ann[9] == 2
    assert ann[8] == datetime(2027, 3, 1, 20, 10)  # local time of the coordinator
    assert ann[10:12] == ["Alpha U (IIA-A)", "Beta U (IIA-B)"] and ann[12] in ("", None)


def test_exports_neutralise_formulas(staff, call_data):
    call = call_data["call"]
    evil = PartnerFactory(name='=HYPERLINK("http://evil","x")')
    ApplicationFactory(
        call=call,
        student=student(name="+cmd|' /C calc'!A0", email="@sum@example.edu"),
        status=S.SUBMITTED,
        choices=[OfferingFactory(call=call, agreement=AgreementFactory(partner=evil, code="-1"))],
    )
    rows = read_csv(staff.get(url(call, "/export.csv", q="cmd")))
    assert rows[1][1] == "'+cmd|' /C calc'!A0" and rows[1][2] == "'@sum@example.edu"
    assert rows[1][10] == '\'=HYPERLINK("http://evil","x") (-1)'
    book = load_workbook(io.BytesIO(staff.get(url(call, "/export.xlsx", q="cmd")).get_data()))
    cells = list(book.active.iter_rows(min_row=2, values_only=False))[0]
    assert cells[1].value == "'+cmd|' /C calc'!A0" and cells[1].data_type == "s"
    assert cells[10].value.startswith("'=") and cells[10].data_type == "s"


def test_exports_are_recorded_in_the_audit_trail(staff, call_data):
    call = call_data["call"]
    staff.get(url(call, "/export.csv", status="approved")).get_data()
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "call.applications_exported")
    )
    assert event.object_id == str(call.id) and event.actor_id == staff.user.id
    assert event.details == {"format": "csv", "filters": {"status": ["approved"]}}


# --- statements ----------------------------------------------------------------------------------


def count_statements(client, path):
    client.get(path)  # warm-up: first-time loads
    with StatementCounter(db.engine) as counter:
        resp = client.get(path)
    assert resp.status_code == 200
    return counter.count


def test_a_page_takes_the_same_number_of_statements_with_5_and_60_applications(staff):
    call = CallFactory()
    unit = UnitFactory()
    paths = [
        url(call),
        url(call, status=["submitted", "in_review"], sort="gpa"),
        url(call, unit=unit.id, q="student", sort="name", dir="desc"),
        url(call, page=2),
    ]
    make_applications(call, 5, unit=unit)
    few = {path: count_statements(staff, path) for path in paths}
    make_applications(call, 55, unit=unit)
    partner = (
        db.session.scalar(sa.select(Application).where(Application.call_id == call.id))
        .choices[0]
        .offering.agreement.partner_id
    )
    many = {path: count_statements(staff, path) for path in paths}
    assert many == few
    assert max(many.values()) <= 6
    assert count_statements(staff, url(call, partner=partner)) == few[url(call)]


def test_the_streamed_xlsx_writer_reads_back_in_openpyxl():
    from datetime import date

    from exchange.core.spreadsheets import xlsx_chunks

    header = [f"h{i}" for i in range(28)]  # columns past Z: AA, AB
    row = ["  spaced  ", "王芳 <b>&amp;</b>", "bell\x07", "x" * 40000, True, 3, Decimal("3.40")]
    row += [datetime(2027, 3, 1, 20, 10, tzinfo=UTC), date(2027, 3, 2), None, ""] + ["z"] * 17
    data = b"".join(xlsx_chunks("Bad/Name:[x]*?", header, [row]))
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet.title == "Bad Name  x"
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == header and sheet["A1"].font.b
    got = values[1]
    assert got[0] == "  spaced  " and got[1] == "王芳 <b>&amp;</b>" and got[2] == "bell"
    assert len(got[3]) == 32767 and got[4] is True and got[5] == 3 and got[6] == 3.4
    assert got[7] == datetime(2027, 3, 1, 20, 10) and got[8] == datetime(2027, 3, 2)
    assert got[9] is None and got[10] is None and got[27] == "z"


def test_the_counts_per_status_read_only_the_index_of_call_and_status(app, call_data):
    """Every page of the office's list counts the call's applications per status: unfiltered,
    from the index of (call, status) alone, never the table (issue 14: an index-only count,
    chosen over a table of counts that every transition would have to keep)."""
    call = call_data["call"]
    statement = counts_statement(call.id, ApplicationFilters())
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        # A few rows, never vacuumed: the planner's choice among paths is a coin toss here, so
        # leave it only paths that never read the table; one must answer from an index alone.
        for scan in ("seqscan", "bitmapscan", "indexscan"):
            db.session.execute(sa.text(f"SET LOCAL enable_{scan} = off"))
        plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN {sql}")))
        assert "Index Only Scan using ix_applications_call_status" in plan, plan
    else:
        plan = "\n".join(
            row[-1] for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))
        )
        assert "USING COVERING INDEX ix_applications_call_status" in plan, plan
    counts = dict(db.session.execute(statement).all())
    assert counts == dict(
        db.session.execute(
            sa.select(Application.status, sa.func.count())
            .where(Application.call_id == call.id)
            .group_by(Application.status)
        ).all()
    )
    assert sum(counts.values()) == 4
