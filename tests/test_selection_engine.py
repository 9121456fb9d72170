"""The allocation engine on its own (no database): properties on random instances
(hypothesis), and the cases a coordinator meets: equal scores, offerings with no places,
quotas, overrides, scores out of range."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.selection.engine import (
    Allocation,
    AllocationInputError,
    Applicant,
    Criterion,
    Offering,
    Outcome,
    Override,
    Quota,
    Reason,
    allocate,
    score,
)

CRITERIA = (
    Criterion(1, "gpa", 60.0),
    Criterion(2, "language", 30.0),
    Criterion(3, "committee", 10.0, 5.0),
)
LEVELS = ("bachelor", "master", "doctoral")
CEFR = ("A1", "A2", "B1", "B2", "C1", "C2")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw):
    """Offerings (some with no places, some with quotas), applicants with up to three ranked
    choices, and overrides that fit (so that the instance can be allocated)."""
    n_offerings = draw(st.integers(1, 6))
    offering_ids = list(range(101, 101 + n_offerings))
    offerings = []
    for oid in offering_ids:
        places = draw(st.integers(0, 4))
        quotas = []
        if draw(st.booleans()):
            quotas.append(Quota(("unit", draw(st.integers(1, 3))), draw(st.integers(0, 3))))
        if draw(st.booleans()):
            quotas.append(Quota(("level", draw(st.sampled_from(LEVELS))), draw(st.integers(0, 3))))
        offerings.append(Offering(oid, places, tuple(quotas)))
    n_applicants = draw(st.integers(1, 30))
    applicants = []
    for app_id in range(1, n_applicants + 1):
        choices = draw(st.permutations(offering_ids))[: draw(st.integers(1, 3))]
        applicants.append(
            Applicant(
                app_id,
                tuple(choices),
                # few distinct values, so that equal totals (ties) are common
                gpa=draw(st.sampled_from([None, 2.0, 3.0, 3.5, 4.0])),
                languages=tuple(
                    (("en", draw(st.sampled_from(CEFR))),) if draw(st.booleans()) else ()
                ),
                committee={3: draw(st.sampled_from([0.0, 2.5, 5.0]))},
                submitted_at=draw(st.sampled_from([None, 100.0, 200.0])),
                unit_id=draw(st.integers(1, 3)),
                degree_level=draw(st.sampled_from(LEVELS)),
            )
        )
    overrides = _fitting_overrides(draw, applicants, offerings)
    tie_breaks = draw(
        st.sampled_from([(), ("earlier_submission",), ("higher_gpa", "earlier_submission")])
    )
    return applicants, offerings, overrides, tie_breaks


def _fitting_overrides(draw, applicants, offerings):
    taken: dict = {}
    overrides = []
    for applicant in applicants:
        if not draw(st.integers(0, 5)) == 0:
            continue
        offering = draw(st.sampled_from(offerings))
        keys = [offering.id] + [
            (offering.id, q.group) for q in offering.quotas if q.group in _groups(applicant)
        ]
        limits = [offering.places] + [
            q.places for q in offering.quotas if q.group in _groups(applicant)
        ]
        if all(taken.get(k, 0) < limit for k, limit in zip(keys, limits, strict=True)):
            for k in keys:
                taken[k] = taken.get(k, 0) + 1
            overrides.append(Override(applicant.application_id, offering.id))
    return overrides


def _groups(applicant):
    return (("unit", applicant.unit_id), ("level", applicant.degree_level))


def _run(instance, seed=7):
    applicants, offerings, overrides, tie_breaks = instance
    return allocate(
        applicants, offerings, CRITERIA, seed=seed, tie_breaks=tie_breaks, overrides=overrides
    )


@PROPERTY
@given(instances())
def test_no_offering_over_capacity_or_quota(instance):
    result = _run(instance)
    applicants = {a.application_id: a for a in instance[0]}
    for offering in instance[1]:
        holders = [p for p in result.placements if p.offering_id == offering.id]
        assert len(holders) <= offering.places
        assert result.fill[offering.id].filled == len(holders)
        for quota in offering.quotas:
            in_group = [h for h in holders if quota.group in _groups(applicants[h.application_id])]
            assert len(in_group) <= quota.places


@PROPERTY
@given(instances())
def test_nobody_is_placed_below_a_choice_that_had_a_place_at_their_turn(instance):
    """Replays the result in rank order: at each applicant's turn, every choice above the one
    they got (all of them, if they got none) was full for them, and the one they got was not."""
    applicants, offerings, overrides, _ = instance
    result = _run(instance)
    by_id = {a.application_id: a for a in applicants}
    places = {o.id: o.places for o in offerings}
    quotas = {(o.id, q.group): q.places for o in offerings for q in o.quotas}
    used: dict = {}

    def free(offering_id, applicant):
        keys = [(offering_id, g) for g in _groups(applicant) if (offering_id, g) in quotas]
        return used.get(offering_id, 0) < places[offering_id] and all(
            used.get(k, 0) < quotas[k] for k in keys
        )

    def take(offering_id, applicant):
        for k in [offering_id] + [(offering_id, g) for g in _groups(applicant)]:
            used[k] = used.get(k, 0) + 1

    overridden = {o.application_id: o.offering_id for o in overrides}
    for app_id, offering_id in overridden.items():
        take(offering_id, by_id[app_id])
    for placement in result.placements:
        applicant = by_id[placement.application_id]
        if placement.overridden:
            assert overridden[placement.application_id] == placement.offering_id
            continue
        got = placement.choice or len(applicant.choices) + 1
        for offering_id in applicant.choices[: got - 1]:
            assert not free(offering_id, applicant)
        assert [n.offering_id for n in placement.notes] == list(applicant.choices[: got - 1])
        if placement.outcome is Outcome.PLACED:
            assert applicant.choices[got - 1] == placement.offering_id
            assert free(placement.offering_id, applicant)
            take(placement.offering_id, applicant)


@PROPERTY
@given(instances(), st.integers(0, 2**32))
def test_same_data_and_seed_give_the_same_result_in_any_input_order(instance, seed):
    applicants, offerings, overrides, tie_breaks = instance
    first = _summary(_run(instance, seed))
    shuffled = list(applicants)
    random.Random(seed).shuffle(shuffled)
    again = allocate(
        shuffled, offerings, CRITERIA, seed=seed, tie_breaks=tie_breaks, overrides=overrides
    )
    assert _summary(again) == first


@PROPERTY
@given(instances())
def test_overrides_are_respected_and_ranking_follows_scores_then_tie_breaks(instance):
    applicants, _offerings, overrides, tie_breaks = instance
    result = _run(instance)
    placed = result.by_application()
    for override in overrides:
        assert placed[override.application_id].offering_id == override.offering_id
        assert placed[override.application_id].overridden
    assert sum(p.overridden for p in result.placements) == len(overrides)
    assert [p.rank for p in result.placements] == list(range(1, len(applicants) + 1))
    by_id = {a.application_id: a for a in applicants}
    for before, after in zip(result.placements, result.placements[1:], strict=False):
        assert before.score >= after.score
        if before.score == after.score and tie_breaks and tie_breaks[0] == "earlier_submission":
            first, second = by_id[before.application_id], by_id[after.application_id]
            assert (first.submitted_at or float("inf")) <= (second.submitted_at or float("inf"))


@PROPERTY
@given(instances())
def test_waitlisted_only_when_a_freed_place_could_reach_them(instance):
    applicants, offerings, _overrides, _tb = instance
    result = _run(instance)
    by_id = {a.application_id: a for a in applicants}
    offering = {o.id: o for o in offerings}

    def possible(offering_id, applicant):
        o = offering[offering_id]
        return o.places > 0 and all(q.places > 0 for q in o.quotas if q.group in _groups(applicant))

    for placement in result.placements:
        applicant = by_id[placement.application_id]
        if placement.outcome is Outcome.WAITLISTED:
            assert any(possible(o, applicant) for o in applicant.choices)
        elif placement.outcome is Outcome.NOT_PLACED:
            assert not any(possible(o, applicant) for o in applicant.choices)


def _summary(result: Allocation):
    return [
        (p.application_id, p.rank, p.score, p.outcome, p.offering_id, p.choice)
        for p in result.placements
    ]


# --- cases --------------------------------------------------------------------------------------


def _applicant(app_id, choices, gpa=3.0, **kwargs):
    kwargs.setdefault("committee", {3: 2.5})
    return Applicant(app_id, tuple(choices), gpa=gpa, **kwargs)


def test_scores_are_weights_times_fractions_with_their_parts():
    applicant = _applicant(
        1, [101], gpa=3.6, languages=(("en", "B2"), ("de", "C1")), committee={3: 4.0}
    )
    total, parts = score(applicant, CRITERIA)
    assert parts == {1: 54.0, 2: 25.0, 3: 8.0}  # 60 x 3.6/4, 30 x C1 (5/6), 10 x 4/5
    assert total == 87.0
    english_only = Criterion(2, "language", 30.0, language="en")
    assert score(applicant, [english_only]) == (20.0, {2: 20.0})  # B2: 4/6 of 30


def test_the_explanation_data_names_the_full_choice_and_who_filled_it():
    offerings = [Offering(101, 2), Offering(102, 5)]
    applicants = [_applicant(i, [101, 102], gpa=4.0 - i / 10) for i in range(1, 5)]
    result = allocate(applicants, offerings, CRITERIA, seed=1)
    third = result.by_application()[3]
    assert (third.rank, third.choice, third.offering_id) == (3, 2, 102)
    assert third.notes[0].reason is Reason.FULL and third.notes[0].offering_id == 101
    assert result.fill[101].holders == [1, 2]
    assert (result.fill[101].places, result.fill[101].filled, result.fill[102].filled) == (2, 2, 2)


def test_equal_scores_go_by_the_configured_tie_breaks_then_the_seeded_draw():
    offerings = [Offering(101, 1)]
    late_high = _applicant(1, [101], gpa=3.0, submitted_at=200.0)
    early_low = _applicant(2, [101], gpa=3.0, submitted_at=100.0)
    result = allocate([late_high, early_low], offerings, CRITERIA, seed=5)
    assert result.placements[0].application_id == 2  # earlier submission first
    same = [_applicant(i, [101], submitted_at=100.0) for i in range(1, 30)]
    winners = {
        allocate(same, offerings, CRITERIA, seed=s, tie_breaks=()).placements[0].application_id
        for s in range(20)
    }
    assert len(winners) > 1  # the draw depends on the seed
    again = allocate(same, offerings, CRITERIA, seed=3, tie_breaks=())
    assert _summary(again) == _summary(allocate(same, offerings, CRITERIA, seed=3, tie_breaks=()))


def test_higher_gpa_breaks_ties_when_it_comes_first():
    criteria = [Criterion(3, "committee", 10.0, 5.0)]  # the GPA itself does not count
    low = _applicant(1, [101], gpa=2.0, submitted_at=100.0)
    high = _applicant(2, [101], gpa=3.9, submitted_at=200.0)
    result = allocate([low, high], [Offering(101, 1)], criteria, seed=1, tie_breaks=("higher_gpa",))
    assert [p.application_id for p in result.placements] == [2, 1]


def test_an_offering_with_no_places_places_nobody_and_says_so():
    result = allocate(
        [_applicant(1, [101, 102]), _applicant(2, [101])],
        [Offering(101, 0), Offering(102, 1)],
        CRITERIA,
        seed=1,
    )
    first, second = sorted(result.placements, key=lambda p: p.application_id)
    assert first.notes[0].reason is Reason.NO_PLACES and first.choice == 2
    assert second.outcome is Outcome.NOT_PLACED  # its only choice can never take anyone


def test_a_quota_keeps_places_from_one_unit():
    offering = Offering(101, 3, (Quota(("unit", 1), 1),))
    applicants = [_applicant(i, [101], gpa=4.0 - i / 10, unit_id=1) for i in range(1, 4)]
    applicants.append(_applicant(9, [101], gpa=1.0, unit_id=2))
    result = allocate(applicants, [offering], CRITERIA, seed=1).by_application()
    assert result[1].outcome is Outcome.PLACED
    assert result[2].outcome is Outcome.WAITLISTED
    assert result[2].notes[0].reason is Reason.QUOTA_FULL
    assert result[2].notes[0].group == ("unit", 1)
    assert result[9].outcome is Outcome.PLACED  # lowest score, but another unit


def test_an_override_takes_its_place_first_and_the_rest_is_recomputed():
    applicants = [_applicant(i, [101, 102], gpa=4.0 - i / 10) for i in range(1, 4)]
    offerings = [Offering(101, 1), Offering(102, 2)]
    plain = allocate(applicants, offerings, CRITERIA, seed=1).by_application()
    assert plain[1].offering_id == 101
    moved = allocate(applicants, offerings, CRITERIA, seed=1, overrides=[Override(3, 101)])
    result = moved.by_application()
    assert result[3].offering_id == 101 and result[3].overridden and result[3].choice == 1
    assert result[1].offering_id == 102 and result[1].notes[0].reason is Reason.FULL
    assert moved.fill[101].holders == [3]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"applicants": []}, "no_applicants"),
        ({"overrides": [Override(1, 101), Override(2, 101)]}, "override_full"),
        ({"overrides": [Override(1, 999)]}, "unknown_offering"),
        ({"overrides": [Override(77, 101)]}, "override_not_applicant"),
        ({"applicants": [_applicant(1, [101], committee={3: 6.0})]}, "score_out_of_range"),
        ({"applicants": [_applicant(1, [101], committee={3: -1.0})]}, "score_out_of_range"),
        ({"applicants": [_applicant(1, [101], committee={})]}, "missing_score"),
        ({"applicants": [_applicant(1, [555])]}, "unknown_offering"),
        ({"applicants": [_applicant(1, [101]), _applicant(1, [101])]}, "duplicate_applicant"),
        ({"applicants": [_applicant(1, [101], gpa=5.0)]}, "gpa_out_of_scale"),
        ({"tie_breaks": ["alphabetical"]}, "unknown_tie_break"),
    ],
)
def test_bad_input_is_refused_with_the_rule_it_breaks(kwargs, problem):
    args = {
        "applicants": [_applicant(1, [101]), _applicant(2, [101])],
        "offerings": [Offering(101, 1)],
        "criteria": CRITERIA,
        "seed": 1,
    } | kwargs
    with pytest.raises(AllocationInputError) as caught:
        allocate(**args)
    assert caught.value.problem == problem
