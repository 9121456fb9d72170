"""Import of the partner catalogue from CSV or the world-universities JSON.

Three steps: `read_file` turns bytes into rows (and problems with line numbers), `plan_import`
validates every row with `PartnerData.normalised()` and matches it against the catalogue,
`apply_import` writes the plan. A file with any problem writes nothing; applying the same file
twice changes nothing the second time. The caller commits.

By default (ImportMode.KEEP) an import adds new partners and fills the empty fields of those
it matches, but keeps every value the catalogue has: another source (the world list) must not
rename, downgrade or re-identify curated partners. Its differing values are listed as kept, so
that overwriting them (ImportMode.OVERWRITE) is an informed, explicit choice.
"""

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from ..accounts.models import Role
from ..core import audit
from ..core.errors import DomainError, NotAllowed
from ..core.imports import Preview
from ..extensions import db
from .formats import COLUMNS, Issue, ParsedFile, Row, read_file
from .models import Partner
from .operations import partner_state

IN_CHUNK = 900  # SQLite allows 999 bound parameters per statement
FLUSH_EVERY = 500
SAMPLE = 20  # rows per action shown in a preview


class ImportMode(enum.Enum):
    KEEP = "keep"  # add new partners, fill empty fields, keep every stored value
    OVERWRITE = "overwrite"  # also replace stored values with the file's


@dataclass
class Planned:
    line: int
    action: str  # "create", "update" or "unchanged"
    values: dict
    given: set[str]
    partner: Partner | None = None
    changes: dict = field(default_factory=dict)  # field -> [before, after], to be written
    kept: dict = field(default_factory=dict)  # field -> [stored, file's], not written


@dataclass
class ImportResult:
    format: str
    total: int = 0
    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    items: list[Planned] = field(default_factory=list)
    skipped: int = 0
    applied: bool = False
    mode: ImportMode = ImportMode.KEEP
    # (field, as written, read as) -> [rows, first line]
    interpreted: dict = field(default_factory=dict)

    def _count(self, action):
        return sum(1 for item in self.items if item.action == action)

    @property
    def created(self):
        return self._count("create")

    @property
    def updated(self):
        return self._count("update")

    @property
    def unchanged(self):
        return self._count("unchanged")

    @property
    def with_kept(self):
        """Matched partners whose stored values differ from the file's and are kept."""
        return sum(1 for item in self.items if item.kept)

    @property
    def to_write(self):
        return sum(1 for item in self.items if item.action != "unchanged")

    def where(self, line):
        """ "line 5" for CSV, "entry 5" for JSON, "file" for the whole file."""
        if line is None:
            return _("file")
        if self.format == "json":
            return _("entry %(n)s", n=line)
        return _("line %(n)s", n=line)

    def sample(self, action, limit=SAMPLE):
        return [item for item in self.items if item.action == action][:limit]

    def preview(self, max_issues=1000) -> Preview:
        """The plain-data preview a page shows (see core.imports.Preview)."""
        kept = [item for item in self.items if item.kept][:SAMPLE]
        return Preview(
            format=self.format,
            mode=self.mode.value,
            counts={
                "total": self.total,
                "create": self.created,
                "update": self.updated,
                "unchanged": self.unchanged,
                "skipped": self.skipped,
                "kept": self.with_kept,
                "write": self.to_write,
            },
            problems=[list(p) for p in self.problems[:max_issues]],
            problem_count=len(self.problems),
            warnings=[list(w) for w in self.warnings[:max_issues]],
            warning_count=len(self.warnings),
            interpreted=[
                [key[0], key[1], key[2], rows, line]
                for key, (rows, line) in sorted(
                    self.interpreted.items(), key=lambda kv: (kv[1][1], kv[0])
                )
            ][:max_issues],
            samples={
                "create": [_created(item) for item in self.sample("create")],
                "update": [_changed(item, item.changes) for item in self.sample("update")],
                "kept": [_changed(item, item.kept) for item in kept],
            },
            applied=self.applied,
        )


def _created(item):
    v = item.values
    return {
        "line": item.line,
        "id": item.partner.id if item.partner is not None else None,
        "name": v["name"],
        "country": v["country"],
        "hei_id": v["hei_id"],
        "website": v["website"],
    }


def _changed(item, changes):
    return {
        "line": item.line,
        "id": item.partner.id,
        "name": item.partner.name,
        "changes": {k: changes[k] for k in sorted(changes)},
    }


# --- planning --------------------------------------------------------------------------------


def _state(values):
    state = {k: values[k] for k in COLUMNS}
    state["status"] = values["status"].value
    return state


def _chunks(items, size=IN_CHUNK):
    items = sorted(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _empty(value):
    return value is None or value == ""


def _differences(before, after, given):
    differences = {}
    for key in given:
        old, new = before[key], after[key]
        if key == "languages" and set((old or "").split()) == set((new or "").split()):
            continue  # the same languages in another order
        if old != new:
            differences[key] = [old, new]
    return differences


def plan_import(
    parsed: ParsedFile, progress=None, mode: ImportMode = ImportMode.KEEP
) -> ImportResult:
    """Validate every row and decide, for each, create / update / unchanged. Writes nothing."""
    result = ImportResult(
        parsed.format, total=parsed.total, problems=list(parsed.problems), mode=mode
    )
    # The rows without problems are planned too, so that the counts mean something even
    # when the file has to be fixed first.
    rows = _check_rows(parsed, result, progress)
    by_hei, by_name = _existing(rows)
    claimed = {id(by_hei[v["hei_id"]]) for _row, v in rows if v["hei_id"] in by_hei}
    for row, values in rows:
        partner = by_hei.get(values["hei_id"]) if values["hei_id"] else None
        if partner is None:
            for candidate in by_name.get((values["name_key"], values["country"]), []):
                # A partner with another hei-id is another institution of the same name.
                if id(candidate) in claimed or (values["hei_id"] and candidate.hei_id):
                    continue
                partner = candidate
                claimed.add(id(candidate))
                break
        after = _state(values)
        if partner is None:
            changes = {k: [None, v] for k, v in after.items() if v not in (None, "")}
            result.items.append(Planned(row.line, "create", values, row.given, None, changes))
            continue
        differences = _differences(partner_state(partner), after, row.given)
        if mode is ImportMode.OVERWRITE:
            changes, kept = differences, {}
        else:  # a stored status is never "empty": an import keeps it
            changes = {k: d for k, d in differences.items() if _empty(d[0]) and k != "status"}
            kept = {k: d for k, d in differences.items() if k not in changes}
        action = "update" if changes else "unchanged"
        result.items.append(Planned(row.line, action, values, row.given, partner, changes, kept))
    return result


def _check_rows(parsed, result, progress):
    """Normalise each row; skip or report rows that repeat an earlier one."""
    seen_hei, seen_name, rows = {}, {}, []
    for row in parsed.rows:
        if progress:
            progress(1)
        for key in row.interpreted:
            counted = result.interpreted.setdefault(key, [0, row.line])
            counted[0] += 1
        values, problems = row.data.normalised()
        for field_name, message in problems:
            result.problems.append(Issue(row.line, field_name, str(message)))
        if problems:
            continue
        given = set(row.given)
        if row.no_hei_id:
            values["hei_id"] = None
        hei = values["hei_id"]
        if hei and hei in seen_hei:
            first_line, first = seen_hei[hei]
            if first == values:
                result.warnings.append(
                    Issue(
                        row.line, "", _("Duplicate of %(w)s; skipped.", w=result.where(first_line))
                    )
                )
                result.skipped += 1
                continue
            if first["name_key"] == values["name_key"]:
                result.problems.append(
                    Issue(
                        row.line,
                        "hei_id",
                        _(
                            "Same hei-id (%(hei)s) and name as %(w)s, with other data; "
                            "keep one of the two rows.",
                            w=result.where(first_line),
                            hei=hei,
                        ),
                    )
                )
                continue
            # Two institutions share a domain (khio.no in the world list): the first keeps it.
            result.warnings.append(
                Issue(
                    row.line,
                    "hei_id",
                    _(
                        "hei-id %(hei)s is also used by %(w)s; imported without a hei-id.",
                        hei=hei,
                        w=result.where(first_line),
                    ),
                )
            )
            values["hei_id"] = hei = None
            given.discard("hei_id")
        if hei:
            seen_hei[hei] = (row.line, values)
        else:
            key = (values["name_key"], values["country"])
            if key in seen_name:
                first_line, first = seen_name[key]
                if first == values:
                    result.warnings.append(
                        Issue(
                            row.line,
                            "",
                            _("Duplicate of %(w)s; skipped.", w=result.where(first_line)),
                        )
                    )
                    result.skipped += 1
                else:
                    result.problems.append(
                        Issue(
                            row.line,
                            "name",
                            _(
                                "Same name and country as %(w)s, with other data; give "
                                "each a hei-id or keep one of the two rows.",
                                w=result.where(first_line),
                            ),
                        )
                    )
                continue
            seen_name[key] = (row.line, values)
        rows.append((Row(row.line, row.data, given), values))
    return rows


def _existing(rows):
    """The partners the rows may match, loaded in a few statements whatever the file size."""
    heis = {v["hei_id"] for _row, v in rows if v["hei_id"]}
    names = {v["name_key"] for _row, v in rows}
    by_hei, by_name = {}, defaultdict(list)
    for chunk in _chunks(heis):
        for partner in db.session.scalars(sa.select(Partner).where(Partner.hei_id.in_(chunk))):
            by_hei[partner.hei_id] = partner
    for chunk in _chunks(names):
        stmt = sa.select(Partner).where(Partner.name_key.in_(chunk)).order_by(Partner.id)
        for partner in db.session.scalars(stmt):
            by_name[(partner.name_key, partner.country)].append(partner)
    for candidates in by_name.values():
        candidates.sort(key=lambda p: p.hei_id is not None)  # partners without hei-id first
    return by_hei, by_name


# --- applying --------------------------------------------------------------------------------


def apply_import(result: ImportResult, *, actor, filename, progress=None):
    """Write a plan without problems: create and update partners, one audit event per changed
    partner and one for the import. Flushes in batches; the caller commits."""
    if actor is not None and not actor.has_role(Role.COORDINATOR, Role.ADMIN):
        raise NotAllowed(_("Only coordinators can import partners."))
    if result.problems:
        raise DomainError(_("The file has problems; nothing was imported."))
    batch = []
    for item in result.items:
        if item.action == "unchanged":
            continue
        partner = item.partner
        if partner is None:
            partner = item.partner = Partner()
            db.session.add(partner)
        fields = COLUMNS if item.action == "create" else item.changes
        for key in fields:
            setattr(partner, key, item.values[key])
        if "name" in fields:
            partner.name_key = item.values["name_key"]
        partner.refresh_search_text()
        batch.append(item)
        if len(batch) >= FLUSH_EVERY:
            _flush(batch, actor, progress)
    _flush(batch, actor, progress)
    audit.record(
        "partners.imported",
        actor=actor,
        object_type="Partner",
        details={
            "file": Path(filename or "").name[:255],
            "format": result.format,
            "rows": result.total,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "skipped": result.skipped,
            "kept": result.with_kept,
            "mode": result.mode.value,
            "warnings": len(result.warnings),
        },
    )
    db.session.flush()
    result.applied = True
    return result


def _flush(batch, actor, progress):
    db.session.flush()  # one round of batched INSERTs/UPDATEs; the new partners get their ids
    for item in batch:
        action = "partner.created" if item.action == "create" else "partner.updated"
        audit.record(action, item.partner, actor=actor, details=item.changes)
    if progress and batch:
        progress(len(batch))
    batch.clear()


def import_file(content: bytes, fmt, *, actor, filename, dry_run=True, mode=ImportMode.KEEP):
    """Read, plan and (unless dry_run or there are problems) apply: the whole import."""
    result = plan_import(read_file(content, fmt), mode=mode)
    if not dry_run and not result.problems:
        apply_import(result, actor=actor, filename=filename)
    return result
