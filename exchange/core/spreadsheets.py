"""Writing tables as CSV or XLSX, streamed: rows are turned into bytes as they come, so an
export of any length holds one batch of rows in memory and its first bytes leave at once.

Callers neutralise cells a spreadsheet would run as formulas (catalogue.formats.neutralise)
before handing them over: these writers write values as they are, text as text.

The XLSX writer is a minimal SpreadsheetML package (one sheet, inline strings, a bold header
and a date format) written straight into a ZIP stream: openpyxl's write-only mode needs about
1 ms a row without lxml, too slow for the 50,000 rows of a big call.
"""

import csv
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from openpyxl import load_workbook

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_CELL_LIMIT = 32767
# Characters XML 1.0 cannot hold (the same set openpyxl refuses).
ILLEGAL_XML = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
EXCEL_EPOCH = datetime(1899, 12, 30)


def csv_chunks(header, rows, every=500):
    """The CSV text in pieces, with a BOM so that Excel reads UTF-8; datetimes in ISO 8601."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        writer.writerow(
            [c.isoformat(timespec="minutes") if isinstance(c, datetime) else c for c in row]
        )
        if number % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _column(index):
    name = ""
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref, value, style=""):
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{style}><v>{int(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        return f'<c r="{ref}"{style}><v>{value}</v></c>'
    if isinstance(value, datetime | date):
        if isinstance(value, datetime):
            # Excel has no time zones: the time as the reader of the export knows it.
            moment = value.replace(tzinfo=None)
        else:
            moment = datetime(value.year, value.month, value.day)
        serial = (moment - EXCEL_EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="1"><v>{serial!r}</v></c>'
    text = escape(ILLEGAL_XML.sub("", str(value))[:XLSX_CELL_LIMIT])
    return f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{text}</t></is></c>'


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PARTS = {
    "[Content_Types].xml": (
        f'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" '
        f'ContentType="{_OOXML}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_OOXML}.styles+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC}/styles" Target="styles.xml"/></Relationships>'
    ),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_MAIN}">'
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        "</borders>"
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}


class _Pipe(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken out as they arrive."""

    def __init__(self):
        self.chunks = []

    def writable(self):
        return True

    def write(self, data):
        self.chunks.append(bytes(data))
        return len(data)

    def take(self):
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def xlsx_chunks(title, header, rows, every=500):
    """The workbook in pieces of bytes: one sheet named `title` with a bold header row."""
    name = re.sub(r"[\[\]:*?/\\]", " ", str(title))[:31].strip(" '") or "Sheet1"
    sheet_name = escape(name, {'"': "&quot;"})
    columns = [_column(i) for i in range(1, len(header) + 1)]
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as zf:
        for name, xml in _PARTS.items():
            zf.writestr(name, _XML + xml)
        zf.writestr(
            "xl/workbook.xml",
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC}"><sheets>'
            f'<sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        yield pipe.take()
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            head = "".join(
                _cell(f"{c}1", v, ' s="2"') for c, v in zip(columns, header, strict=True)
            )
            lines = [f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData><row r="1">{head}</row>']
            for number, row in enumerate(rows, start=2):
                cells = "".join(_cell(f"{c}{number}", v) for c, v in zip(columns, row, strict=True))
                lines.append(f'<row r="{number}">{cells}</row>')
                if number % every == 0:
                    sheet.write("".join(lines).encode())
                    lines.clear()
                    yield pipe.take()
            lines.append("</sheetData></worksheet>")
            sheet.write("".join(lines).encode())
    yield pipe.take()


# --- reading ---------------------------------------------------------------------------------

READ_FORMATS = ("csv", "xlsx")
# A cell a spreadsheet would run as a formula (or that came out of one).
FORMULA = re.compile(r"^\s*[=@]|^\s*[+\-](?!\s*\d+([.,]\d+)?\s*$)")


class TableError(ValueError):
    """The file cannot be read as a table at all (the message says why, for the user)."""


def table_format(filename):
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    return suffix if suffix in READ_FORMATS else None


def is_formula(text: str) -> bool:
    return bool(FORMULA.match(text or ""))


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def read_rows(content: bytes, fmt: str):
    """The rows of a CSV (UTF-8, with or without BOM, or GB18030 as Chinese Excel saves it;
    comma or semicolon) or of the first sheet of an XLSX, as (line, [cells as text]).

    Nothing in the file is run: an XLSX is read with its formulas as text (never their cached
    results), so the caller can refuse them with `is_formula`."""
    if fmt == "csv":
        yield from _csv_rows(content)
    elif fmt == "xlsx":
        yield from _xlsx_rows(content)
    else:
        raise TableError("format")


def _csv_rows(content):
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            raise TableError("encoding") from None
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            yield line, [cell.strip() for cell in record]
    except csv.Error:
        raise TableError("csv") from None


def _xlsx_rows(content):
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise TableError("xlsx") from None
    try:
        sheet = book.worksheets[0]
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_text(v).strip() for v in values]
    finally:
        book.close()
