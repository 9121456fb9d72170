"""Import of the partner catalogue from CSV or the world-universities JSON.

`read_file` turns bytes into rows (and problems with line numbers) as they are read;
`run_import` validates each row with `PartnerData.normalised()`, matches it against the
catalogue and, when applying, writes it, a chunk of rows at a time. Memory holds one chunk,
the keys of the rows seen (to find duplicates) and a sample of each action for the preview,
whatever the file's size. A file with any problem writes nothing (its writes happen in a
SAVEPOINT rolled back at the first problem); applying the same file twice changes nothing the
second time. The caller commits.

By default (ImportMode.KEEP) an import adds new partners and fills the empty fields of those
it matches, but keeps every value the catalogue has: another source (the world list) must not
rename, downgrade or re-identify curated partners. Its differing values are listed as kept, so
that overwriting them (ImportMode.OVERWRITE) is an informed, explicit choice.
"""

from collections import defaultdict
from itertools import islice
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from ..accounts.models import Role
from ..core import audit
from ..core.errors import NotAllowed
from ..extensions import db
from .formats import COLUMNS, Issue, ParsedFile, Row, read_file
from .import_plan import ImportMode, ImportResult, Planned
from .models import Partner
from .operations import partner_state

CHUNK = 500  # rows checked, matched and written together; < SQLite's 999 bound parameters


# --- checking and matching -------------------------------------------------------------------


def _state(values):
    state = {k: values[k] for k in COLUMNS}
    state["status"] = values["status"].value
    return state


def _digest(values):
    return hash(tuple((k, str(v)) for k, v in sorted(values.items())))


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


class _Run:
    """The state an import keeps across chunks: bounded by the number of rows' keys."""

    def __init__(self, result, mode):
        self.result, self.mode = result, mode
        self.seen_hei = {}  # hei-id -> (line, digest, name_key)
        self.seen_name = {}  # (name_key, country) -> (line, digest)
        self.matched = {}  # partner id -> line of the row that matched it
        self.created = set()  # ids of the partners this import created

    def check(self, row):
        """Normalised values of a row, or None when it has problems or repeats a row."""
        result = self.result
        for key in row.interpreted:
            result.interpreted.setdefault(key, [0, row.line])[0] += 1
        values, problems = row.data.normalised()
        for field_name, message in problems:
            result.problems.append(Issue(row.line, field_name, str(message)))
        if problems:
            return None
        if row.no_hei_id:
            values["hei_id"] = None
        digest = _digest(values)
        hei = values["hei_id"]
        if hei and hei in self.seen_hei:
            first_line, first, name_key = self.seen_hei[hei]
            if first == digest:
                self._duplicate(row, first_line)
                return None
            if name_key == values["name_key"]:
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
                return None
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
            row.given.discard("hei_id")
            digest = _digest(values)
        if hei:
            self.seen_hei[hei] = (row.line, digest, values["name_key"])
            return values
        key = (values["name_key"], values["country"])
        if key in self.seen_name:
            first_line, first = self.seen_name[key]
            if first == digest:
                self._duplicate(row, first_line)
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
            return None
        self.seen_name[key] = (row.line, digest)
        return values

    def _duplicate(self, row, first_line):
        self.result.warnings.append(
            Issue(row.line, "", _("Duplicate of %(w)s; skipped.", w=self.result.where(first_line)))
        )
        self.result.skipped += 1

    def plan(self, rows):
        """Planned actions for checked rows [(row, values)], matched against the catalogue
        as it was before this import (partners it created are no match)."""
        by_hei, by_name = _existing(rows, self.created)
        claimed = {p.id for _row, v in rows if (p := by_hei.get(v["hei_id"])) is not None}
        planned = []
        for row, values in rows:
            partner = by_hei.get(values["hei_id"]) if values["hei_id"] else None
            if partner is None:
                partner = self._by_other_domain(values, by_hei, claimed)
            if partner is None:
                for candidate in by_name.get((values["name_key"], values["country"]), []):
                    # A partner with another hei-id is another institution of the same name.
                    if candidate.id in claimed or candidate.id in self.matched:
                        continue
                    if values["hei_id"] and candidate.hei_id:
                        continue
                    partner = candidate
                    claimed.add(candidate.id)
                    break
            if partner is not None and partner.id in self.matched:
                self.result.problems.append(
                    Issue(
                        row.line,
                        "",
                        _(
                            "This row matches the same partner (%(name)s) as %(w)s; "
                            "keep one of the two rows.",
                            name=partner.name,
                            w=self.result.where(self.matched[partner.id]),
                        ),
                    )
                )
                continue
            planned.append(self._planned(row, values, partner))
        return planned

    def _by_other_domain(self, values, by_hei, claimed):
        """A partner whose hei-id is another of the row's domains, in the same country: the
        world list gives sciences-po.fr first and sciencespo.fr second."""
        for domain in values["domains"].split()[1:]:
            candidate = by_hei.get(domain)
            if (
                candidate is not None
                and candidate.country == values["country"]
                and candidate.id not in claimed
                and candidate.id not in self.matched
            ):
                claimed.add(candidate.id)
                return candidate
        return None

    def _planned(self, row, values, partner):
        after = _state(values)
        if partner is None:
            changes = {k: [None, v] for k, v in after.items() if v not in (None, "")}
            return Planned(row.line, "create", values, row.given, None, changes)
        self.matched[partner.id] = row.line
        differences = _differences(partner_state(partner), after, row.given)
        if self.mode is ImportMode.OVERWRITE:
            changes, kept = differences, {}
        else:  # a stored status is never "empty": an import keeps it
            changes = {k: d for k, d in differences.items() if _empty(d[0]) and k != "status"}
            kept = {k: d for k, d in differences.items() if k not in changes}
        action = "update" if changes else "unchanged"
        return Planned(row.line, action, values, row.given, partner, changes, kept)


def _chunks(items, size=CHUNK):
    items = sorted(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _existing(rows, exclude):
    """The partners the rows may match, loaded in a few statements per chunk of rows."""
    heis = {v["hei_id"] for _row, v in rows if v["hei_id"]}
    heis |= {domain for _row, v in rows for domain in v["domains"].split()}
    names = {v["name_key"] for _row, v in rows}
    by_hei, by_name = {}, defaultdict(list)
    for chunk in _chunks(heis):
        for partner in db.session.scalars(sa.select(Partner).where(Partner.hei_id.in_(chunk))):
            if partner.id not in exclude:
                by_hei[partner.hei_id] = partner
    for chunk in _chunks(names):
        stmt = sa.select(Partner).where(Partner.name_key.in_(chunk)).order_by(Partner.id)
        for partner in db.session.scalars(stmt):
            if partner.id not in exclude:
                by_name[(partner.name_key, partner.country)].append(partner)
    for candidates in by_name.values():
        candidates.sort(key=lambda p: p.hei_id is not None)  # partners without hei-id first
    return by_hei, by_name


# --- the import ------------------------------------------------------------------------------


def run_import(
    parsed: ParsedFile,
    *,
    mode: ImportMode = ImportMode.KEEP,
    apply=False,
    actor=None,
    filename=None,
    progress=None,
) -> ImportResult:
    """Check every row and plan create / update / unchanged; with `apply`, also write the
    plan (partners, one audit event per changed partner and one for the import), unless a
    row has a problem: then nothing is written. The caller commits."""
    if apply and actor is not None and not actor.has_role(*Role.STAFF):
        raise NotAllowed(_("Only coordinators can import partners."))
    result = ImportResult(parsed.format, mode=mode)
    run = _Run(result, mode)
    savepoint = db.session.begin_nested() if apply else None
    rows = iter(parsed.rows)
    while chunk := list(islice(rows, CHUNK)):
        checked = [(row, values) for row in chunk if (values := run.check(row)) is not None]
        planned = run.plan(checked)
        if apply and not result.problems and not parsed.problems:
            _write(planned, actor, run.created)
        for item in planned:
            result._add(item)
        if progress:
            progress(len(chunk))
    result.total = parsed.total
    result.problems[:0] = parsed.problems  # the file's own problems first
    if savepoint is None:
        return result
    if result.problems:
        savepoint.rollback()
        return result
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
    savepoint.commit()
    result.applied = True
    return result


def _write(planned, actor, created):
    items = [item for item in planned if item.action != "unchanged"]
    for item in items:
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
    db.session.flush()  # one round of batched INSERTs/UPDATEs; the new partners get their ids
    for item in items:
        action = "partner.created" if item.action == "create" else "partner.updated"
        if item.action == "create":
            created.add(item.partner.id)
        audit.record(action, item.partner, actor=actor, details=item.changes)
    db.session.flush()


def import_file(content: bytes, fmt, *, actor, filename, dry_run=True, mode=ImportMode.KEEP):
    """Read, check and (unless dry_run or there are problems) apply: the whole import."""
    return run_import(
        read_file(content, fmt), mode=mode, apply=not dry_run, actor=actor, filename=filename
    )


__all__ = ["ImportMode", "ImportResult", "Planned", "Row", "import_file", "run_import"]
