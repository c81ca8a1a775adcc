"""The panel's review to the letter (issue 13): a veto the members record survives the consolidation, key
sub-criteria (★) block the grades they block, items are split among the members, the scheme's aggregation is
what the consolidation uses, and the on-site steps are recorded in order."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import (
    AuditEntry,
    Case,
    Grade,
    OnsiteStep,
    Outcome,
    Review,
    ScoreSheet,
    SheetKind,
    Stage,
)
from certification.scheme import SchemeSpec, shipped_scheme
from certification.scoring import Deduction, ItemEntry
from certification.services.assignments import assignment_set, member_items
from certification.services.panels import panel_form
from certification.services.review import (
    panel_consolidate,
    review_conclude,
    review_onsite_done,
    review_record_step,
    sheet_reopen,
)
from certification.services.schemes import scheme_load
from certification.services.sheets import sheet_record, sheet_submit
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory
from tests.worlds import sign_panel

pytestmark = pytest.mark.django_db

VETO_WHY = "现场发现2024年未经审批擅自销毁会计凭证档案"


def variant(**panel):
    """The archives scheme as its next version with other panel parameters."""
    data = shipped_scheme("archives").to_json()
    data["version"] = shipped_scheme("archives").version + 1
    data["panel"].update(panel)
    return scheme_load(spec=SchemeSpec.model_validate(data), source="variant").version


@pytest.fixture
def review(archives_version, regions, bureaus):
    def make(grade="second", members=3, version=None):
        version = version or archives_version
        staff = UserFactory()
        permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["city"])
        case = Case.objects.create(
            institution=InstitutionFactory(region=regions["city"], level=InstitutionLevel.CITY),
            scheme_version=version, kind=Kind.PROMOTION, year=2026, bureau=bureaus["city"],
            grade=Grade.objects.get(version=version, code=grade), declared_at=timezone.now(),
            declared_by=UserFactory(), reference=f"2026{Case.objects.count() + 77:06d}", stage=Stage.PANEL)
        experts = [ExpertFactory(pool=bureaus["city"], user=UserFactory(), name=f"评审专家{n}",
                                 term_starts_on=dt.date(2025, 1, 1), term_ends_on=dt.date(2028, 1, 1))
                   for n in range(members)]
        sign_panel(panel_form(actor=staff, case=case, members=experts, chair=experts[0]))
        return case, experts
    return make


def codes(case):
    return [i.code for _c, i in case.scheme_version.specification().rubric_for(case.grade.code).items()]


def score(case, expert, entries=None, *, submit=True):
    """The member scores their items (``entries`` by code, else nothing lost) and submits."""
    sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=expert)
    for code in member_items(case, expert):
        sheet_record(actor=expert.user, sheet=sheet, item_code=code, entry=(entries or {}).get(code, ItemEntry()))
    return sheet_submit(actor=expert.user, sheet=sheet) if submit else sheet


def conclude(case, chair):
    for step in OnsiteStep.values:
        review_record_step(actor=chair.user, case=case, step=step)
    review_conclude(actor=chair.user, case=case, conclusion="合议结论")
    case.refresh_from_db()
    return case.review.passed, case.outcome


def lose(points, reason="现场检查发现问题"):
    return ItemEntry(deductions=(Deduction(points=Decimal(points), reason=reason),))


VETOED = {"9": lose("8.5"), "11": ItemEntry(veto=True, veto_reason=VETO_WHY)}  # 91.5 points and a veto


# --- 1. Vetoes -------------------------------------------------------------------------------------------------
def test_a_veto_every_member_recorded_fails_the_case_when_the_chair_consolidates_with_the_defaults(review):
    case, experts = review()
    for expert in experts:
        score(case, expert, VETOED)
    sheet = panel_consolidate(actor=experts[0].user, case=case)
    assert (sheet.total, Review.objects.get(case=case).vetoes) == (Decimal("91.50"), ["11"])
    assert sheet.lines.get(item_code="11").entry["veto"] is True
    assert conclude(case, experts[0]) == (False, Outcome.PANEL_FAILED)


def test_dropping_a_veto_a_member_recorded_needs_a_reason_which_is_audited(review):
    case, experts = review()
    score(case, experts[0], VETOED)
    score(case, experts[1], {"9": lose("8.5")})
    score(case, experts[2], {"9": lose("8.5")})
    with pytest.raises(RuleViolation) as exc:
        panel_consolidate(actor=experts[0].user, case=case, vetoes=[])
    assert [(r.code, r.message, r.params["field"]) for r in exc.value.refusals] == [
        ("review.veto_departure_unexplained", "第11项：评审专家0记录了一票否决；撤销须说明理由。", "veto_reason_11")]
    assert not case.sheets.filter(kind=SheetKind.PANEL).exists()

    panel_consolidate(actor=experts[0].user, case=case, vetoes=[], veto_reasons={"11": "经核实，销毁已补办审批手续"})
    entry = AuditEntry.objects.get(action="review.consolidate")
    assert (entry.after["vetoes"], entry.after["veto_departures"]) == ([], {"11": {
        "confirmed": False, "reason": "经核实，销毁已补办审批手续", "members": ["评审专家0"]}})
    assert conclude(case, experts[0]) == (True, Outcome.OPEN)


def test_a_member_confirms_a_veto_only_with_its_reason(review):
    case, experts = review()
    sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=experts[1])
    with pytest.raises(RuleViolation) as exc:
        sheet_record(actor=experts[1].user, sheet=sheet, item_code="11", entry=ItemEntry(veto=True))
    assert [(r.code, r.message) for r in exc.value.refusals] == [("sheet.veto_reason_required",
                                                                  "确认一票否决须写明理由。")]


# --- 2. Key sub-criteria ---------------------------------------------------------------------------------------
UNMET_5B = {"5": ItemEntry(unmet=frozenset({"b"}), reason="库房与办公室合用，未做到三分开")}


def test_a_case_for_first_whose_members_found_5b_failed_does_not_pass(review):
    case, experts = review(grade="first")
    for expert in experts:
        score(case, expert, UNMET_5B)
    sheet = panel_consolidate(actor=experts[0].user, case=case)
    assert (sheet.total, Review.objects.get(case=case).key_failures, sheet.lines.get(item_code="5").entry["key_failed"]) == (
        Decimal("97.00"), ["5.b"], ["b"])
    assert conclude(case, experts[0]) == (False, Outcome.PANEL_FAILED)


def test_passing_a_key_sub_criterion_the_members_failed_needs_a_reason(review):
    case, experts = review(grade="first")
    score(case, experts[0], UNMET_5B)
    score(case, experts[1])
    score(case, experts[2])
    with pytest.raises(RuleViolation) as exc:
        panel_consolidate(actor=experts[0].user, case=case, key_failures=[])
    assert [(r.code, r.message) for r in exc.value.refusals] == [
        ("review.key_departure_unexplained", "关键子项5.b：评审专家0认定未达到；认定达到须说明理由。")]
    panel_consolidate(actor=experts[0].user, case=case, key_failures=[],
                      key_reasons={"5.b": "复核平面图，阅览室独立设置"})
    assert conclude(case, experts[0]) == (True, Outcome.OPEN)


# --- 3. Item assignment ----------------------------------------------------------------------------------------
def test_the_chair_confirms_the_proposed_split_and_members_score_only_their_items(review):
    case, experts = review()
    assignment = assignment_set(actor=experts[0].user, case=case)
    assert [member_items(case, e) for e in experts] == [
        ["8", "9", "10", "11", "12"], ["1", "2", "3", "4", "16", "17", "18"], ["5", "6", "7", "13", "14", "15"]]
    assert assignment.items == assignment.proposed
    assert AuditEntry.objects.filter(action="review.assign").count() == 1

    sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=experts[1])
    with pytest.raises(RuleViolation) as exc:
        sheet_record(actor=experts[1].user, sheet=sheet, item_code="8", entry=ItemEntry())
    assert [(r.code, r.message) for r in exc.value.refusals] == [("sheet.not_assigned", "第8项不在分配给您的评分项目中。")]
    sheet_record(actor=experts[1].user, sheet=sheet, item_code="1", entry=ItemEntry())
    with pytest.raises(RuleViolation) as exc:
        sheet_submit(actor=experts[1].user, sheet=sheet)
    assert exc.value.refusals[0].params["items"] == ["2", "3", "4", "16", "17", "18"]
    for expert in experts:
        score(case, expert)
    assert panel_consolidate(actor=experts[0].user, case=case).total == Decimal("100.00")


def test_a_split_leaving_an_item_to_nobody_or_taking_a_scored_item_away_is_refused(review):
    case, experts = review()
    pks = [e.pk for e in experts]
    split = {pks[0]: codes(case)[:10], pks[1]: codes(case)[10:17], pks[2]: []}
    with pytest.raises(RuleViolation) as exc:
        assignment_set(actor=experts[0].user, case=case, items=split)
    assert [(r.code, r.message) for r in exc.value.refusals] == [
        ("assignment.items_uncovered", "以下项目无人评分：18。")]
    with pytest.raises(RuleViolation) as exc:
        assignment_set(actor=experts[1].user, case=case)
    assert exc.value.codes == ["review.not_the_chair"]

    score(case, experts[2], submit=False)  # before any split, a member scores every item
    with pytest.raises(RuleViolation) as exc:
        assignment_set(actor=experts[0].user, case=case)
    assert exc.value.codes == ["assignment.already_scored"]
    assert not AuditEntry.objects.filter(action="review.assign").exists()


def test_without_a_split_every_member_scores_every_item(review):
    case, experts = review()
    sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=experts[1])
    sheet_record(actor=experts[1].user, sheet=sheet, item_code="8", entry=ItemEntry())
    with pytest.raises(RuleViolation) as exc:
        sheet_submit(actor=experts[1].user, sheet=sheet)
    assert len(exc.value.refusals[0].params["items"]) == 17


def test_a_scheme_where_every_member_scores_every_item_refuses_a_split(review):
    case, experts = review(version=variant(every_member_scores_every_item=True))
    pks = [e.pk for e in experts]
    with pytest.raises(RuleViolation) as exc:
        assignment_set(actor=experts[0].user, case=case, items={pks[0]: codes(case)[:9], pks[1]: codes(case)[9:],
                                                                pks[2]: codes(case)})
    assert exc.value.codes == ["assignment.every_member_every_item"]
    assignment_set(actor=experts[0].user, case=case)  # the proposal: every item to every member
    assert member_items(case, experts[1]) == codes(case)


def test_a_submitted_members_share_changes_only_after_the_chair_reopens_the_sheet(review):
    case, experts = review()
    assignment_set(actor=experts[0].user, case=case)
    sheet = score(case, experts[1])
    pks = [e.pk for e in experts]
    moved = {pks[0]: member_items(case, experts[0]) + ["18"], pks[1]: member_items(case, experts[1])[:-1],
             pks[2]: member_items(case, experts[2])}
    with pytest.raises(RuleViolation) as exc:
        assignment_set(actor=experts[0].user, case=case, items=moved)
    assert exc.value.codes == ["assignment.sheet_submitted"]
    sheet_reopen(actor=experts[0].user, sheet=sheet, reason="第18项改由组长评分")
    with pytest.raises(RuleViolation) as exc:  # the member has scored item 18 already
        assignment_set(actor=experts[0].user, case=case, items=moved)
    assert exc.value.codes == ["assignment.already_scored"]


# --- 3b. Aggregation -------------------------------------------------------------------------------------------
def test_a_trimmed_mean_scheme_drops_each_items_highest_and_lowest_proposals(review):
    case, experts = review(members=5, version=variant(aggregation="trimmed_mean"))
    for expert, lost in zip(experts, ("0", "1", "2", "2", "10"), strict=True):
        score(case, expert, {"9": lose(lost)} if lost != "0" else {})
    with pytest.raises(RuleViolation) as exc:  # the formula is the panel's score
        panel_consolidate(actor=experts[0].user, case=case, scores={"9": Decimal("9")}, reasons={"9": "合议"})
    assert exc.value.codes == ["review.formula_aggregation"]
    sheet = panel_consolidate(actor=experts[0].user, case=case)
    line = sheet.lines.get(item_code="9")
    # proposals 10, 9, 8, 8, 0: the mean would be 7.00; without 10 and 0 it is 8.33
    assert (line.points, line.entry["prefill"], sheet.total) == (Decimal("8.33"), "8.33", Decimal("98.33"))


def test_a_mean_scheme_takes_the_mean_of_each_items_proposals(review):
    case, experts = review(members=5, version=variant(aggregation="mean"))
    for expert, lost in zip(experts, ("0", "1", "2", "2", "10"), strict=True):
        score(case, expert, {"9": lose(lost)} if lost != "0" else {})
    assert panel_consolidate(actor=experts[0].user, case=case).lines.get(item_code="9").points == Decimal("7.00")


# --- 4. The on-site steps ---------------------------------------------------------------------------------------
def test_the_on_site_steps_are_recorded_in_their_order_and_all_six_close_the_record(review):
    case, experts = review()
    chair = experts[0].user
    with pytest.raises(RuleViolation) as exc:
        review_record_step(actor=chair, case=case, step=OnsiteStep.INSPECT)
    assert [(r.code, r.message) for r in exc.value.refusals] == [
        ("review.steps_out_of_order", "请按顺序记录现场评审环节，先记录：听取目标管理工作及自查情况汇报。")]
    review_record_step(actor=chair, case=case, step=OnsiteStep.HEAR_REPORT)
    with pytest.raises(RuleViolation) as exc:
        review_onsite_done(actor=chair, case=case)
    assert exc.value.codes == ["review.steps_missing"]
    for step in OnsiteStep.values[1:]:
        review_record_step(actor=chair, case=case, step=step)
    assert review_onsite_done(actor=chair, case=case).steps.keys() == set(OnsiteStep.values)


def test_the_reason_for_a_sub_criterion_not_met_reaches_the_scoring_form_and_the_rectification_list(review):
    from certification.documents import _item_rows

    case, experts = review()
    for expert in experts:
        score(case, expert, UNMET_5B)
    panel_consolidate(actor=experts[0].user, case=case)
    rows, _totals = _item_rows(case, with_panel=True)
    row = next(r for r in rows if r["code"] == "5")
    assert (row["panel_score"], row["panel_reasons"]) == ("5.00", ["库房与办公室合用，未做到三分开"])
