"""The plan of a partner import as the importer builds it and a preview shows it: the mode
(keep or overwrite stored values), each planned row with its changes field by field, and the
result's counts, samples and issues, turned into a plain-data `core.imports.Preview`."""

import enum
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..core.imports import Preview
from .formats import Issue
from .models import Partner

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
    mode: ImportMode = ImportMode.KEEP
    total: int = 0
    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # create, update, unchanged, kept
    samples: dict = field(default_factory=lambda: defaultdict(list))  # action -> [Planned]
    skipped: int = 0
    applied: bool = False
    # (field, as written, read as) -> [rows, first line]
    interpreted: dict = field(default_factory=dict)

    @property
    def created(self):
        return self.counts["create"]

    @property
    def updated(self):
        return self.counts["update"]

    @property
    def unchanged(self):
        return self.counts["unchanged"]

    @property
    def with_kept(self):
        """Matched partners whose stored values differ from the file's and are kept."""
        return self.counts["kept"]

    @property
    def to_write(self):
        return self.created + self.updated

    def where(self, line):
        """ "line 5" for CSV, "entry 5" for JSON, "file" for the whole file."""
        return Preview(self.format).where(line)

    def sample(self, action):
        return self.samples[action]

    def _add(self, item):
        self.counts[item.action] += 1
        if len(self.samples[item.action]) < SAMPLE:
            self.samples[item.action].append(item)
        if item.kept:
            self.counts["kept"] += 1
            if len(self.samples["kept"]) < SAMPLE:
                self.samples["kept"].append(item)

    def preview(self, max_issues=1000) -> Preview:
        """The plain-data preview a page shows (see core.imports.Preview)."""
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
                "kept": [_changed(item, item.kept) for item in self.sample("kept")],
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
