"""Panel members (DESIGN §3.4): conflicts are enforced, and the proposal is a replayable draw."""

import datetime as dt

import pytest

from certification import rules
from certification.exceptions import RuleViolation
from certification.scheme import shipped_scheme

ARCHIVES = shipped_scheme("archives")

TODAY = dt.date(2026, 6, 1)
CASE = rules.PanelCase(institution_id=100, system_id=10, grade="second", prechecker_user_id=900)


def codes(candidate, case=CASE, today=TODAY):
    return [r.code for r in rules.expert_conflicts(candidate, case, today=today, scheme=ARCHIVES)]


def test_an_unrelated_expert_has_no_conflict():
    assert codes(rules.Candidate(expert_id=1, employer_id=200, system_id=20)) == []


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (rules.Candidate(expert_id=1, employer_id=100), ["panel.own_institution"]),
        (rules.Candidate(expert_id=1, employer_id=10), ["panel.same_system"]),
        (rules.Candidate(expert_id=1, system_id=10), ["panel.same_system"]),
        (rules.Candidate(expert_id=1, declared_conflicts=frozenset({100})), ["panel.declared_conflict"]),
        (rules.Candidate(expert_id=1, user_id=900), ["panel.prechecker"]),
        (rules.Candidate(expert_id=1, term=(dt.date(2023, 1, 1), dt.date(2026, 5, 31))), ["panel.out_of_term"]),
        (rules.Candidate(expert_id=1, grades=("first",)), ["panel.grade"]),
    ],
)
def test_each_conflict_is_named(candidate, expected):
    assert codes(candidate) == expected


@pytest.mark.parametrize(
    ("ended_on", "conflicted"),
    [(None, True), (dt.date(2023, 6, 2), True), (dt.date(2023, 6, 1), False), (dt.date(2020, 1, 1), False)],
)
def test_past_employment_conflicts_for_three_years(ended_on, conflicted):
    candidate = rules.Candidate(expert_id=1, past_employers=((100, ended_on),))
    assert (codes(candidate) == ["panel.recent_employment"]) is conflicted


def test_every_conflict_says_what_would_satisfy_it():
    refusals = rules.expert_conflicts(rules.Candidate(expert_id=7, employer_id=100), CASE, today=TODAY, scheme=ARCHIVES)
    assert all(r.rule and r.message and r.satisfy and r.params == {"expert": 7} for r in refusals)


def _pool(n, **overrides):
    return [rules.Candidate(expert_id=i, employer_id=1000 + i, **overrides) for i in range(1, n + 1)]


def propose(candidates, **kwargs):
    defaults = {"bureau_level": "city", "institution_level": "city", "seed": 42, "today": TODAY, "scheme": ARCHIVES}
    return rules.propose_panel(candidates, CASE, **{**defaults, **kwargs})


def test_proposal_has_the_minimum_size_by_default_and_excludes_conflicts():
    pool = [*_pool(6), rules.Candidate(expert_id=99, employer_id=100)]
    proposal = propose(pool)
    assert len(proposal.members) == 3  # same level: 3-5
    assert 99 not in proposal.members
    assert proposal.excluded == {99: ("panel.own_institution",)}


def test_the_same_seed_draws_the_same_panel_and_another_seed_may_not():
    pool = _pool(12)
    assert propose(pool, seed=7).members == propose(pool, seed=7).members
    assert len({propose(pool, seed=s).members for s in range(20)}) > 1


def test_the_least_loaded_experts_are_drawn_first():
    pool = [rules.Candidate(expert_id=i, load=0 if i <= 3 else 2) for i in range(1, 9)]
    assert sorted(propose(pool).members) == [1, 2, 3]


def test_a_size_outside_the_rule_is_refused():
    with pytest.raises(RuleViolation) as exc:
        propose(_pool(10), size=6)
    assert exc.value.codes == ["panel.size"]
    assert exc.value.refusals[0].params == {"min": 3, "max": 5}


def test_a_pool_too_small_is_refused_with_the_numbers():
    with pytest.raises(RuleViolation) as exc:
        propose(_pool(4), bureau_level="province", institution_level="city")  # one level down: 5-7
    assert exc.value.codes == ["panel.pool_too_small"]
    assert exc.value.refusals[0].params == {"eligible": 4, "size": 5}
