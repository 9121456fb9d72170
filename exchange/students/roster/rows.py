"""The roster's columns, and the check of one row, column by column."""

from decimal import Decimal

from flask_babel import gettext as _

from ...core.validation import DEFAULT_GPA_SCALE, parse_decimal
from ..profiles import REGISTRAR_FIELDS, parse_degree

ALIASES = {
    "student_number": "student_number",
    "学号": "student_number",
    "name": "name",
    "姓名": "name",
    "email": "email",
    "e_mail": "email",
    "邮箱": "email",
    "电子邮箱": "email",
    "unit": "unit",
    "unit_code": "unit",
    "学院代码": "unit",
    "degree_level": "degree_level",
    "学历层次": "degree_level",
    "programme": "programme",
    "program": "programme",
    "专业": "programme",
    "year_of_study": "year_of_study",
    "年级": "year_of_study",
    "gpa": "gpa",
    "绩点": "gpa",
    "gpa_scale": "gpa_scale",
    "绩点满分": "gpa_scale",
}
COLUMNS = (
    "student_number",
    "name",
    "email",
    "unit",
    "degree_level",
    "programme",
    "year_of_study",
    "gpa",
    "gpa_scale",
)
REQUIRED = ("student_number", "name", "email", "unit")
OPTIONAL = tuple(name for name in REGISTRAR_FIELDS if name not in REQUIRED)


def check_row(line, row, units, plan):
    """The row's values, or None when it has a problem; each problem is added to the plan,
    column by column in the order of the template. Of the optional columns, only those the
    row fills in are set (and listed in values["given"])."""
    text = {name: row.get(name, "").strip() for name in COLUMNS}
    problems: list = []
    given = {name for name in OPTIONAL if text[name]}
    values = {
        "student_number": _student_number(text, problems),
        "name": _required(text, "name", problems)[:200],
        "email": _email(text, problems),
        "unit": _unit(text, units, problems),
        "given": given | {"student_number", "unit"},
    }
    if "degree_level" in given:
        values["degree_level"] = _degree_level(text, problems)
    if "programme" in given:
        values["programme"] = text["programme"][:200]
    if "year_of_study" in given:
        values["year_of_study"] = _year_of_study(text, problems)
    values.update(_gpa_and_scale(text, given, problems))
    plan.report(line, problems)
    return None if problems else values


def _required(text, name, problems):
    if not text[name]:
        problems.append((name, _("The %(name)s is empty.", name=name)))
    return text[name]


def _student_number(text, problems):
    number = _required(text, "student_number", problems)
    if len(number) > 32:
        problems.append(("student_number", _("The student number is longer than 32 characters.")))
    return number


def _email(text, problems):
    email = _required(text, "email", problems)
    if email and ("@" not in email or len(email) > 254 or " " in email):
        problems.append(("email", _("“%(value)s” is not an e-mail address.", value=email[:60])))
    return email


def _unit(text, units, problems):
    code = _required(text, "unit", problems).upper()
    if code and code not in units:
        problems.append(("unit", _("Unknown unit code “%(code)s”.", code=code[:32])))
    return code


def _degree_level(text, problems):
    level = parse_degree(text["degree_level"])
    if level is None:
        problems.append(
            (
                "degree_level",
                _(
                    "“%(value)s” is not a degree level (bachelor, master, doctoral or "
                    "本科, 硕士, 博士).",
                    value=text["degree_level"][:32],
                ),
            )
        )
    return level


def _year_of_study(text, problems):
    year = text["year_of_study"]
    if not (year.isdigit() and 1 <= int(year) <= 12):
        problems.append(("year_of_study", _("The year of study is a number from 1 to 12.")))
        return None
    return int(year)


def _gpa_and_scale(text, given, problems):
    """{"gpa", "gpa_scale"} when the row gives a GPA (the scale defaults to 4.00). The GPA's
    problems come before its scale's, as the columns do."""
    scale_problems: list = []
    scale = _scale(text, scale_problems) if "gpa_scale" in given else DEFAULT_GPA_SCALE
    if "gpa" not in given:
        problems.extend(scale_problems)
        return {}
    gpa = _gpa(text, None if scale_problems else scale, problems)
    problems.extend(scale_problems)
    return {"gpa": gpa, "gpa_scale": scale}


def _scale(text, problems):
    try:
        scale = parse_decimal(text["gpa_scale"])
    except ValueError:
        problems.append(
            (
                "gpa_scale",
                _("The GPA scale “%(value)s” is not a number.", value=text["gpa_scale"][:20]),
            )
        )
        return None
    if not Decimal("0") < scale <= Decimal("100"):
        problems.append(("gpa_scale", _("The GPA scale must be between 0 and 100.")))
    return scale


def _gpa(text, scale, problems):
    """The GPA, checked against its scale when the scale is a possible one."""
    try:
        gpa = parse_decimal(text["gpa"])
    except ValueError:
        problems.append(("gpa", _("The GPA “%(value)s” is not a number.", value=text["gpa"][:20])))
        return None
    if gpa < 0:
        problems.append(("gpa", _("The GPA cannot be negative.")))
    elif scale is not None and gpa > scale:
        problems.append(
            (
                "gpa",
                _(
                    "The GPA %(gpa)s is above its scale %(scale)s.",
                    gpa=f"{gpa:f}",
                    scale=f"{scale:f}",
                ),
            )
        )
    return gpa
