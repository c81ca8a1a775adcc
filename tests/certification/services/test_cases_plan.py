import pytest
from django.http import Http404
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Grade, Outcome, Stage
from certification.selectors import case_get_for_user_or_404, cases_for_user
from certification.services.cases import (
    case_cancel,
    case_forward,
    case_plan_include,
    case_plan_return,
    case_withdraw,
)
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(bureaus):
    def staff(bureau):
        user = UserFactory()
        permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureau)
        return user
    return {level: staff(bureau) for level, bureau in bureaus.items()}


def make_case(archives_version, institution, bureau, grade="second", forwarding_bureau=None):
    applicant = UserFactory()
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    case = Case.objects.create(
        institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026, bureau=bureau,
        grade=Grade.objects.get(version=archives_version, code=grade), declared_at=timezone.now(),
        declared_by=applicant, reference=f"2026{Case.objects.count() + 1:06d}", forwarding_bureau=forwarding_bureau,
    )
    return case, applicant


@pytest.fixture
def county_case(archives_version, regions, bureaus):
    institution = InstitutionFactory(name="县财政局", region=regions["county"], level=InstitutionLevel.COUNTY)
    return make_case(archives_version, institution, bureaus["county"])


def test_the_assessing_bureau_includes_a_declaration_in_its_plan(county_case, people):
    case, _applicant = county_case
    case_plan_include(actor=people["county"], case=case)
    case.refresh_from_db()
    assert case.stage == Stage.PLANNED
    assert AuditEntry.objects.get(action="case.plan_include").actor == people["county"]


def test_another_bureau_cannot_include_it_and_nothing_changes(county_case, people):
    case, _applicant = county_case
    with pytest.raises(RuleViolation) as exc:
        case_plan_include(actor=people["city"], case=case)
    assert exc.value.codes == ["permission.denied"]
    case.refresh_from_db()
    assert case.stage == Stage.DECLARED


def test_acting_twice_says_the_action_is_no_longer_open(county_case, people):
    case, _applicant = county_case
    case_plan_include(actor=people["county"], case=case)
    with pytest.raises(RuleViolation) as exc:
        case_plan_include(actor=people["county"], case=case)
    assert exc.value.codes == ["case.not_at_this_stage"]
    assert exc.value.refusals[0].message == f"案件{case.reference}当前处于“已列入考评计划：自查”阶段，此项操作已不可办理。"
    assert AuditEntry.objects.filter(action="case.plan_include").count() == 1


def test_returning_a_declaration_needs_a_reason_and_ends_the_case(county_case, people):
    case, _applicant = county_case
    with pytest.raises(RuleViolation) as exc:
        case_plan_return(actor=people["county"], case=case, reason=" ")
    assert exc.value.codes == ["case.reason_required"]
    case_plan_return(actor=people["county"], case=case, reason="本年度考评计划已满")
    case.refresh_from_db()
    assert (case.stage, case.outcome, case.outcome_reason) == (Stage.CLOSED, Outcome.PLAN_REFUSED, "本年度考评计划已满")


def test_a_special_declaration_from_a_county_reaches_the_province_through_the_city(archives_version, regions,
                                                                                  bureaus, people):
    institution = InstitutionFactory(region=regions["county"], level=InstitutionLevel.COUNTY,
                                     has_system_guidance=True)
    case, _applicant = make_case(archives_version, institution, bureaus["province"], grade="special",
                                 forwarding_bureau=bureaus["city"])
    with pytest.raises(RuleViolation) as exc:
        case_plan_include(actor=people["province"], case=case)
    assert exc.value.codes == ["case.not_forwarded"]
    with pytest.raises(RuleViolation):
        case_forward(actor=people["county"], case=case)  # the county bureau does not forward
    with at(2026, 3, 2, 9, 0):  # within the first quarter (第十条)
        case_forward(actor=people["city"], case=case)
    case_plan_include(actor=people["province"], case=case)
    case.refresh_from_db()
    assert (case.forwarded_at is not None, case.stage) == (True, Stage.PLANNED)
    assert case_get_for_user_or_404(people["city"], case.pk) == case  # the city bureau sees what it forwards


def test_the_applicant_withdraws_and_a_stranger_cannot(county_case, regions):
    case, applicant = county_case
    stranger = UserFactory()
    permissions.role_grant(user=stranger, role=Role.APPLICANT, obj=InstitutionFactory(region=regions["county"]))
    with pytest.raises(RuleViolation):
        case_withdraw(actor=stranger, case=case, reason="不想申报了")
    case_withdraw(actor=applicant, case=case, reason="机构改革，暂缓申报")
    case.refresh_from_db()
    assert case.outcome == Outcome.WITHDRAWN


def test_the_bureau_cancels_with_a_reason_and_the_case_is_kept(county_case, people):
    case, _applicant = county_case
    case_cancel(actor=people["county"], case=case, reason="申报材料弄虚作假")
    assert Case.objects.get(pk=case.pk).outcome == Outcome.CANCELLED


def test_each_user_sees_only_the_cases_they_may(county_case, people, archives_version, regions, bureaus):
    case, applicant = county_case
    other_case, other_applicant = make_case(
        archives_version, InstitutionFactory(region=regions["county"], level=InstitutionLevel.COUNTY),
        bureaus["county"])
    assert list(cases_for_user(applicant)) == [case]
    assert case_get_for_user_or_404(people["county"], case.pk) == case
    for outsider, pk in ((other_applicant, case.pk), (UserFactory(), case.pk), (applicant, 10**9)):
        with pytest.raises(Http404):
            case_get_for_user_or_404(outsider, pk)
    # the staff of the bureaus above read it (第九条, 第十二条: oversight reads down the tree)
    assert case_get_for_user_or_404(people["city"], case.pk) == case
    assert case_get_for_user_or_404(people["province"], case.pk) == case
    assert set(cases_for_user(people["county"])) == {case, other_case}
