"""The partner file formats: the documented CSV columns, reading CSV (UTF-8 with or without
BOM, comma or semicolon) and the JSON of world_universities.json into rows with line numbers,
and writing the catalogue as CSV or XLSX."""

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..extensions import db
from . import reference
from .academic import current_academic_year
from .models import Agreement, Partner
from .operations import partner_state
from .queries import agreement_clause, search_partners
from .rules import PartnerData

FORMATS = ("csv", "json")
# The documented CSV columns, in export order.
COLUMNS = (
    "name",
    "country",
    "name_native",
    "city",
    "region",
    "website",
    "hei_id",
    "domains",
    "languages",
    "description",
    "status",
)
REQUIRED = ("name", "country")
# Written by the export for reading, ignored by the import so that an export re-imports.
EXPORT_ONLY = ("active_agreements", "places_per_year")
LIST_SEPARATORS = re.compile(r"[\s|,;]+")
# Between languages, as offices write them: "zh;en", "English, German", "中文、英文".
LANGUAGE_SEPARATORS = re.compile(r"[,;/|、，；]+")
# The export puts a ' before cells a spreadsheet would run as a formula; the import removes it.
FORMULA_GUARD = re.compile(r"^'(?=[=+\-@\t\r])")


class Issue(NamedTuple):
    line: int | None  # CSV: physical line (header = 1); JSON: 1-based entry; None: whole file
    field: str
    message: str


@dataclass
class Row:
    line: int
    data: PartnerData
    given: set[str]  # the fields the file gives; an update changes only these
    no_hei_id: bool = False  # an empty hei_id cell: no hei-id, not one guessed from domains
    # (field, as written, read as) for each name read as a code: "Deutschland" -> "DE"
    interpreted: list = field(default_factory=list)


@dataclass
class ParsedFile:
    format: str
    # The rows, read as they are taken; problems and total grow as they are read.
    rows: Iterable[Row] = ()
    problems: list[Issue] = field(default_factory=list)
    total: int = 0  # data rows (CSV) or entries (JSON), with or without problems
    expected: int = 0  # about how many rows there are, known at once (for progress bars)


# --- reading ---------------------------------------------------------------------------------


def format_of(filename):
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


def read_file(content: bytes, fmt: str) -> ParsedFile:
    if fmt == "csv":
        return read_csv(content)
    if fmt == "json":
        return read_json(content)
    parsed = ParsedFile(fmt or "")
    parsed.problems.append(Issue(None, "file", _("Upload a .csv or a .json file.")))
    return parsed


def _split(value):
    return [part for part in LIST_SEPARATORS.split(value or "") if part]


def read_csv(content: bytes) -> ParsedFile:
    """The header is read at once; the rows as they are taken from `parsed.rows`."""
    parsed = ParsedFile("csv")
    try:
        content.decode("utf-8")  # checked whole at once; read below a buffer at a time
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        parsed.problems.append(
            Issue(
                line,
                "file",
                _("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."),
            )
        )
        return parsed
    end = content.find(b"\n")
    first_line = content if end < 0 else content[:end]
    delimiter = ";" if first_line.count(b";") > first_line.count(b",") else ","
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next((record for record in reader), None)
    except csv.Error as exc:
        parsed.problems.append(
            Issue(1, "", _("This is not valid CSV (%(error)s). Check the quotes.", error=exc))
        )
        return parsed
    if header is None:
        parsed.problems.append(Issue(None, "file", _("The file is empty.")))
        return parsed
    header = _read_header(header, parsed)
    if not parsed.problems:
        parsed.expected = max(content.count(b"\n") - 1, 0)
        parsed.rows = _csv_rows(reader, header, parsed)
    return parsed


def _csv_rows(reader, header, parsed):
    start = reader.line_num + 1  # the physical line where the record being read starts
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            parsed.total += 1
            if len(record) > len(header) and not any(c.strip() for c in record[len(header) :]):
                record = record[: len(header)]  # trailing empty cells, as spreadsheets write
            if len(record) != len(header):
                parsed.problems.append(
                    Issue(
                        line,
                        "",
                        _(
                            "Expected %(expected)s fields, found %(found)s. Check the "
                            "separators and the quotes.",
                            expected=len(header),
                            found=len(record),
                        ),
                    )
                )
                continue
            yield _csv_row(line, dict(zip(header, record, strict=True)))
    except csv.Error as exc:
        parsed.problems.append(
            Issue(start, "", _("This is not valid CSV (%(error)s). Check the quotes.", error=exc))
        )


def _read_header(record, parsed):
    header = [cell.strip().lower().replace("-", "_").replace(" ", "_") for cell in record]
    known, seen = set(COLUMNS) | set(EXPORT_ONLY), set()
    for name in header:
        if name not in known:
            parsed.problems.append(
                Issue(
                    1,
                    name[:40],
                    _(
                        "Unknown column “%(name)s”. The columns are: %(columns)s.",
                        name=name[:40],
                        columns=", ".join(COLUMNS),
                    ),
                )
            )
        elif name in seen:
            parsed.problems.append(
                Issue(1, name, _("The column “%(name)s” appears twice.", name=name))
            )
        seen.add(name)
    for name in REQUIRED:
        if name not in header:
            parsed.problems.append(
                Issue(1, name, _("The required column “%(name)s” is missing.", name=name))
            )
    return header


def read_country(text, interpreted):
    """The code for a country code or name; an unknown text is kept for the problem report."""
    text = (text or "").strip()
    code = reference.read_country(text)
    if code is None:
        return text
    if code != text.upper():
        interpreted.append(("country", text, code))
    return code


def read_languages(text, interpreted):
    """Language codes for codes or names separated by any of LANGUAGE_SEPARATORS or spaces;
    unknown words are kept for the problem report."""
    languages = []
    for part in LANGUAGE_SEPARATORS.split(text or ""):
        part = part.strip()
        if not part:
            continue
        code = reference.read_language(part)
        words = [(part, code)] if code else [(w, reference.read_language(w)) for w in part.split()]
        for word, code in words:
            if code is None:
                languages.append(word)
                continue
            if code != word.lower():
                interpreted.append(("languages", word, code))
            languages.append(code)
    return languages


def _csv_row(line, cells):
    cells = {k: FORMULA_GUARD.sub("", v) for k, v in cells.items() if k in COLUMNS}
    given = set(cells)
    no_hei_id = "hei_id" in cells and not cells["hei_id"].strip()
    if no_hei_id:
        given.discard("hei_id")  # an import never removes a hei-id
    elif _split(cells.get("domains")):
        given.add("hei_id")  # without the column, the hei-id is the first domain
    if "status" in cells and not cells["status"].strip():
        given.discard("status")  # an empty status keeps the partner's status
    interpreted = []
    data = PartnerData(
        name=cells.get("name", ""),
        country=read_country(cells.get("country"), interpreted),
        name_native=cells.get("name_native", ""),
        city=cells.get("city", ""),
        region=cells.get("region", ""),
        website=cells.get("website", ""),
        hei_id=cells.get("hei_id", ""),
        domains=_split(cells.get("domains")),
        languages=read_languages(cells.get("languages"), interpreted),
        description=cells.get("description", ""),
        status=cells.get("status", ""),
    )
    return Row(line, data, given, no_hei_id, interpreted)


def read_json(content: bytes) -> ParsedFile:
    """The format of world_universities.json: a list of {name, domains[], web_pages[],
    country, alpha_two_code, state-province}."""
    parsed = ParsedFile("json")
    try:
        entries = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        parsed.problems.append(Issue(None, "file", _("The file is not UTF-8 text.")))
        return parsed
    except json.JSONDecodeError as exc:
        parsed.problems.append(
            Issue(
                None,
                "file",
                _(
                    "This is not valid JSON (line %(line)s, column %(col)s): %(error)s.",
                    line=exc.lineno,
                    col=exc.colno,
                    error=exc.msg,
                ),
            )
        )
        return parsed
    except (ValueError, RecursionError):  # absurd numbers or nesting
        parsed.problems.append(Issue(None, "file", _("This is not valid JSON.")))
        return parsed
    if not isinstance(entries, list):
        parsed.problems.append(
            Issue(
                None,
                "file",
                _("The JSON must be a list of universities, as in world_universities.json."),
            )
        )
        return parsed
    parsed.total = parsed.expected = len(entries)
    parsed.rows = (
        row
        for number, entry in enumerate(entries, start=1)
        if (row := _json_row(number, entry, parsed.problems)) is not None
    )
    return parsed


def _json_row(number, entry, problems):
    if not isinstance(entry, dict):
        problems.append(Issue(number, "", _("Each entry must be an object with a name.")))
        return None
    bad = False
    texts = {}
    for key in ("name", "alpha_two_code", "state-province"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(Issue(number, key, _("This must be text.")))
            bad = True
        texts[key] = value or ""
    lists = {}
    for key in ("domains", "web_pages"):
        value = entry.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(Issue(number, key, _("This must be a list of texts.")))
            bad = True
        lists[key] = value if isinstance(value, list) else []
    if bad:
        return None
    domains = [d for d in lists["domains"] if d.strip()]
    pages = [p for p in lists["web_pages"] if p.strip()]
    given = {"name", "country"}
    # Missing values in this third-party list mean "unknown": they keep what we have.
    given |= {"hei_id", "domains"} if domains else set()
    given |= {"website"} if pages else set()
    given |= {"region"} if texts["state-province"].strip() else set()
    interpreted = []
    country_name = entry.get("country") if isinstance(entry.get("country"), str) else ""
    data = PartnerData(
        name=texts["name"],
        country=read_country(texts["alpha_two_code"] or country_name, interpreted),
        region=texts["state-province"],
        website=pages[0] if pages else "",
        hei_id=domains[0] if domains else "",
        domains=domains,
    )
    return Row(number, data, given, interpreted=interpreted)


# --- writing ---------------------------------------------------------------------------------

EXPORT_COLUMNS = COLUMNS + EXPORT_ONLY
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_LIMIT = 32767


def neutralise(value):
    """A text a spreadsheet would run as a formula gets a leading ' (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_rows(filters, student=None):
    """One list of cells per partner of the filtered catalogue, in the list's order, with the
    number of current agreements and their places per year (one aggregate query)."""
    year = current_academic_year()
    stmt = search_partners(filters, student)
    ids = stmt.with_only_columns(Partner.id).order_by(None)
    totals = {
        partner_id: (count, places)
        for partner_id, count, places in db.session.execute(
            sa.select(
                Agreement.partner_id,
                sa.func.count(Agreement.id),
                sa.func.coalesce(sa.func.sum(Agreement.places_per_year), 0),
            )
            # The agreements the list shows under these filters (eligible, type, ...).
            .where(agreement_clause(filters, student, year), Agreement.partner_id.in_(ids))
            .group_by(Agreement.partner_id)
        )
    }
    for partner in db.session.scalars(stmt.execution_options(yield_per=500)):
        state = partner_state(partner)
        count, places = totals.get(partner.id, (0, 0))
        yield [neutralise(state[key] or "") for key in COLUMNS] + [count, int(places)]


def csv_chunks(rows, every=500):
    """The CSV text in pieces, for a streamed response. With a BOM so Excel reads UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(EXPORT_COLUMNS)
    for number, row in enumerate(rows, start=1):
        writer.writerow(row)
        if number % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(rows):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Partners")[:31])
    sheet.append(EXPORT_COLUMNS)
    for row in rows:
        sheet.append(
            [
                ILLEGAL_CHARACTERS_RE.sub("", v)[:XLSX_CELL_LIMIT] if isinstance(v, str) else v
                for v in row
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
