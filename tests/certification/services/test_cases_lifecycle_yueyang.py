"""A case under the 2013 Yueyang education office scheme (certification/schemes/yueyang-office-2013.yaml,
seeds/000) through the services, in its own words: per-occurrence deductions (迟交 0.2 each), an award pro rata
against a quota, capped awards; the public notice it keeps; the panel's consensus; the 合格 certificate."""

from decimal import Decimal

import pytest

from certification.models import OnsiteStep, Outcome, ScoreSheet, SheetKind, Stage
from certification.scoring import Deduction, ItemEntry
from certification.services.cases import (
    case_acknowledge_integrity,
    case_approve,
    case_attach_report,
    case_declare,
    case_designate_prechecker,
    case_issue_certificate,
    case_plan_include,
    case_precheck_decide,
    case_request_acceptance,
)
from certification.services.notices import notice_close, notice_publish
from certification.services.panels import panel_form
from certification.services.review import panel_consolidate, review_conclude, review_record_step
from certification.services.sheets import self_check_sheet, sheet_record, sheet_submit
from tests.worlds import at, build_education_world, pdf, sign_panel

pytestmark = [pytest.mark.lifecycle, pytest.mark.django_db, pytest.mark.usefixtures("media")]

ENTRIES = {
    "2.2": ItemEntry(deductions=(Deduction(occurrence="late", count=2, reason="开学工作汇报迟交两次"),)),
    "2.4": ItemEntry(units=Decimal(2)),  # two pieces adopted, 1 point each
}


def entry_for(item) -> ItemEntry:
    if item.code in ENTRIES:
        return ENTRIES[item.code]
    if item.rule.kind == "pro_rata":
        return ItemEntry(achieved=Decimal(4))  # 4 of the quota of 5
    if item.rule.kind == "capped_award":
        return ItemEntry(units=Decimal(1))
    return ItemEntry()


def test_a_yueyang_office_case_runs_to_its_certificate_in_its_own_words(regions, bureaus):
    version, county, people, experts = build_education_world(regions=regions, bureaus=bureaus,
                                                             file="yueyang-office-2013.yaml")
    spec = version.specification()
    items = [item for _c, item in spec.rubrics["standard"].items()]
    with at(2026, 3, 2, 9, 0):
        case = case_declare(actor=people["applicant"], institution=county, grade="qualified", kind="promotion",
                            answers={}, evidence={}, scheme="yueyang-office")
        assert case.bureau == bureaus["city"]  # 市教育局 assesses every office
        case_plan_include(actor=people["staff"], case=case)
        sheet = self_check_sheet(actor=people["applicant"], case=case)
        for item in items:
            sheet_record(actor=people["applicant"], sheet=sheet, item_code=item.code, entry=entry_for(item))
        sheet_submit(actor=people["applicant"], sheet=sheet)
        case_attach_report(actor=people["applicant"], case=case, upload=pdf("自查报告.pdf"))
        case_acknowledge_integrity(actor=people["applicant"], case=case)
        case_designate_prechecker(actor=people["staff"], case=case, prechecker=people["prechecker"])
        case_request_acceptance(actor=people["applicant"], case=case)
        case = case_precheck_decide(actor=people["prechecker"], case=case, passed=True, summary="自查材料齐全",
                                    opinions={})
        assert case.stage == Stage.NOTICE  # this scheme keeps the public notice
    with at(2026, 3, 5, 10, 0):
        notice = notice_publish(actor=people["staff"], bureau=case.bureau, cases=[case], title="2026年考核公示")
    with at(2026, 3, 13, 9, 0):
        notice_close(notice=notice)
        panel = panel_form(actor=people["staff"], case=case, members=experts, chair=experts[0])
        sign_panel(panel)
        for expert in experts:
            member_sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=expert)
            for item in items:
                sheet_record(actor=expert.user, sheet=member_sheet, item_code=item.code, entry=entry_for(item))
            sheet_submit(actor=expert.user, sheet=member_sheet)
        chair = experts[0].user
        panel_sheet = panel_consolidate(actor=chair, case=case)
        lines = {line.item_code: line.points for line in panel_sheet.lines.all()}
        assert str(lines["2.2"]) == "4.60"  # 5 − 2 × 0.2 (迟交1次扣0.2分)
        assert str(lines["2.4"]) == "2.00"  # 采纳1条计1分
        pro_rata = next(i for i in items if i.rule.kind == "pro_rata")
        assert lines[pro_rata.code] == pro_rata.max_points * 4 / 5
        for step in OnsiteStep.values:
            review_record_step(actor=chair, case=case, step=step)
        review = review_conclude(actor=chair, case=case, conclusion="达到合格")
        assert review.passed and review.awarded_grade is None
    with at(2026, 3, 20, 10, 0):
        case_approve(actor=people["approver"], case=case, approved=True, reasons="同意")
    with at(2026, 4, 1, 9, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    case.refresh_from_db()
    assert (case.outcome, certificate.grade.name, certificate.grade.version) == (Outcome.CERTIFIED, "合格", version)
    from certification.documents import certificate_html

    assert certificate.number == "岳教办考〔2026〕0001号"  # its own numbering, not the archives'
    printed = certificate_html(certificate)
    assert "县（市）区教育局办公室目标管理考核证书" in printed and "经考核，评为合格，特发此证。" in printed
    assert "机关档案工作目标管理" not in printed and "鄂" not in printed
