"""What every records import shares: reading a CSV or XLSX upload (core.spreadsheets) into
rows keyed by column name, headers in English or Chinese, every problem with its line and
column, and cells that are formulas refused, never run; the plan of create / update /
unchanged per row; who may apply it, and its audit event."""

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from flask import current_app
from flask_babel import gettext as _

from ..accounts.models import Role
from ..core import audit, spreadsheets
from ..core.errors import DomainError, NotAllowed

MAX_ROWS = 100_000
TOKEN_LENGTH = 32


@dataclass
class Planned:
    line: int
    action: str  # "create", "update" or "unchanged"
    values: dict
    obj: object = None  # the existing row an update changes
    changes: dict = field(default_factory=dict)  # field -> [before, after]


@dataclass
class Plan:
    """What an import would do: every problem, and per row create / update / unchanged."""

    total: int = 0
    problems: list = field(default_factory=list)
    items: list[Planned] = field(default_factory=list)
    applied: bool = False

    def count(self, action):
        return sum(1 for item in self.items if item.action == action)

    @property
    def created(self):
        return self.count("create")

    @property
    def updated(self):
        return self.count("update")

    @property
    def unchanged(self):
        return self.count("unchanged")

    def report(self, line, problems):
        """Add a row's problems, (column, message) pairs, with its line."""
        self.problems.extend(Issue(line, column, message) for column, message in problems)

    def sample(self, action, limit=200):
        return [item for item in self.items if item.action == action][:limit]


class Issue(NamedTuple):
    line: int | None  # the file's line (header = 1); None: the whole file
    field: str
    message: str


@dataclass
class Table:
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[int, dict]] = field(default_factory=list)  # (line, {column: text})
    problems: list[Issue] = field(default_factory=list)


def _key(header):
    return header.strip().lstrip("\ufeff").strip().lower().replace(" ", "_").replace("-", "_")


def read_table(content: bytes, filename: str, aliases: dict, required: tuple) -> Table:
    """The table of a CSV or XLSX upload. `aliases` maps each accepted header (lower case) to
    its column name; a file without a required column, with an unknown or a repeated column,
    or with a formula in any cell has problems (and the rows with them are left out)."""
    table = Table()
    fmt = spreadsheets.table_format(filename)
    if fmt is None:
        table.problems.append(Issue(None, "file", _("Upload a .csv or an .xlsx file.")))
        return table
    header = None
    try:
        for line, cells in spreadsheets.read_rows(content, fmt):
            if header is None:
                if not any(cells):
                    continue
                header = _header(cells, aliases, required, table)
                if table.problems:
                    return table
                continue
            if not any(cells):
                continue
            if len(table.rows) >= MAX_ROWS:
                table.problems.append(
                    Issue(line, "file", _("The file has more than %(n)d rows.", n=MAX_ROWS))
                )
                return table
            row, bad = {}, False
            for index, name in header.items():
                text = cells[index] if index < len(cells) else ""
                if spreadsheets.is_formula(text):
                    table.problems.append(
                        Issue(
                            line,
                            name,
                            _(
                                "This cell holds a formula (%(text)s); formulas are not run. "
                                "Enter the value itself.",
                                text=text[:40],
                            ),
                        )
                    )
                    bad = True
                row[name] = text
            if not bad:
                table.rows.append((line, row))
    except spreadsheets.TableError as exc:
        reason = str(exc)
        if reason == "encoding":
            message = _("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
        elif reason == "xlsx":
            message = _("The file is not an Excel workbook (.xlsx) that can be read.")
        else:
            message = _("The file is not a CSV file that can be read.")
        table.problems.append(Issue(None, "file", message))
        return table
    if header is None:
        table.problems.append(Issue(None, "file", _("The file is empty.")))
    return table


def _header(cells, aliases, required, table):
    header = {}
    for index, cell in enumerate(cells):
        if not cell.strip():
            continue
        name = aliases.get(_key(cell))
        if name is None:
            table.problems.append(
                Issue(1, cell[:40], _("Unknown column “%(name)s”.", name=cell[:40]))
            )
        elif name in header.values():
            table.problems.append(
                Issue(1, name, _("The column “%(name)s” appears twice.", name=cell[:40]))
            )
        else:
            header[index] = name
    table.columns = list(header.values())
    for name in required:
        if name not in table.columns:
            table.problems.append(
                Issue(1, name, _("The required column “%(name)s” is missing.", name=name))
            )
    return header


# --- planning and applying ------------------------------------------------------------------


def start_plan(content: bytes, filename: str, aliases: dict, required: tuple, plan_type=Plan):
    """(table, plan): the upload read, and a plan holding the file's own problems. The table
    is None when no row can be planned (the file is unreadable or its columns are wrong)."""
    table = read_table(content, filename, aliases, required)
    plan = plan_type(total=len(table.rows), problems=list(table.problems))
    if any(p.line in (None, 1) for p in table.problems):
        return None, plan
    return table, plan


def planned(line, values, obj, before, after) -> Planned:
    """One row's plan: create (no `obj`), update (a value changes) or unchanged."""
    changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    action = "create" if obj is None else ("update" if changes else "unchanged")
    return Planned(line, action, values, obj, changes)


def check_applicable(plan: Plan, actor):
    """Only an admin imports, and only a plan without problems."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("Only an admin can import."))
    if plan.problems:
        raise DomainError(_("The file has problems; nothing was imported."))


def record_applied(plan: Plan, action, object_type, *, actor, **details):
    """The import's audit event (its counts and `details`); the plan is marked applied."""
    counts = {"rows": plan.total, "created": plan.created, "updated": plan.updated}
    audit.record(action, actor=actor, object_type=object_type, details={**counts, **details})
    plan.applied = True
    return plan


# --- keeping an upload between its preview and its confirmation -----------------------------


def _folder():
    return Path(current_app.config["INSTANCE_DIR"]) / "records-imports"


def keep_upload(content: bytes, filename: str) -> str:
    """Store the upload under a random token until the admin confirms the preview."""
    fmt = spreadsheets.table_format(filename) or "csv"
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(TOKEN_LENGTH // 2)
    (folder / f"{token}.{fmt}").write_bytes(content)
    return token


def kept_upload(token: str):
    """(content, filename) of a kept upload, or None."""
    if len(token or "") != TOKEN_LENGTH or not all(c in "0123456789abcdef" for c in token):
        return None
    for fmt in spreadsheets.READ_FORMATS:
        path = _folder() / f"{token}.{fmt}"
        if path.is_file():
            return path.read_bytes(), path.name
    return None


def forget_upload(token: str):
    for fmt in spreadsheets.READ_FORMATS:
        (_folder() / f"{token}.{fmt}").unlink(missing_ok=True)
