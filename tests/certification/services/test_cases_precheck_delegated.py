"""第十条: 省档案局委托市州级档案局对辖区内所属机关晋升省特级进行预检。预检结果以书面形式连同申报材料一并报省档案局。
The province delegates the pre-check of a special-grade promotion to the city bureau; the city's designated
pre-checker sends its written result to the province, which decides on it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from certification import documents, permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Grade, Precheck, Stage
from certification.services.cases import (
    case_designate_prechecker,
    case_precheck_decide,
    case_precheck_decide_delegated,
    case_precheck_delegate,
    case_precheck_report,
)
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import PDF, local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def people(bureaus):
    def person(role, bureau, name):
        user = UserFactory(full_name=name)
        permissions.role_grant(user=user, role=role, obj=bureaus[bureau])
        return user
    return {"province": person(Role.BUREAU_STAFF, "province", "省局员"),
            "province_prechecker": person(Role.PRECHECKER, "province", "省预检员"),
            "city": person(Role.BUREAU_STAFF, "city", "市局员"),
            "city_prechecker": person(Role.PRECHECKER, "city", "市预检员"),
            "county": person(Role.BUREAU_STAFF, "county", "县局员")}


@pytest.fixture
def case(archives_version, regions, bureaus):
    """A county institution's special-grade promotion, forwarded by the city, waiting for its pre-check."""
    institution = InstitutionFactory(name="县水利局", region=regions["county"], level=InstitutionLevel.COUNTY,
                                     has_system_guidance=True)
    return Case.objects.create(
        institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
        bureau=bureaus["province"], forwarding_bureau=bureaus["city"], forwarded_at=timezone.now(),
        grade=Grade.objects.get(version=archives_version, code="special"), declared_at=timezone.now(),
        declared_by=UserFactory(), reference="2026000001", stage=Stage.PRECHECK)


def item_code(case):
    return next(i.code for _c, i in case.scheme_version.specification().rubric_for("special").items())


def written(case, people, **fields):
    values = {"recommend_pass": True, "summary": "材料齐全，建议通过", "opinions": {item_code(case): "制度需更新"},
              "attachment": SimpleUploadedFile("预检结果.pdf", PDF, content_type="application/pdf"),
              "now": local(2026, 4, 10, 9, 0), **fields}
    return case_precheck_report(actor=people["city_prechecker"], case=case, **values)


def delegated(case, people, bureaus):
    case_precheck_delegate(actor=people["province"], case=case, now=local(2026, 4, 1, 9, 0))
    case_designate_prechecker(actor=people["city"], case=case, prechecker=people["city_prechecker"])
    case.refresh_from_db()
    return case


def test_the_province_delegates_and_the_city_designates_its_own_prechecker(case, people, bureaus):
    with pytest.raises(RuleViolation) as exc:
        case_designate_prechecker(actor=people["city"], case=case, prechecker=people["city_prechecker"])
    assert exc.value.codes == ["permission.denied"]  # before the delegation the city has no say
    with pytest.raises(RuleViolation):
        case_precheck_delegate(actor=people["city"], case=case)  # only the assessing bureau delegates
    case_precheck_delegate(actor=people["province"], case=case, now=local(2026, 4, 1, 9, 0))
    case.refresh_from_db()
    assert (case.precheck_bureau, case.precheck_delegated_at) == (bureaus["city"], local(2026, 4, 1, 9, 0))
    assert AuditEntry.objects.get(action="case.precheck_delegate").after == {"delegated_to": bureaus["city"].pk}
    with pytest.raises(RuleViolation) as exc:
        case_designate_prechecker(actor=people["province"], case=case, prechecker=people["province_prechecker"])
    assert exc.value.codes == ["permission.denied"]  # while delegated, the city designates
    with pytest.raises(RuleViolation) as exc:
        case_designate_prechecker(actor=people["city"], case=case, prechecker=people["province_prechecker"])
    assert exc.value.codes == ["case.not_a_prechecker"]
    case_designate_prechecker(actor=people["city"], case=case, prechecker=people["city_prechecker"])
    case.refresh_from_db()
    assert case.prechecker == people["city_prechecker"]


def test_the_city_sends_its_written_result_and_the_province_accepts_it(case, people, bureaus):
    case = delegated(case, people, bureaus)
    with pytest.raises(RuleViolation) as exc:
        case_precheck_decide(actor=people["city_prechecker"], case=case, passed=True, summary="通过", opinions={})
    assert exc.value.codes == ["case.precheck_delegated"]  # the delegate reports, it does not decide
    with pytest.raises(RuleViolation) as exc:
        case_precheck_decide_delegated(actor=people["province"], case=case, accepted=True, reason="同意")
    assert exc.value.codes == ["case.no_written_result"]
    with pytest.raises(RuleViolation) as exc:
        case_precheck_report(actor=people["city"], case=case, recommend_pass=True, summary="x", opinions={})
    assert exc.value.codes == ["case.not_the_prechecker"]
    report = written(case, people)
    case.refresh_from_db()
    assert (case.stage, report.decision, report.recommendation, report.delegated_to, report.round,
            report.reported_at, report.attachment.read()) == (
        Stage.PRECHECK, Precheck.Decision.REPORTED, "pass", bureaus["city"], 1, local(2026, 4, 10, 9, 0), PDF)
    with pytest.raises(RuleViolation) as exc:
        case_precheck_decide_delegated(actor=people["city"], case=case, accepted=True, reason="同意")
    assert exc.value.codes == ["case.not_the_prechecker"]  # the city does not decide for the province
    case_precheck_decide_delegated(actor=people["province"], case=case, accepted=True, reason="同意市局预检意见",
                                   now=local(2026, 4, 12, 9, 0))
    case.refresh_from_db()
    report.refresh_from_db()
    assert (case.stage, report.decision, report.decided_by, report.decision_reason, report.summary) == (
        Stage.NOTICE, Precheck.Decision.PASS, people["province"], "同意市局预检意见", "材料齐全，建议通过")
    rounds = documents.precheck_opinion_context(case)["rounds"]
    assert [(r["delegated_to"], r["recommendation"], r["reported_on"], r["written_attached"], r["decided_by"],
             r["decision_reason"], r["summary"]) for r in rounds] == [
        (bureaus["city"].name, "通过", "2026年4月10日", True, "省局员", "同意市局预检意见", "材料齐全，建议通过")]


def test_the_province_returns_a_delegated_precheck_for_rectification(case, people, bureaus):
    case = delegated(case, people, bureaus)
    written(case, people, recommend_pass=False, summary="档案室面积不足")
    case_precheck_decide_delegated(actor=people["province"], case=case, accepted=False, reason="按市局意见整改",
                                   days=10, now=local(2026, 4, 12, 9, 0))
    case.refresh_from_db()
    assert (case.stage, case.rectification_due_at) == (Stage.RECTIFICATION, local(2026, 4, 23, 0, 0))
    assert Precheck.objects.values_list("decision", "recommendation", "rectification_due_at").get() == (
        "return", "return", local(2026, 4, 23, 0, 0))


def test_only_a_special_promotion_below_the_province_can_be_delegated(case, people, archives_version):
    case.grade = Grade.objects.get(version=archives_version, code="first")
    case.save()
    with pytest.raises(RuleViolation) as exc:
        case_precheck_delegate(actor=people["province"], case=case)
    assert exc.value.codes == ["case.not_delegable"]


def test_a_precheck_cannot_be_delegated_once_a_prechecker_is_designated(case, people):
    case_designate_prechecker(actor=people["province"], case=case, prechecker=people["province_prechecker"])
    with pytest.raises(RuleViolation) as exc:
        case_precheck_delegate(actor=people["province"], case=case)
    assert exc.value.codes == ["case.prechecker_designated"]
    case.refresh_from_db()
    assert case.precheck_bureau is None
