"""A case under the county education scheme (certification/schemes/education-county-004.yaml, seeds/004) through
the services: self-check with a self-score per item → pre-check (初检) and a rectification → acceptance request
again → no public notice: straight to the higher government's assessment group, scoring in three groups
weighted 40/30/30 with a bonus item outside the 100 points → 91.5 points and a one-vote veto of 先进 → 合格
awarded, with the reason on the conclusion and the approval → the 合格 certificate."""

import pytest
from django.utils import timezone

from certification import rules
from certification.models import AuditEntry, OnsiteStep, Outcome, ScoreSheet, SheetKind, Stage
from certification.scheme import SCHEMES_DIR
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
from certification.services.panels import panel_form
from certification.services.review import panel_consolidate, review_conclude, review_record_step
from certification.services.sheets import self_check_sheet, sheet_record, sheet_submit
from tests.worlds import at, build_education_world, pdf, sign_panel

pytestmark = [pytest.mark.lifecycle, pytest.mark.django_db, pytest.mark.usefixtures("media")]

EDUCATION_FILE = SCHEMES_DIR / "education-county-004.yaml"


@pytest.fixture
def education(db, regions, bureaus):
    return build_education_world(regions=regions, bureaus=bureaus)


# What each scorer group records: the same but for item 1.1, where the groups differ (8, 9, 9 → 8.6 weighted)
DEDUCTIONS = {"2.3": ("2", "文化户口册与户籍花名册序号不符两处"), "3.2": ("3", "D级危房占校舍总面积16.21%"),
              "4.1": ("3.1", "初中差异系数0.61，超出0.55")}


def member_entries(group: str) -> dict[str, ItemEntry]:
    entries = {code: ItemEntry(deductions=(Deduction(points=pts, reason=why),)) for code, (pts, why) in
               DEDUCTIONS.items()}
    entries["1.1"] = ItemEntry(deductions=(Deduction(points=2 if group == "leaders" else 1,
                                                     reason="自评工作计划未按时制订"),))
    entries["3.2"] = ItemEntry(deductions=entries["3.2"].deductions, veto=True,
                               veto_reason="D级危房比例远超3%，涉及先进县一票否决")
    entries["B1"] = ItemEntry(units=1)  # 工作有重大创新并被推广: 1 point outside the 100
    return entries


def test_education_county_scored_91_5_with_a_veto_of_advanced_is_certified_qualified(education, bureaus):
    version, county, people, experts = education
    spec = version.specification()
    items = [item for _c, item in spec.rubrics["standard"].items()]
    with at(2026, 5, 20, 9, 0):
        case = case_declare(actor=people["applicant"], institution=county, grade="advanced", kind="promotion",
                            answers={}, evidence={}, scheme="education-county")
        assert case.bureau == bureaus["city"] and case.scheme_version == version
        case_plan_include(actor=people["staff"], case=case)
        # 自查自评: a self-score per item
        sheet = self_check_sheet(actor=people["applicant"], case=case)
        for item in items:
            entry = ItemEntry(units=1) if item.code == "B1" else ItemEntry()
            sheet_record(actor=people["applicant"], sheet=sheet, item_code=item.code, entry=entry)
        sheet_submit(actor=people["applicant"], sheet=sheet)
        case_attach_report(actor=people["applicant"], case=case, upload=pdf("自评报告.pdf"))
        case_acknowledge_integrity(actor=people["applicant"], case=case)
        case_designate_prechecker(actor=people["staff"], case=case, prechecker=people["prechecker"])
        case_request_acceptance(actor=people["applicant"], case=case)
    with at(2026, 7, 6, 9, 0):  # 初检, then 整改 by the scheme's 25 days
        case = case_precheck_decide(actor=people["prechecker"], case=case, passed=False,
                                    summary="档案材料混装，需分类入盒", opinions={"4.3": "材料分类入盒"})
        assert case.stage == Stage.RECTIFICATION
        assert case.rectification_due_at == rules.rectification_deadline(timezone.now(), scheme=spec)
        assert spec.times.rectification_days == 25
    with at(2026, 7, 20, 9, 0):
        sheet = self_check_sheet(actor=people["applicant"], case=case)
        for item in items:
            sheet_record(actor=people["applicant"], sheet=sheet, item_code=item.code,
                         entry=ItemEntry(units=1) if item.code == "B1" else ItemEntry())
        sheet_submit(actor=people["applicant"], sheet=sheet)
        case_request_acceptance(actor=people["applicant"], case=case, explanation="已按初检意见补齐资料")
        case = case_precheck_decide(actor=people["prechecker"], case=case, passed=True, summary="整改到位",
                                    opinions={})
        assert case.stage == Stage.PANEL  # no public notice in this scheme
    with at(2026, 9, 10, 9, 0):
        groups = {experts[0].pk: "leaders", experts[1].pk: "peers", experts[2].pk: "offices"}
        panel = panel_form(actor=people["staff"], case=case, members=experts, chair=experts[0], groups=groups)
        sign_panel(panel)
        for expert in experts:
            member_sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=expert)
            entries = member_entries(groups[expert.pk])
            for item in items:
                sheet_record(actor=expert.user, sheet=member_sheet, item_code=item.code,
                             entry=entries.get(item.code, ItemEntry()))
            sheet_submit(actor=expert.user, sheet=member_sheet)
        chair = experts[0].user
        panel_sheet = panel_consolidate(actor=chair, case=case)
        lines = {line.item_code: line.points for line in panel_sheet.lines.all()}
        assert str(lines["1.1"]) == "8.60"  # 0.4 × 8 + 0.3 × 9 + 0.3 × 9
        assert str(panel_sheet.total) == "91.50"  # 90.50 of the 100 points and 1 bonus point
        for step in OnsiteStep.values:
            review_record_step(actor=chair, case=case, step=step)
        review = review_conclude(actor=chair, case=case, conclusion="基本达到先进县的分值要求，经合议按合格呈报")
    case.refresh_from_db()
    assert (case.stage, review.passed, review.awarded_grade.name) == (Stage.APPROVAL, True, "合格")
    assert review.award_reason == "未达到先进（第3.2项学校标准化建设与危房改造一票否决），认定为合格。"
    with at(2026, 9, 20, 10, 0):
        case_approve(actor=people["approver"], case=case, approved=True, reasons="同意按合格等级认定")
    approval = AuditEntry.objects.filter(action="case.approve").latest("pk")
    assert approval.after["awarded_grade"] == "qualified" and approval.after["award_reason"] == review.award_reason
    with at(2026, 10, 8, 9, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    case.refresh_from_db()
    assert (case.outcome, certificate.grade.name, certificate.grade.version) == (Outcome.CERTIFIED, "合格", version)
    assert certificate.valid_until.isoformat() == "2027-10-07"  # the scheme's one year
    assert certificate.number == "教育督导评估证〔2026〕0001号"  # the scheme's own numbering
    from certification.documents import certificate_html

    printed = certificate_html(certificate)  # in the scheme's own words, none of another scheme's
    assert "县乡人民政府教育工作督导评估等级证书" in printed and "经督导评估，被评为合格，特发此证。" in printed
    assert "机关档案工作目标管理" not in printed and "湖北" not in printed
    from certification.models import IssuedDocument

    letter = IssuedDocument.objects.get(case=case, kind="confirmation_letter", certificate__isnull=True)
    assert letter.template == "schemes/education-county/confirmation_letter.html"  # the scheme's own model
    assert f"关于{case.institution.name}教育工作督导评估结果为合格的函" in letter.html  # the grade awarded
    assert review.award_reason in letter.html and "评估结果有效期为1年" in letter.html
    assert "请针对督导评估中指出的以下问题认真整改：" in letter.html and "D级危房占校舍总面积16.21%" in letter.html
    assert "湖北" not in letter.html and "鄂档" not in letter.html
