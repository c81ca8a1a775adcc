
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Grade, Outcome, Precheck, Stage
from certification.scoring import ItemEntry
from certification.services.cases import (
    case_acknowledge_integrity,
    case_attach_report,
    case_designate_prechecker,
    case_precheck_decide,
    case_rectification_missed,
    case_request_acceptance,
)
from certification.services.sheets import self_check_sheet, sheet_record, sheet_submit
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def setting(archives_version, regions, bureaus):
    institution = InstitutionFactory(region=regions["county"], level=InstitutionLevel.COUNTY)
    applicant, staff, prechecker = UserFactory(), UserFactory(), UserFactory()
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    permissions.role_grant(user=prechecker, role=Role.PRECHECKER, obj=bureaus["county"])
    case = Case.objects.create(
        institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
        bureau=bureaus["county"], grade=Grade.objects.get(version=archives_version, code="second"),
        declared_at=timezone.now(), declared_by=applicant, reference="2026000001", stage=Stage.PLANNED,
    )
    return case, applicant, staff, prechecker


def complete_self_check(case, applicant):
    sheet = self_check_sheet(actor=applicant, case=case)
    for _category, item in case.scheme_version.specification().rubrics["standard"].items():
        sheet_record(actor=applicant, sheet=sheet, item_code=item.code, entry=ItemEntry())
    sheet_submit(actor=applicant, sheet=sheet)


def submit_acceptance(case, applicant):
    complete_self_check(case, applicant)
    case_attach_report(actor=applicant, case=case,
                       upload=SimpleUploadedFile("汇报材料.pdf", b"%PDF-1.7\n", content_type="application/pdf"))
    case_acknowledge_integrity(actor=applicant, case=case)
    return case_request_acceptance(actor=applicant, case=case)


def test_the_acceptance_request_names_everything_it_still_needs(setting):
    case, applicant, _staff, _prechecker = setting
    with pytest.raises(RuleViolation) as exc:
        case_request_acceptance(actor=applicant, case=case)
    assert exc.value.codes == ["case.acceptance_incomplete"]
    assert exc.value.refusals[0].message == "验收申请尚缺：已提交的自查评分、汇报材料、已确认的廉政告知书。"


def test_a_complete_acceptance_request_goes_to_the_precheck(setting):
    case, applicant, _staff, _prechecker = setting
    assert submit_acceptance(case, applicant).stage == Stage.PRECHECK


def test_only_a_precheker_of_the_bureau_can_be_designated(setting, regions):
    case, _applicant, staff, prechecker = setting
    with pytest.raises(RuleViolation) as exc:
        case_designate_prechecker(actor=staff, case=case, prechecker=UserFactory())
    assert exc.value.codes == ["case.not_a_prechecker"]
    assert case_designate_prechecker(actor=staff, case=case, prechecker=prechecker).prechecker == prechecker


def test_a_pass_sends_the_case_to_the_public_notice(setting):
    case, applicant, staff, prechecker = setting
    case_designate_prechecker(actor=staff, case=case, prechecker=prechecker)
    submit_acceptance(case, applicant)
    case_precheck_decide(actor=prechecker, case=case, passed=True, summary="材料齐全，符合要求", opinions={})
    case.refresh_from_db()
    assert case.stage == Stage.NOTICE


def test_only_the_designated_prechecker_decides(setting):
    case, applicant, staff, prechecker = setting
    case_designate_prechecker(actor=staff, case=case, prechecker=prechecker)
    submit_acceptance(case, applicant)
    with pytest.raises(RuleViolation) as exc:
        case_precheck_decide(actor=staff, case=case, passed=True, summary="通过", opinions={})
    assert exc.value.codes == ["case.not_the_prechecker"]


def test_a_return_sets_the_deadline_and_a_resubmission_goes_back_to_precheck(setting):
    case, applicant, staff, prechecker = setting
    case_designate_prechecker(actor=staff, case=case, prechecker=prechecker)
    submit_acceptance(case, applicant)
    returned_at = local(2026, 5, 10, 15, 0)
    case_precheck_decide(actor=prechecker, case=case, passed=False, summary="归档范围表未经审批",
                         opinions={"8": "请报档案局审批归档范围和保管期限表"}, now=returned_at)
    case.refresh_from_db()
    assert (case.stage, case.rectification_due_at) == (Stage.RECTIFICATION,
                                                       local(2026, 6, 10, 0, 0))
    complete_self_check(case, applicant)  # round 2
    case_request_acceptance(actor=applicant, case=case, explanation="归档范围表已报档案局审批",
                            now=local(2026, 6, 9, 23, 59))
    case.refresh_from_db()
    assert case.stage == Stage.PRECHECK
    assert list(Precheck.objects.filter(case=case).values_list("round", "decision")) == [(1, "return")]
    assert case.sheets.count() == 2  # the first round's sheet is kept


def test_the_deadline_passing_withdraws_the_case_once(setting):
    case, applicant, staff, prechecker = setting
    case_designate_prechecker(actor=staff, case=case, prechecker=prechecker)
    submit_acceptance(case, applicant)
    case_precheck_decide(actor=prechecker, case=case, passed=False, summary="需整改", opinions={},
                         now=local(2026, 5, 10, 15, 0), days=10)
    assert case_rectification_missed(case=case, now=local(2026, 5, 20, 23, 59)) is False
    assert case_rectification_missed(case=case, now=local(2026, 5, 21, 0, 0)) is True
    assert case_rectification_missed(case=case, now=local(2026, 5, 22, 0, 0)) is False
    case.refresh_from_db()
    assert (case.outcome, case.stage) == (Outcome.RECTIFICATION_MISSED, Stage.CLOSED)
    assert "2026-05-20 24:00" in case.outcome_reason  # the last day, as the applicant was told
    assert AuditEntry.objects.filter(action="case.rectification_missed").count() == 1


def test_a_resubmission_after_the_deadline_is_refused(setting):
    case, applicant, staff, prechecker = setting
    case_designate_prechecker(actor=staff, case=case, prechecker=prechecker)
    submit_acceptance(case, applicant)
    case_precheck_decide(actor=prechecker, case=case, passed=False, summary="需整改", opinions={},
                         now=local(2026, 5, 10, 15, 0), days=10)
    complete_self_check(case, applicant)
    with pytest.raises(RuleViolation) as exc:
        case_request_acceptance(actor=applicant, case=case, now=local(2026, 5, 21, 0, 0))
    assert exc.value.codes == ["case.rectification_overdue"]


def test_a_report_that_is_not_a_pdf_or_image_is_refused(setting):
    case, applicant, _staff, _prechecker = setting
    with pytest.raises(RuleViolation) as exc:
        case_attach_report(actor=applicant, case=case,
                           upload=SimpleUploadedFile("report.pdf", b"<html>not a pdf</html>"))
    assert exc.value.codes == ["upload.type"]
    case.refresh_from_db()
    assert not case.report


def test_the_sweep_withdraws_cases_past_their_rectification_deadline_once(setting):
    from certification.services.cases import cases_withdraw_missed_rectifications

    case, applicant, staff, prechecker = setting
    case_designate_prechecker(actor=staff, case=case, prechecker=prechecker)
    submit_acceptance(case, applicant)
    case_precheck_decide(actor=prechecker, case=case, passed=False, summary="需整改", opinions={},
                         now=local(2026, 5, 10, 15, 0), days=10)
    assert cases_withdraw_missed_rectifications(now=local(2026, 5, 20, 12, 0)) == 0
    assert cases_withdraw_missed_rectifications(now=local(2026, 5, 21, 0, 1)) == 1
    assert cases_withdraw_missed_rectifications(now=local(2026, 5, 22, 0, 1)) == 0
    assert Case.objects.get(pk=case.pk).outcome == Outcome.RECTIFICATION_MISSED
