"""A recheck that ends without a new certificate settles the certificate it was to renew (issue: no grade left
hanging). Each way a case ends, on both sides of the grade's expiry date, with the clock moved: on the last
day of validity the grade is in force again (and lapses at expiry as usual); from the day after it lapses at
once. Holder and approving bureau are told once; public verification shows the true status throughout."""

import datetime as dt
from decimal import Decimal

import pytest

from certification.enums import CertificateStatus, Kind
from certification.models import AuditEntry, Case, Objection, OnsiteStep, Outcome, ScoreSheet, SheetKind
from certification.scoring import ItemEntry
from certification.selectors import certificate_public
from certification.services.cases import (
    case_acknowledge_integrity,
    case_approve,
    case_attach_report,
    case_cancel,
    case_declare,
    case_designate_prechecker,
    case_plan_include,
    case_plan_return,
    case_precheck_decide,
    case_rectification_missed,
    case_request_acceptance,
    case_withdraw,
)
from certification.services.notices import notice_close, notice_publish, objection_file, objection_resolve
from certification.services.panels import panel_form
from certification.services.review import panel_consolidate, review_conclude, review_record_step
from certification.services.sheets import self_check_sheet, sheet_record, sheet_submit
from certification.tasks import lapse_expired_certificates
from notifications.models import Notification
from tests.worlds import all_conditions, at, pdf, sign_panel

pytestmark = [pytest.mark.lifecycle, pytest.mark.django_db, pytest.mark.usefixtures("media")]
EXPIRY = dt.date(2026, 3, 31)  # of the certificate the ``recheck`` fixture (tests/certification/conftest.py) holds
LAST_DAY, DAY_AFTER = (2026, 3, 31, 10, 0), (2026, 4, 1, 10, 0)


def _declare(world) -> Case:
    answers, evidence = all_conditions()
    with at(2026, 1, 10, 9, 0):
        return case_declare(scheme="archives",
                            actor=world["people"]["applicant"], institution=world["institution"], grade="second",
                            kind=Kind.RECHECK, answers=answers, evidence=evidence)


def _to_precheck(world, case):
    people = world["people"]
    with at(2026, 1, 12, 9, 0):
        case_plan_include(actor=people["staff"], case=case)
        sheet = self_check_sheet(actor=people["applicant"], case=case)
        for _c, item in case.scheme_version.specification().rubrics["standard"].items():
            sheet_record(actor=people["applicant"], sheet=sheet, item_code=item.code, entry=ItemEntry())
        sheet_submit(actor=people["applicant"], sheet=sheet)
        case_attach_report(actor=people["applicant"], case=case, upload=pdf("汇报材料.pdf"))
        case_acknowledge_integrity(actor=people["applicant"], case=case)
        case_designate_prechecker(actor=people["staff"], case=case, prechecker=people["prechecker"])
        case_request_acceptance(actor=people["applicant"], case=case)


def _to_notice(world, case):
    _to_precheck(world, case)
    with at(2026, 1, 13, 9, 0):
        case_precheck_decide(actor=world["people"]["prechecker"], case=case, passed=True, summary="符合要求",
                             opinions={})
        return notice_publish(actor=world["people"]["staff"], bureau=case.bureau, cases=[case], title="2026年公示")


def _to_review(world, case):
    notice = _to_notice(world, case)
    with at(2026, 1, 25, 9, 0):
        notice_close(notice=notice)
        panel = sign_panel(panel_form(actor=world["people"]["staff"], case=case, members=world["experts"],
                                      chair=world["experts"][0]))
        for member in panel.members.all():
            sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=member)
            for _c, item in case.scheme_version.specification().rubrics["standard"].items():
                sheet_record(actor=member.user, sheet=sheet, item_code=item.code, entry=ItemEntry())
            sheet_submit(actor=member.user, sheet=sheet)
        for step in OnsiteStep.values:
            review_record_step(actor=world["experts"][0].user, case=case, step=step)


# Each end: (name, how to bring the case to the moment before its end, the end itself at the given time)
def withdrawal(world, case, moment):
    with at(*moment):
        case_withdraw(actor=world["people"]["applicant"], case=case, reason="单位机构改革，暂缓复查")


def cancellation(world, case, moment):
    with at(2026, 1, 12, 9, 0):
        case_plan_include(actor=world["people"]["staff"], case=case)
    with at(*moment):
        case_cancel(actor=world["people"]["staff"], case=case, reason="申报材料不实")


def plan_refused(world, case, moment):
    with at(*moment):
        case_plan_return(actor=world["people"]["staff"], case=case, reason="本年度考评计划已满")


def objection_upheld(world, case, moment):
    notice = _to_notice(world, case)
    with at(2026, 1, 14, 9, 0):
        objection = objection_file(notice=notice, case=case, name="张三", contact="13800000000",
                                   grounds="档案室无防盗设施")
    with at(2026, 1, 25, 9, 0):
        notice_close(notice=notice)
    with at(*moment):
        objection_resolve(actor=world["people"]["staff"], objection=objection, decision=Objection.Status.UPHELD,
                          reason="经核实，情况属实")


def panel_failed(world, case, moment):
    _to_review(world, case)
    chair = world["experts"][0].user
    items = [item.code for _c, item in case.scheme_version.specification().rubrics["standard"].items()]
    with at(2026, 2, 1, 9, 0):
        panel_consolidate(actor=chair, case=case, scores={code: Decimal(0) for code in items},
                          reasons={code: "现场核查不符合要求" for code in items})
    with at(*moment):
        review_conclude(actor=chair, case=case, conclusion="未达到标准")


def approval_refused(world, case, moment):
    _to_review(world, case)
    chair = world["experts"][0].user
    with at(2026, 2, 1, 9, 0):
        panel_consolidate(actor=chair, case=case)
        review_conclude(actor=chair, case=case, conclusion="达到标准")
    with at(*moment):
        case_approve(actor=world["people"]["approver"], case=case, approved=False, reasons="评审程序不完整")


def rectification_missed(world, case, moment):
    _to_precheck(world, case)
    with at(2026, 3, 1, 9, 0):
        case_precheck_decide(actor=world["people"]["prechecker"], case=case, passed=False, summary="需整改",
                             opinions={}, days=15)
    with at(*moment):
        assert case_rectification_missed(case=case) is True


ENDS = {withdrawal: Outcome.WITHDRAWN, cancellation: Outcome.CANCELLED, plan_refused: Outcome.PLAN_REFUSED,
        objection_upheld: Outcome.OBJECTION_UPHELD, panel_failed: Outcome.PANEL_FAILED,
        approval_refused: Outcome.APPROVAL_REFUSED, rectification_missed: Outcome.RECTIFICATION_MISSED}


def _public_status(held) -> str:
    return certificate_public(number=held.number).get_status_display()


def _told(held, kind) -> list[str]:
    return sorted(Notification.objects.filter(kind=kind, params__number=held.number)
                  .values_list("recipient__username", flat=True))


@pytest.mark.parametrize("end", list(ENDS), ids=lambda f: f.__name__)
def test_a_recheck_ended_on_the_last_day_of_validity_leaves_the_grade_in_force_until_it_lapses(recheck, end):
    world = recheck
    held = world["held"]
    case = _declare(world)
    held.refresh_from_db()
    assert (held.status, _public_status(held)) == (CertificateStatus.RECHECK_IN_PROGRESS, "复查中")

    end(world, case, LAST_DAY)

    case.refresh_from_db()
    held.refresh_from_db()
    assert case.outcome == ENDS[end]
    assert (held.status, _public_status(held)) == (CertificateStatus.IN_FORCE, "有效")
    assert AuditEntry.objects.filter(action="certificate.recheck_ended", target_id=str(held.pk)).count() == 1
    # the holder and the approving (county) bureau's staff, once each
    assert _told(held, "recheck_ended") == ["applicant", "staff"]
    with at(2026, 4, 1, 0, 5):  # the usual lapse at expiry, with its usual notice
        assert lapse_expired_certificates() == 1
    held.refresh_from_db()
    assert (held.status, _public_status(held)) == (CertificateStatus.LAPSED, "已失效")
    assert _told(held, "certificate_lapsed") == ["applicant", "staff"]
    assert _told(held, "recheck_ended") == ["applicant", "staff"]


@pytest.mark.parametrize("end", list(ENDS), ids=lambda f: f.__name__)
def test_a_recheck_ended_after_the_expiry_date_lapses_the_grade_at_once(recheck, end):
    world = recheck
    held = world["held"]
    case = _declare(world)
    with at(2026, 4, 1, 0, 5):  # the day after expiry, the recheck still running: the grade stands
        assert lapse_expired_certificates() == 0
    held.refresh_from_db()
    assert (held.status, _public_status(held)) == (CertificateStatus.RECHECK_IN_PROGRESS, "复查中")

    end(world, case, DAY_AFTER)

    case.refresh_from_db()
    held.refresh_from_db()
    assert case.outcome == ENDS[end]
    assert (held.status, _public_status(held)) == (CertificateStatus.LAPSED, "已失效")
    assert AuditEntry.objects.filter(action="certificate.lapse", target_id=str(held.pk)).count() == 1
    assert _told(held, "certificate_lapsed") == ["applicant", "staff"]
    with at(2026, 4, 2, 0, 5):  # nothing lapses twice, nobody is told twice
        assert lapse_expired_certificates() == 0
    assert _told(held, "certificate_lapsed") == ["applicant", "staff"]
    assert not AuditEntry.objects.filter(action="certificate.recheck_ended").exists()


def test_a_recheck_certified_supersedes_the_grade_and_settles_nothing_else(recheck):
    """The other way a recheck ends, for contrast: its certificate replaces the one rechecked."""
    from certification.services.cases import case_issue_certificate

    world = recheck
    held = world["held"]
    case = _declare(world)
    _to_review(world, case)
    chair = world["experts"][0].user
    with at(2026, 2, 1, 9, 0):
        panel_consolidate(actor=chair, case=case)
        review_conclude(actor=chair, case=case, conclusion="达到标准")
        case_approve(actor=world["people"]["approver"], case=case, approved=True, reasons="同意")
        renewed = case_issue_certificate(actor=world["people"]["officer"], case=case)
    held.refresh_from_db()
    case.refresh_from_db()
    assert (held.status, case.certificate) == (CertificateStatus.SUPERSEDED, renewed)
    assert not AuditEntry.objects.filter(action__in=["certificate.recheck_ended", "certificate.lapse"]).exists()
