"""A case's whole life through the services, with the clock moved: a January declaration to a certificate,
three years later a recheck that renews it, and the lapse of a certificate whose holder declares none."""

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from certification import permissions
from certification.enums import CertificateStatus, InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import Case, Certificate, OnsiteStep, Outcome, ScoreSheet, SheetKind, Stage
from certification.scoring import ItemEntry
from certification.services.audit import audit_verify
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
from certification.tasks import lapse_expired_certificates
from tests.factories import CertificateFactory, ExpertFactory, InstitutionFactory, UserFactory

pytestmark = [pytest.mark.lifecycle, pytest.mark.django_db]
SH = dt.timezone(dt.timedelta(hours=8))


def at(*args):
    return time_machine.travel(dt.datetime(*args, tzinfo=SH), tick=False)


def pdf(name):
    return SimpleUploadedFile(name, b"%PDF-1.7\n%\xe2\xe3\n", content_type="application/pdf")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world(archives_version, regions, bureaus):
    county, province = bureaus["county"], bureaus["province"]
    people = {name: UserFactory(username=name) for name in ("applicant", "staff", "prechecker", "approver",
                                                             "officer")}
    institution = InstitutionFactory(name="县民政局", region=regions["county"], level=InstitutionLevel.COUNTY)
    permissions.role_grant(user=people["applicant"], role=Role.APPLICANT, obj=institution)
    permissions.role_grant(user=people["staff"], role=Role.BUREAU_STAFF, obj=county)
    permissions.role_grant(user=people["prechecker"], role=Role.PRECHECKER, obj=county)
    permissions.role_grant(user=people["approver"], role=Role.APPROVER, obj=county)
    permissions.role_grant(user=people["officer"], role=Role.CERTIFICATE_OFFICER, obj=province)
    experts = [ExpertFactory(pool=county, user=UserFactory(), term_starts_on=dt.date(2025, 1, 1),
                             term_ends_on=dt.date(2032, 12, 31)) for _ in range(4)]
    return institution, people, experts


def run_case(world, *, grade, kind, start, stop_at_approval=False):
    """Take one declaration through every stage to its certificate."""
    institution, people, experts = world
    year = start[0]
    answers = {c: "yes" for c in ("registration", "central_management", "no_safety_incident", "electronic_records")}
    answers.update(transfer="na", public_information="na")
    with at(*start):
        case = case_declare(actor=people["applicant"], institution=institution, grade=grade, kind=kind,
                            answers=answers, evidence={c: pdf(f"{c}.pdf") for c, a in answers.items() if a == "yes"})
        case_plan_include(actor=people["staff"], case=case)
        sheet = self_check_sheet(actor=people["applicant"], case=case)
        for _c, item in case.scheme_version.specification().rubrics["standard"].items():
            sheet_record(actor=people["applicant"], sheet=sheet, item_code=item.code, entry=ItemEntry())
        sheet_submit(actor=people["applicant"], sheet=sheet)
        case_attach_report(actor=people["applicant"], case=case, upload=pdf("汇报材料.pdf"))
        case_acknowledge_integrity(actor=people["applicant"], case=case)
        case_designate_prechecker(actor=people["staff"], case=case, prechecker=people["prechecker"])
        case_request_acceptance(actor=people["applicant"], case=case)
        case_precheck_decide(actor=people["prechecker"], case=case, passed=True, summary="符合要求", opinions={})
    with at(year, 3, 1, 10, 0):
        notice = notice_publish(actor=people["staff"], bureau=case.bureau, cases=[case], title=f"{year}年公示")
    with at(year, 3, 9, 0, 0):
        notice_close(notice=notice)
        panel = panel_form(actor=people["staff"], case=case, members=experts[:3], chair=experts[0])
        for member in panel.members.all():
            member_sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=member)
            for _c, item in case.scheme_version.specification().rubrics["standard"].items():
                sheet_record(actor=member.user, sheet=member_sheet, item_code=item.code, entry=ItemEntry())
            sheet_submit(actor=member.user, sheet=member_sheet)
        chair = experts[0].user
        panel_consolidate(actor=chair, case=case)
        for step in OnsiteStep.values:
            review_record_step(actor=chair, case=case, step=step)
        review_conclude(actor=chair, case=case, conclusion="达到标准")
        if stop_at_approval:
            return case
        case_approve(actor=people["approver"], case=case, approved=True, reasons="依据齐全，同意")
    with at(year, 4, 1, 9, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    case.refresh_from_db()
    assert (case.stage, case.outcome) == (Stage.CLOSED, Outcome.CERTIFIED)
    return case, certificate


def test_a_january_declaration_becomes_a_certificate_and_three_years_later_a_recheck_renews_it(world):
    _case, first = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0))
    assert (first.number, first.issued_on, first.valid_until) == (
        "鄂档等证〔2026〕0001号", dt.date(2026, 4, 1), dt.date(2029, 3, 31))

    # expiry 2029-03-31 is under 90 days after January 1, so the window opens 90 days before: 2028-12-31
    with pytest.raises(RuleViolation) as exc:
        run_case(world, grade="second", kind=Kind.RECHECK, start=(2028, 12, 30, 9, 0))
    assert "recheck.window" in exc.value.codes

    recheck_case, renewed = run_case(world, grade="second", kind=Kind.RECHECK, start=(2029, 1, 10, 9, 0))
    first.refresh_from_db()
    assert (first.status, renewed.supersedes, renewed.kind) == (CertificateStatus.SUPERSEDED, first, Kind.RECHECK)
    assert renewed.valid_until == dt.date(2032, 3, 31)
    assert recheck_case.renews == first
    with at(2029, 4, 2, 0, 5):  # after the old expiry date nothing lapses: the grade was renewed
        assert lapse_expired_certificates() == 0
    assert audit_verify().ok


def test_a_grade_stays_in_force_while_its_recheck_runs_past_expiry(world, archives_version, bureaus):
    institution, people, _experts = world
    held = CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="second",
                              issued_by=bureaus["province"], approved_by=bureaus["county"],
                              issued_on=dt.date(2023, 3, 1), valid_until=dt.date(2026, 2, 28))
    answers = {c: "yes" for c in ("registration", "central_management", "no_safety_incident", "electronic_records")}
    answers.update(transfer="na", public_information="na")
    with at(2026, 2, 20, 9, 0):
        case_declare(actor=people["applicant"], institution=institution, grade="second", kind=Kind.RECHECK,
                     answers=answers, evidence={c: pdf(f"{c}.pdf") for c, a in answers.items() if a == "yes"})
    with at(2026, 3, 1, 0, 5):
        assert lapse_expired_certificates() == 0
    held.refresh_from_db()
    assert held.status == CertificateStatus.RECHECK_IN_PROGRESS


def test_without_a_recheck_declaration_the_grade_lapses_the_day_after_expiry(world, archives_version, bureaus):
    institution, _people, _experts = world
    held = CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="first",
                              issued_by=bureaus["province"], approved_by=bureaus["city"],
                              issued_on=dt.date(2023, 6, 1), valid_until=dt.date(2026, 5, 31))
    with at(2026, 5, 31, 23, 59):
        assert lapse_expired_certificates() == 0
    with at(2026, 6, 1, 0, 0):
        assert lapse_expired_certificates() == 1
    held.refresh_from_db()
    assert held.status == CertificateStatus.LAPSED
    assert Certificate.objects.filter(status=CertificateStatus.IN_FORCE).count() == 0
    assert Case.objects.count() == 0


def test_approval_needs_an_approver_of_the_bureau_and_refusal_ends_the_case(world, bureaus):
    _institution, people, _experts = world
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), stop_at_approval=True)
    with pytest.raises(RuleViolation) as exc:
        case_approve(actor=people["staff"], case=case, approved=True, reasons="同意")
    assert exc.value.codes == ["case.not_the_approver"]
    case_approve(actor=people["approver"], case=case, approved=False, reasons="评审程序不完整")
    case.refresh_from_db()
    assert (case.outcome, case.outcome_reason) == (Outcome.APPROVAL_REFUSED, "评审程序不完整")


def test_approval_names_what_is_missing_from_its_basis(world):
    _institution, people, _experts = world
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), stop_at_approval=True)
    Case.objects.filter(pk=case.pk).update(integrity_acknowledged_at=None)
    with pytest.raises(RuleViolation) as exc:
        case_approve(actor=people["approver"], case=case, approved=True, reasons="同意")
    assert exc.value.refusals[0].message == "审批依据不完整：廉政告知书。"


def test_only_the_provinces_officer_issues(world):
    """(A batch going on past a failure is tested with the batch: tests/documents.)"""
    _institution, people, _experts = world
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), stop_at_approval=True)
    case_approve(actor=people["approver"], case=case, approved=True, reasons="同意")
    with pytest.raises(RuleViolation) as exc:
        case_issue_certificate(actor=people["approver"], case=case)
    assert exc.value.codes == ["case.not_the_officer"]
    assert Case.objects.get(pk=case.pk).stage == Stage.CERTIFICATE


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_one_decides_and_the_other_is_told(world, bureaus):
    import threading

    from django.db import connections

    _institution, people, _experts = world
    second_approver = UserFactory(username="approver2")
    permissions.role_grant(user=second_approver, role=Role.APPROVER, obj=bureaus["county"])
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), stop_at_approval=True)
    outcomes, barrier = [], threading.Barrier(2)

    def approve(user, approved):
        try:
            barrier.wait(timeout=10)
            case_approve(actor=user, case=case, approved=approved, reasons="审批意见")
            outcomes.append("decided")
        except RuleViolation as exc:
            outcomes.append(exc.codes[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(people["approver"], True)),
               threading.Thread(target=approve, args=(second_approver, False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["case.not_at_this_stage", "decided"]
    case.refresh_from_db()
    assert case.stage in (Stage.CERTIFICATE, Stage.CLOSED)
