"""A scheme's own procedure (issue 15, "Must show" 3 and 4): optional stages, stand-alone bonus items capped per
ground and in total, weighted scorer groups, and a lower tier awarded where a veto or the score places it.

Pure functions on specs built from the shipped archives scheme with the parts under test changed; no database.
"""

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from certification import rules, scoring
from certification.exceptions import SchemeError
from certification.scheme import SchemeSpec, parse_scheme, shipped_scheme
from certification.scoring import ItemEntry

D = Decimal


def spec_with(**changes) -> SchemeSpec:
    """The archives scheme with top-level parts replaced (validated like a file)."""
    return SchemeSpec.model_validate({**shipped_scheme("archives").to_json(), **changes})


def small_rubric(*, bonus_cap="3", veto_grades=("first",)) -> dict:
    """Two items of 50 and, outside the 100 points, a bonus category of two grounds at most 2 points each."""
    return {"standard": {"max_points": "100", "categories": [
        {"code": "A", "name": "工作", "max_points": "100", "items": [
            {"code": "A1", "name": "组织", "max_points": "50"},
            {"code": "A2", "name": "校舍安全", "max_points": "50",
             "veto": {"scope": "tier", "grades": list(veto_grades), "text": "D级危房比例高于3%"}}]},
        {"code": "B", "name": "加分项目", "max_points": bonus_cap, "bonus": True, "items": [
            {"code": "B1", "name": "重大创新", "max_points": "2", "rule": {"kind": "capped_award", "points": "1"}},
            {"code": "B2", "name": "成果被采纳", "max_points": "2",
             "rule": {"kind": "capped_award", "points": "1"}}]}]},
        "special": shipped_scheme("archives").to_json()["rubrics"]["special"]}


def two_tiers(award_lower=True) -> list[dict]:
    grades = shipped_scheme("archives").to_json()["grades"]
    for grade in grades:
        if grade["code"] == "first":
            grade["award_lower"] = award_lower
    return grades


# --- Optional stages ------------------------------------------------------------------------------------
def test_the_archives_scheme_has_every_stage():
    spec = shipped_scheme("archives")
    assert all(rules.has_stage(s, scheme=spec) for s in ("precheck", "notice", "recheck"))
    assert rules.precheck_pass_transition(spec) == "pass_precheck"


def test_a_scheme_without_a_public_notice_passes_its_precheck_straight_to_the_panel():
    times = {**shipped_scheme("archives").to_json()["times"], "notice_days": 0}
    spec = spec_with(stages={"precheck": True, "notice": False, "recheck": True}, times=times)
    assert not rules.has_stage("notice", scheme=spec)
    assert rules.precheck_pass_transition(spec) == "pass_precheck_to_panel"


def test_notice_days_zero_is_refused_while_the_scheme_has_a_notice_naming_field_and_line():
    text = archives_scheme_text().replace("notice_days: 7", "notice_days: 0")
    with pytest.raises(SchemeError) as exc:
        parse_scheme(text, source="x.yaml")
    assert "notice_days" in str(exc.value) and "line" in str(exc.value)


@pytest.mark.parametrize(("precheck", "notice", "move"), [
    (True, True, "request_acceptance"),
    (False, True, "request_acceptance_to_notice"),
    (False, False, "request_acceptance_to_panel"),
])
def test_the_acceptance_request_leads_to_the_schemes_next_stage(precheck, notice, move):
    """A scheme without a pre-check sends the acceptance request on to its notice, or to the panel
    (through the pages: tests/workflows/test_flows_without_precheck.py)."""
    times = {**shipped_scheme("archives").to_json()["times"], "notice_days": 7 if notice else 0}
    spec = spec_with(stages={"precheck": precheck, "notice": notice, "recheck": True}, times=times)
    assert rules.acceptance_transition(spec) == move


def test_a_scheme_without_recheck_refuses_a_recheck_declaration():
    spec = spec_with(stages={"precheck": True, "notice": True, "recheck": False})
    declarant = rules.Declarant(level="county", certificate=None)
    refusals = rules.declaration_refusals(declarant, rules.Declaration(grade="second", kind="recheck"),
                                          today=dt.date(2026, 2, 1), scheme=spec)
    assert "recheck.not_in_scheme" in [r.code for r in refusals]


# --- Stand-alone bonus items ----------------------------------------------------------------------------
def test_bonus_items_count_outside_the_100_points_capped_per_ground_and_in_total():
    spec = spec_with(rubrics=small_rubric(bonus_cap="3"))
    result = scoring.assess({"A1": ItemEntry(), "A2": ItemEntry(), "B1": ItemEntry(units=D(5)),
                             "B2": ItemEntry(units=D("1.5"))}, scheme=spec)
    assert str(result.items["B1"].points) == "2.00"  # at most 2 per ground
    assert result.bonus_raw == D("3.50") and str(result.categories["B"].points) == "3.00"  # 3 in total
    assert str(result.total) == "103.00"


def test_a_bonus_item_that_is_not_an_award_is_refused():
    rubric = small_rubric()
    rubric["standard"]["categories"][1]["items"][0]["rule"] = {"kind": "deduction"}
    with pytest.raises(ValidationError, match="bonus item is a capped_award"):
        spec_with(rubrics=rubric)


# --- Weighted scorer groups -----------------------------------------------------------------------------
GROUPS = [{"code": "leaders", "name": "县总工会领导", "weight": "0.40"},
          {"code": "peers", "name": "其他申报单位负责人", "weight": "0.30"},
          {"code": "staff", "name": "相关部室负责人", "weight": "0.30"}]


def weighted_spec():
    panel = {**shipped_scheme("archives").to_json()["panel"], "aggregation": "weighted_groups", "groups": GROUPS}
    return spec_with(panel=panel)


def test_three_scorer_groups_weighted_40_30_30():
    spec = weighted_spec()
    # leaders 90; peers mean 80; staff 70 → 36 + 24 + 21 = 81
    pairs = [("leaders", D(90)), ("peers", D(84)), ("peers", D(76)), ("staff", D(70))]
    assert scoring.aggregate_groups(pairs, scheme=spec) == D("81.00")
    consolidation = scoring.consolidate_item([p for _g, p in pairs], D(100), scheme=spec,
                                             groups=[g for g, _p in pairs])
    assert consolidation.prefill == D("81.00")


def test_a_group_without_a_score_is_refused():
    with pytest.raises(ValueError, match="without a score"):
        scoring.aggregate_groups([("leaders", D(90))], scheme=weighted_spec())


def test_weights_must_add_up_to_one():
    panel = {**shipped_scheme("archives").to_json()["panel"], "aggregation": "weighted_groups",
             "groups": [{**GROUPS[0], "weight": "0.5"}, GROUPS[1]]}
    with pytest.raises(ValidationError, match="add up to 0.80"):
        spec_with(panel=panel)


# --- A lower tier awarded -------------------------------------------------------------------------------
def test_91_5_with_a_veto_of_the_higher_tier_is_awarded_the_lower_tier_with_the_reason():
    # seeds/004 篇5: 复评分为91.5分，基本达到“教育工作先进县”的分值要求，但…一票否决…作为“教育工作合格县”
    spec = spec_with(grades=two_tiers(), rubrics=small_rubric())
    result = scoring.assess_points({"A1": D("45"), "A2": D("46.5")}, vetoes=["A2"], scheme=spec)
    assert result.total == D("91.50")
    outcome = scoring.award(result, "first", scheme=spec)
    assert (outcome.grade, outcome.lower, outcome.reasons) == ("second", True, ("veto:A2",))


def test_a_score_below_the_declared_tier_awards_the_lower_one():
    spec = spec_with(grades=two_tiers(), rubrics=small_rubric())
    outcome = scoring.award(scoring.assess_points({"A1": D(42), "A2": D(42)}, scheme=spec), "first", scheme=spec)
    assert (outcome.grade, outcome.reasons) == ("second", ("pass_line",))


def test_without_award_lower_the_declared_tier_missed_awards_nothing():
    spec = spec_with(grades=two_tiers(award_lower=False), rubrics=small_rubric())
    result = scoring.assess_points({"A1": D("45"), "A2": D("46.5")}, vetoes=["A2"], scheme=spec)
    assert scoring.award(result, "first", scheme=spec).grade is None


def archives_scheme_text() -> str:
    from certification.scheme import shipped_scheme_file

    return shipped_scheme_file("archives").read_text(encoding="utf-8")
