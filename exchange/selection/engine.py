"""The allocation engine: plain data in, a result out. No database and no words here:
operations.py feeds it, explain.py turns its notes into sentences.

Each applicant's total is the sum over the call's criteria of weight x fraction (GPA over its
scale, CEFR level over C2, committee score over its maximum), so a criterion's weight is the
points it is worth at its best. Applicants are ranked by total, then by the call's tie-breaks,
then by a random draw from the recorded seed, which is a permutation: no two applicants stay
equal, and the same data with the same seed gives the same ranking whatever the input order.

Places go by serial dictatorship: overrides are placed first, then each applicant in rank order
gets their highest-ranked choice that still has a place (and a place in the quota of their
unit or degree level, where the offering has one). Sorting is O(n log n); the rest is O(n x
choices) with dictionary look-ups.
"""

import enum
import gc
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

CEFR_RANKS = {"A1": 1, "A2": 2, "B1": 3, "B2": 4, "C1": 5, "C2": 6}
TOP_CEFR = 6
MISSING = float("inf")  # sorts an unknown submission time after every known one

Group = tuple[str, object]  # ("unit", unit id) or ("level", degree level value)


class Reason(enum.Enum):
    """Why an applicant did not get a choice ranked above the one they got."""

    NO_PLACES = "no_places"  # the offering has no places in this call
    FULL = "full"  # its places were taken before the applicant's turn
    QUOTA_FULL = "quota_full"  # its quota for the applicant's unit or level was taken


class Outcome(enum.Enum):
    PLACED = "placed"
    WAITLISTED = "waitlisted"  # a place freed on one of their choices could still reach them
    NOT_PLACED = "not_placed"  # none of their choices can ever take them


class AllocationInputError(ValueError):
    """The input cannot be allocated; `problem` names the rule and `details` the culprit."""

    def __init__(self, problem: str, **details):
        super().__init__(f"{problem}: {details}")
        self.problem = problem
        self.details = details


@dataclass(frozen=True, slots=True)
class Criterion:
    id: int
    kind: str  # "gpa", "language" or "committee"
    weight: float
    maximum: float | None = None  # committee criteria
    language: str | None = None  # language criteria: one language, or the best of any


@dataclass(frozen=True, slots=True)
class Applicant:
    application_id: int
    choices: tuple[int, ...]  # offering ids, first choice first
    gpa: float | None = None
    gpa_scale: float = 4.0
    languages: tuple[tuple[str, str], ...] = ()  # (ISO 639-1 code, CEFR level)
    committee: Mapping[int, float] = field(default_factory=dict)  # criterion id -> score
    submitted_at: float | None = None  # POSIX timestamp
    unit_id: int | None = None
    degree_level: str | None = None

    @property
    def groups(self) -> tuple[Group, Group]:
        return (("unit", self.unit_id), ("level", self.degree_level))


@dataclass(frozen=True, slots=True)
class Quota:
    group: Group
    places: int


@dataclass(frozen=True, slots=True)
class Offering:
    id: int
    places: int
    quotas: tuple[Quota, ...] = ()


@dataclass(frozen=True, slots=True)
class Override:
    application_id: int
    offering_id: int


class ChoiceNote(NamedTuple):
    """A tuple: made for many applicants of a full call, it must be cheap to build."""

    choice: int  # 1 = first choice
    offering_id: int
    reason: Reason
    group: Group | None = None  # the quota's group when reason is QUOTA_FULL


@dataclass(slots=True)
class Placement:
    application_id: int
    score: float
    points: tuple[float, ...]  # per criterion, in the order of `criteria`
    criteria: tuple[int, ...]  # the criterion ids (one tuple shared by every placement)
    rank: int  # 1 = best
    outcome: Outcome = Outcome.NOT_PLACED
    offering_id: int | None = None
    choice: int | None = None  # rank of the placed choice; None when unplaced or off-list
    overridden: bool = False
    # Why the choices above the one they got were not given: written out only where a quota
    # stood in the way; otherwise None, and `notes` reads them off the choices and the fill
    # when asked (most applicants of a full call are never explained one by one).
    quota_notes: tuple[ChoiceNote, ...] | None = None
    choices: tuple[int, ...] = ()  # the applicant's, shared, not copied
    fill: Mapping[int, "Fill"] | None = field(default=None, repr=False, compare=False)

    @property
    def parts(self) -> dict[int, float]:
        """Criterion id -> points."""
        return dict(zip(self.criteria, self.points, strict=True))

    @property
    def notes(self) -> tuple[ChoiceNote, ...]:
        """The choices above the one they got, and why not (none for an override)."""
        if self.quota_notes is not None:
            return self.quota_notes
        if self.overridden or self.fill is None:
            return ()
        above = self.choices if self.choice is None else self.choices[: self.choice - 1]
        return tuple(
            ChoiceNote(choice, o, Reason.NO_PLACES if self.fill[o].places == 0 else Reason.FULL)
            for choice, o in enumerate(above, 1)
        )


@dataclass(slots=True)
class Fill:
    places: int
    holders: list[int] = field(default_factory=list)  # ranks, in the order places were taken

    @property
    def filled(self) -> int:
        return len(self.holders)


@dataclass
class Allocation:
    seed: int
    placements: list[Placement]  # in rank order
    fill: dict[int, Fill]  # offering id -> places and who took them
    quota_fill: dict[tuple[int, Group], Fill]

    def by_application(self) -> dict[int, Placement]:
        return {p.application_id: p for p in self.placements}


# --- scoring ----------------------------------------------------------------------------------


def check_criteria(criteria: Sequence[Criterion]) -> None:
    for c in criteria:
        if c.weight < 0:
            raise AllocationInputError("negative_weight", criterion=c.id)
        if c.kind == "committee" and not (c.maximum and c.maximum > 0):
            raise AllocationInputError("committee_without_maximum", criterion=c.id)
        if c.kind not in ("gpa", "language", "committee"):
            raise AllocationInputError("unknown_criterion_kind", criterion=c.id)


def _gpa(applicant: Applicant, _criterion: Criterion) -> float:
    if applicant.gpa is None:
        return 0.0
    if applicant.gpa_scale <= 0 or not 0 <= applicant.gpa <= applicant.gpa_scale:
        raise AllocationInputError("gpa_out_of_scale", application=applicant.application_id)
    return applicant.gpa / applicant.gpa_scale


def _language(applicant: Applicant, criterion: Criterion) -> float:
    wanted = criterion.language
    best = 0
    for language, level in applicant.languages:
        if wanted is None or language == wanted:
            best = max(best, CEFR_RANKS[level])
    return best / TOP_CEFR


def _committee(applicant: Applicant, criterion: Criterion) -> float:
    value = applicant.committee.get(criterion.id)
    if value is None:
        raise AllocationInputError(
            "missing_score", application=applicant.application_id, criterion=criterion.id
        )
    maximum = criterion.maximum or 0.0
    if not 0 <= value <= maximum:
        raise AllocationInputError(
            "score_out_of_range",
            application=applicant.application_id,
            criterion=criterion.id,
            value=value,
            maximum=maximum,
        )
    return value / maximum


FRACTIONS = {"gpa": _gpa, "language": _language, "committee": _committee}


def fraction(applicant: Applicant, criterion: Criterion) -> float:
    """How much of the criterion's weight the applicant earns, from 0 to 1."""
    return FRACTIONS[criterion.kind](applicant, criterion)


def points(applicant: Applicant, criteria: Sequence[Criterion]) -> tuple[float, tuple[float, ...]]:
    """The total and its parts in the order of `criteria`, rounded to 4 places (as stored):
    the total is the sum of the parts shown, and equal inputs give equal totals."""
    return _points(applicant, _scorers(criteria))


Scorer = tuple[Callable[[Applicant, Criterion], float], float, Criterion]


def _scorers(criteria: Sequence[Criterion]) -> list[Scorer]:
    """Each criterion's fraction function and weight, looked up once for all applicants."""
    return [(FRACTIONS[c.kind], c.weight, c) for c in criteria]


def _points(applicant: Applicant, scorers: list[Scorer]) -> tuple[float, tuple[float, ...]]:
    parts = tuple([round(weight * f(applicant, c), 4) for f, weight, c in scorers])
    return round(sum(parts), 4), parts


def score(applicant: Applicant, criteria: Sequence[Criterion]) -> tuple[float, dict[int, float]]:
    """The total and its parts by criterion id."""
    total, parts = points(applicant, criteria)
    return total, dict(zip([c.id for c in criteria], parts, strict=True))


# --- ranking ----------------------------------------------------------------------------------


def _earlier_submission(applicant: Applicant) -> float:
    return MISSING if applicant.submitted_at is None else applicant.submitted_at


def _higher_gpa(applicant: Applicant) -> float:
    if applicant.gpa is None or applicant.gpa_scale <= 0:
        return 0.0
    return -applicant.gpa / applicant.gpa_scale


TIE_BREAKS = {"earlier_submission": _earlier_submission, "higher_gpa": _higher_gpa}


def draw(application_ids: Iterable[int], seed: int) -> dict[int, int]:
    """The random draw: a permutation of the applications, fixed by the seed alone."""
    order = sorted(application_ids)
    random.Random(seed).shuffle(order)
    return dict(zip(order, range(len(order)), strict=True))


def rank(
    applicants: Sequence[Applicant],
    criteria: Sequence[Criterion],
    tie_breaks: Sequence[str],
    seed: int,
    fill: Mapping[int, Fill] | None = None,
) -> list[tuple[Applicant, Placement]]:
    """The applicants with their placements (not yet placed), best first."""
    check_criteria(criteria)
    for t in tie_breaks:
        if t not in TIE_BREAKS:
            raise AllocationInputError("unknown_tie_break", tie_break=t)
    drawn = draw((a.application_id for a in applicants), seed)
    if len(drawn) != len(applicants):
        raise AllocationInputError("duplicate_applicant")
    ids = tuple(c.id for c in criteria)
    keys = [TIE_BREAKS[t] for t in tie_breaks]
    scorers = _scorers(criteria)
    sort_keys, placements = [], []
    for a in applicants:
        total, parts = _points(a, scorers)
        sort_keys.append((-total, *[k(a) for k in keys], drawn[a.application_id]))
        placements.append(
            Placement(a.application_id, total, parts, ids, 0, choices=a.choices, fill=fill)
        )
    order = sorted(range(len(applicants)), key=sort_keys.__getitem__)
    ranked = []
    for position, i in enumerate(order, 1):
        placement = placements[i]
        placement.rank = position
        ranked.append((applicants[i], placement))
    return ranked


# --- placing ----------------------------------------------------------------------------------


class _Places:
    """Places left per offering and per quota, and who took them."""

    def __init__(self, offerings: Sequence[Offering]):
        for o in offerings:
            if o.places < 0 or any(q.places < 0 for q in o.quotas):
                raise AllocationInputError("negative_places", offering=o.id)
        self.fill = {o.id: Fill(o.places) for o in offerings}
        self.quota_fill = {(o.id, q.group): Fill(q.places) for o in offerings for q in o.quotas}
        self.quoted = {o.id for o in offerings if o.quotas}

    def blocker(
        self, offering_id: int, groups: Sequence[Group]
    ) -> tuple[Reason, Group | None] | None:
        """Why the offering cannot take an applicant of these groups now (None if it can)."""
        fill = self.fill[offering_id]
        if fill.filled >= fill.places:
            return (Reason.NO_PLACES if fill.places == 0 else Reason.FULL), None
        for group in groups:
            quota = self.quota_fill.get((offering_id, group))
            if quota is not None and quota.filled >= quota.places:
                return Reason.QUOTA_FULL, group
        return None

    def never(self, offering_id: int, groups: Sequence[Group]) -> bool:
        """Whether no freed place could ever take an applicant of these groups."""
        if self.fill[offering_id].places == 0:
            return True
        return any(
            (q := self.quota_fill.get((offering_id, g))) is not None and q.places == 0
            for g in groups
        )

    def take(self, offering_id: int, groups: Sequence[Group], rank_: int) -> None:
        self.fill[offering_id].holders.append(rank_)
        for group in groups:
            quota = self.quota_fill.get((offering_id, group))
            if quota is not None:
                quota.holders.append(rank_)


def _check_choices(applicants: Sequence[Applicant], known: set[int]) -> None:
    for a in applicants:
        for offering_id in a.choices:
            if offering_id not in known:
                raise AllocationInputError(
                    "unknown_offering", application=a.application_id, offering=offering_id
                )


def _place_overrides(ranked, overrides: Sequence[Override], places: _Places) -> None:
    rows = {a.application_id: (a, p) for a, p in ranked}
    seen: set[int] = set()
    for override in overrides:
        if override.application_id not in rows:
            raise AllocationInputError(
                "override_not_applicant", application=override.application_id
            )
        if override.offering_id not in places.fill:
            raise AllocationInputError("unknown_offering", offering=override.offering_id)
        if override.application_id in seen:
            raise AllocationInputError("two_overrides", application=override.application_id)
        seen.add(override.application_id)
    for override in sorted(overrides, key=lambda o: rows[o.application_id][1].rank):
        applicant, placement = rows[override.application_id]
        blocked = places.blocker(override.offering_id, applicant.groups)
        if blocked is not None:
            problem = "override_over_quota" if blocked[0] is Reason.QUOTA_FULL else "override_full"
            raise AllocationInputError(
                problem, application=override.application_id, offering=override.offering_id
            )
        places.take(override.offering_id, applicant.groups, placement.rank)
        placement.outcome = Outcome.PLACED
        placement.offering_id = override.offering_id
        placement.overridden = True
        choices = applicant.choices
        placement.choice = (
            choices.index(override.offering_id) + 1 if override.offering_id in choices else None
        )


def _place(applicant: Applicant, placement: Placement, places: _Places) -> None:
    choices = applicant.choices
    if places.quoted and not places.quoted.isdisjoint(choices):
        _place_quoted(applicant, placement, places)
        return
    # No quota on any choice: the first with a free place, and no notes to write (they follow
    # from the fill, see Placement.notes).
    fill = places.fill
    for choice, offering_id in enumerate(choices, 1):
        this = fill[offering_id]
        if len(this.holders) < this.places:
            this.holders.append(placement.rank)
            placement.outcome = Outcome.PLACED
            placement.offering_id = offering_id
            placement.choice = choice
            return
    for offering_id in choices:
        if fill[offering_id].places:
            placement.outcome = Outcome.WAITLISTED
            return
    placement.outcome = Outcome.NOT_PLACED


def _place_quoted(applicant: Applicant, placement: Placement, places: _Places) -> None:
    notes = []
    groups = applicant.groups
    for choice, offering_id in enumerate(applicant.choices, 1):
        blocked = places.blocker(offering_id, groups)
        if blocked is None:
            places.take(offering_id, groups, placement.rank)
            placement.outcome = Outcome.PLACED
            placement.offering_id = offering_id
            placement.choice = choice
            break
        notes.append(ChoiceNote(choice, offering_id, *blocked))
    else:
        hopeless = all(places.never(o, groups) for o in applicant.choices)
        placement.outcome = Outcome.NOT_PLACED if hopeless else Outcome.WAITLISTED
    placement.quota_notes = tuple(notes)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The run makes a few objects per applicant and none in cycles; left on, the cyclic
    collector walks the growing heap again and again (measured: about half the time at 100k
    applicants, and growing faster than n)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _promote_survivors()
            gc.enable()


def _promote_survivors() -> None:
    """Move what the run made to the oldest generation without a scan. Re-enabled as it is,
    the collector's next young collection would walk every object the run made (all young,
    and cold in the cache by now: about a tenth of the run at 100k applicants), then walk them
    again on their way to the old generation; there they wait for the next full collection,
    as objects promoted the usual way do. Skipped when the process froze objects of its own
    (gc.freeze before forking workers): unfreezing would hand those back to the collector."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def allocate(
    applicants: Sequence[Applicant],
    offerings: Sequence[Offering],
    criteria: Sequence[Criterion],
    *,
    seed: int,
    tie_breaks: Sequence[str] = ("earlier_submission", "higher_gpa"),
    overrides: Sequence[Override] = (),
) -> Allocation:
    if not applicants:
        raise AllocationInputError("no_applicants")
    with _no_cycle_collection():
        return _allocate(applicants, offerings, criteria, seed, tie_breaks, overrides)


def _allocate(applicants, offerings, criteria, seed, tie_breaks, overrides) -> Allocation:
    places = _Places(offerings)
    _check_choices(applicants, set(places.fill))
    ranked = rank(applicants, criteria, tie_breaks, seed, places.fill)
    if overrides:
        _place_overrides(ranked, overrides, places)
    for applicant, placement in ranked:
        if not placement.overridden:
            _place(applicant, placement, places)
    return Allocation(seed, [p for _a, p in ranked], places.fill, places.quota_fill)
