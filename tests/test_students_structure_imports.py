"""Imports of units and agreements: preview, all-or-nothing, idempotent, templates."""

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from exchange.accounts.models import Unit, UnitKind
from exchange.catalogue.models import CEFR, Agreement, AgreementType
from exchange.core.errors import DomainError
from exchange.extensions import db
from exchange.students import structure_imports as structure

from .conftest import CSRF_RE, client_for
from .factories import PartnerFactory, UnitFactory, admin, coordinator


def table(header, *lines):
    return ("\n".join([header, *lines]) + "\n").encode()


def run(plan_fn, apply_fn, content, actor=None):
    plan = plan_fn(content, "file.csv")
    apply_fn(plan, actor=actor)
    db.session.commit()
    return plan


UNITS = table(
    "code,name,name_native,kind,parent,student_count",
    "QLAB,Quantum Laboratory,量子重点实验室,重点实验室,PHY,",
    "PHY,School of Physics,物理学院,school,,1200",
)


def test_units_import_with_parents_is_idempotent():
    plan = run(structure.plan_units, structure.apply_units, UNITS)
    assert (plan.created, plan.updated) == (2, 0)
    units = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    assert units["QLAB"].kind is UnitKind.KEY_LABORATORY
    assert units["QLAB"].parent_id == units["PHY"].id  # the parent came later in the file
    assert units["PHY"].student_count == 1200 and units["PHY"].name_native == "物理学院"
    again = run(structure.plan_units, structure.apply_units, UNITS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    renamed = run(
        structure.plan_units,
        structure.apply_units,
        table("code,name,kind", "PHY,Physics School,school"),
    )
    assert renamed.updated == 1 and units["PHY"].name == "Physics School"
    assert units["PHY"].student_count == 1200  # a column the file lacks is kept


def test_bad_units_write_nothing():
    UnitFactory(code="OLD")
    plan = structure.plan_units(
        table(
            "code,name,kind,parent",
            "A,Alpha,school,",
            "A,Alpha again,school,",
            "B,Beta,castle,",
            "C,Gamma,school,NOPE",
            "D,Delta,school,=cmd()",
        ),
        "units.csv",
    )
    found = {(p.line, p.field) for p in plan.problems}
    assert found == {(3, "code"), (4, "kind"), (5, "parent"), (6, "parent")}
    with pytest.raises(DomainError):
        structure.apply_units(plan, actor=None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 1


AGREEMENTS_HEADER = (
    "code,partner_hei_id,partner_name,partner_country,type,first_year,last_year,places,months,"
    "levels,subject_areas,language,language_level,min_gpa,min_gpa_scale,units,status"
)


def test_agreements_import_creates_then_updates_then_leaves_alone():
    PartnerFactory(hei_id="tum.de", name="TU Munich")
    PartnerFactory(hei_id=None, name="Université Exemple", country="FR")
    UnitFactory(code="PHY")
    content = table(
        AGREEMENTS_HEADER,
        "IIA-1,TUM.de,,,bilateral,2026,2030,2,5,bachelor master,0533,en,B2,3.0,4,,active",
        ",,université exemple,FR,summer_school,2026,2027,5,1,本科 硕士,,,,,,PHY,active",
    )
    plan = run(structure.plan_agreements, structure.apply_agreements, content)
    assert plan.created == 2, plan.problems
    tum = db.session.scalar(sa.select(Agreement).where(Agreement.code == "IIA-1"))
    assert (tum.type, tum.places_per_year, tum.language_level) == (
        AgreementType.BILATERAL,
        2,
        CEFR.B2,
    )
    assert tum.min_gpa == Decimal("3.00") and tum.all_units and not tum.doctoral
    summer = db.session.scalar(
        sa.select(Agreement).where(Agreement.type == AgreementType.SUMMER_SCHOOL)
    )
    assert [u.code for u in summer.units] == ["PHY"] and summer.bachelor and summer.master
    again = run(structure.plan_agreements, structure.apply_agreements, content)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = run(
        structure.plan_agreements,
        structure.apply_agreements,
        table(
            AGREEMENTS_HEADER,
            "IIA-1,tum.de,,,bilateral,2026,2030,4,5,bachelor master,0533,en,B2,3.0,4,,active",
        ),
    )
    assert changed.updated == 1 and tum.places_per_year == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agreement)) == 2


def test_bad_agreements_are_reported_per_line_and_write_nothing():
    PartnerFactory(hei_id="tum.de")
    plan = structure.plan_agreements(
        table(
            AGREEMENTS_HEADER,
            ",nowhere.edu,,,bilateral,2026,2030,2,5,,,,,,,,",
            ",tum.de,,,bilateral,2030,2026,2,5,,,,,,,,",
            ",tum.de,,,bilateral,2026,2030,2,5,licence,,,,,,,",
            ",tum.de,,,bilateral,2026,2030,2,5,,,en,B2,4.5,4,XYZ,",
        ),
        "agreements.csv",
    )
    found = {(p.line, p.field) for p in plan.problems}
    assert {
        (2, "partner_hei_id"),
        (3, "last_year"),
        (4, "levels"),
        (5, "min_gpa"),
        (5, "units"),
    } <= found
    with pytest.raises(DomainError):
        structure.apply_agreements(plan, actor=None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agreement)) == 0


def test_each_rows_problems_come_in_the_order_of_its_columns():
    UnitFactory(code="OLD")
    plan = structure.plan_units(
        table(
            "code,name,kind,parent,student_count",
            f"{'X' * 33},,castle,NOPE,many",
        ),
        "units.csv",
    )
    assert [p.field for p in plan.problems] == ["code", "name", "kind", "parent", "student_count"]
    PartnerFactory(hei_id="tum.de")
    plan = structure.plan_agreements(
        table(
            AGREEMENTS_HEADER,
            ",nowhere.edu,,,nonsense,2030,2026,-1,61,licence,0000x,xx-not,Z9,5,4,XYZ,expired",
        ),
        "agreements.csv",
    )
    assert [p.field for p in plan.problems] == [
        "partner_hei_id",
        "type",
        "last_year",
        "places",
        "months",
        "levels",
        "subject_areas",
        "language",
        "language_level",
        "min_gpa",
        "units",
        "status",
    ]


@pytest.mark.parametrize("kind", ["units", "agreements"])
def test_import_pages_offer_templates_and_preview(app, kind):
    assert client_for(app, coordinator()).get(f"/students/import/{kind}").status_code == 403
    client = client_for(app, admin())
    page = client.get(f"/students/import/{kind}").get_data(as_text=True)
    assert f"/students/import/{kind}/template.csv" in page
    assert f"/students/import/{kind}/template.xlsx" in page
    csv_template = client.get(f"/students/import/{kind}/template.csv")
    assert csv_template.status_code == 200
    xlsx_template = client.get(f"/students/import/{kind}/template.xlsx")
    assert xlsx_template.data.startswith(b"PK")
    token = CSRF_RE.search(page)
    resp = client.post(
        f"/students/import/{kind}",
        data={
            "file": (io.BytesIO(csv_template.data), "template.csv"),
            "csrf_token": token.group(1) or token.group(2),
        },
    )
    html = resp.get_data(as_text=True)
    assert 'data-testid="preview"' in html  # the template's partners and units may not exist
