import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import Case, Grade, OnsiteStep, Outcome, ScoreSheet, SheetKind, Stage
from certification.scoring import Deduction, ItemEntry
from certification.services.panels import panel_form
from certification.services.review import (
    member_sheets_visible,
    panel_consolidate,
    review_conclude,
    review_record_step,
    sheet_reopen,
)
from certification.services.sheets import sheet_record, sheet_submit
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory
from tests.worlds import sign_panel

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(archives_version, regions, bureaus):
    def make(grade="second", members=3, institution_level=InstitutionLevel.CITY, guidance=False):
        staff = UserFactory()
        permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["city"])
        region = regions["city"] if institution_level == InstitutionLevel.CITY else regions["county"]
        case = Case.objects.create(
            institution=InstitutionFactory(region=region, level=institution_level, has_system_guidance=guidance),
            scheme_version=archives_version, kind=Kind.PROMOTION, year=2026, bureau=bureaus["city"],
            grade=Grade.objects.get(version=archives_version, code=grade), declared_at=timezone.now(),
            declared_by=UserFactory(), reference=f"2026{Case.objects.count() + 42:06d}", stage=Stage.PANEL)
        experts = [ExpertFactory(pool=bureaus["city"], user=UserFactory(), term_starts_on=dt.date(2025, 1, 1),
                                 term_ends_on=dt.date(2028, 1, 1)) for _ in range(members)]
        panel = sign_panel(panel_form(actor=staff, case=case, members=experts, chair=experts[0]))
        return case, experts, panel
    return make


def items(case):
    return [i.code for _c, i in case.scheme_version.specification().rubrics["standard"].items()]


def score_all(case, expert, deductions=None):
    sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=expert)
    for code in items(case):
        points = (deductions or {}).get(code)
        entry = ItemEntry(deductions=(Deduction(points=Decimal(points), reason="现场检查发现问题"),)) if points \
            else ItemEntry()
        sheet_record(actor=expert.user, sheet=sheet, item_code=code, entry=entry)
    return sheet_submit(actor=expert.user, sheet=sheet)


def all_steps(case, chair):
    for step in OnsiteStep.values:
        review_record_step(actor=chair.user, case=case, step=step, note="已完成")


def test_a_member_sees_the_others_only_after_submitting(review):
    case, experts, _panel = review()
    score_all(case, experts[1])
    assert [s.expert for s in member_sheets_visible(experts[0].user, case)] == [experts[0]]
    score_all(case, experts[0])
    assert {s.expert for s in member_sheets_visible(experts[0].user, case)} == {experts[0], experts[1]}
    assert member_sheets_visible(UserFactory(), case) == []


def test_the_chair_reopens_a_sheet_with_a_reason(review):
    case, experts, _panel = review()
    sheet = score_all(case, experts[1])
    with pytest.raises(RuleViolation) as exc:
        sheet_reopen(actor=experts[1].user, sheet=sheet, reason="改分")
    assert exc.value.codes == ["review.not_the_chair"]
    sheet_reopen(actor=experts[0].user, sheet=sheet, reason="第8项扣分依据需补充")
    sheet.refresh_from_db()
    assert sheet.locked is False


def test_consolidation_prefills_the_mean_flags_discrepancies_and_needs_reasons_for_departures(review):
    case, experts, _panel = review()
    score_all(case, experts[0], {"8": "1"})
    score_all(case, experts[1], {"8": "5"})  # 9 vs 5 on a 10-point item: more than 30 % apart
    score_all(case, experts[2])
    with pytest.raises(RuleViolation) as exc:
        panel_consolidate(actor=experts[0].user, case=case, scores={"8": Decimal("6")})
    assert exc.value.codes == ["review.departure_unexplained"]
    sheet = panel_consolidate(actor=experts[0].user, case=case, scores={"8": Decimal("6")},
                              reasons={"8": "合议认定归档范围表未经审批"})
    line = sheet.lines.get(item_code="8")
    assert (line.points, line.entry["prefill"], line.entry["flagged"]) == (Decimal("6.00"), "8.00", True)
    assert sheet.total == Decimal("96.00")


def test_consolidation_waits_for_every_member(review):
    case, experts, _panel = review()
    score_all(case, experts[0])
    with pytest.raises(RuleViolation) as exc:
        panel_consolidate(actor=experts[0].user, case=case)
    assert exc.value.codes == ["review.sheets_pending"]


def test_the_conclusion_needs_the_six_steps_then_passes_the_case_to_approval(review):
    case, experts, _panel = review()
    for expert in experts:
        score_all(case, expert, {"9": "2"})
    panel_consolidate(actor=experts[0].user, case=case)
    with pytest.raises(RuleViolation) as exc:
        review_conclude(actor=experts[0].user, case=case, conclusion="达到省二级标准")
    assert exc.value.codes == ["review.steps_missing"]
    all_steps(case, experts[0])
    result = review_conclude(actor=experts[0].user, case=case, conclusion="达到省二级标准")
    case.refresh_from_db()
    assert (result.passed, case.stage) == (True, Stage.APPROVAL)


def test_a_confirmed_veto_fails_the_case_whatever_the_score(review):
    case, experts, _panel = review()
    for expert in experts:
        score_all(case, expert)
    # destruction without approval, found by the chair alone: a veto no member recorded needs its reason
    panel_consolidate(actor=experts[0].user, case=case, vetoes=["11"],
                      veto_reasons={"11": "现场发现2024年未经审批销毁会计档案"})
    all_steps(case, experts[0])
    review_conclude(actor=experts[0].user, case=case, conclusion="存在未经审批销毁档案情形，一票否决")
    case.refresh_from_db()
    assert (case.outcome, case.stage) == (Outcome.PANEL_FAILED, Stage.CLOSED)


def test_the_special_grade_passes_by_two_thirds_of_the_members(review):
    case, experts, _panel = review(grade="special", members=5, institution_level=InstitutionLevel.CITY,
                                   guidance=True)
    all_steps(case, experts[0])
    with pytest.raises(RuleViolation) as exc:
        review_conclude(actor=experts[0].user, case=case, conclusion="现场评议")
    assert exc.value.codes == ["review.vote_required"]
    review_conclude(actor=experts[0].user, case=case, conclusion="现场评议，3票赞成", votes_for=3)
    case.refresh_from_db()
    assert case.outcome == Outcome.PANEL_FAILED  # 3 of 5 is below two thirds


def test_the_special_grade_draws_subordinate_units_to_visit_once_with_the_seed_recorded(review):
    """The chair of a special-grade panel draws the subordinate units the panel visits: the scheme's number,
    reproducibly from the recorded seed, once; a score-decided grade has no such draw."""
    import random

    from certification.services.review import review_draw_units

    case, experts, _panel = review(grade="special", members=5, institution_level=InstitutionLevel.CITY,
                                   guidance=True)
    chair = experts[0].user
    units = [InstitutionFactory(region=case.institution.region, parent=case.institution) for _ in range(5)]
    drawn = review_draw_units(actor=chair, case=case, seed=42)
    pool = sorted(u.pk for u in units)
    assert [u.pk for u in drawn] == sorted(random.Random(42).sample(pool, 3))
    case.review.refresh_from_db()
    assert case.review.units_drawn["seed"] == 42 and case.review.units_drawn["pool"] == pool
    with pytest.raises(RuleViolation) as exc:
        review_draw_units(actor=chair, case=case)
    assert exc.value.codes == ["review.units_already_drawn"]
    with pytest.raises(RuleViolation):
        review_draw_units(actor=experts[1].user, case=case)  # only the chair
    second, second_experts, _p = review(grade="second")
    with pytest.raises(RuleViolation) as exc:
        review_draw_units(actor=second_experts[0].user, case=second)
    assert exc.value.codes == ["review.no_unit_draw"]
