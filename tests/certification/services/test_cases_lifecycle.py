"""A case's whole life through the services, with the clock moved: a January declaration to a certificate,
three years later a recheck that renews it, and the lapse of a certificate whose holder declares none."""

import datetime as dt

import pytest

from certification import permissions
from certification.enums import CertificateStatus, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import Case, Certificate, Outcome, Stage
from certification.services.audit import audit_verify
from certification.services.cases import (
    case_approve,
    case_declare,
    case_issue_certificate,
)
from certification.tasks import lapse_expired_certificates
from tests.factories import CertificateFactory, UserFactory
from tests.worlds import all_conditions, at, run_case

pytestmark = [pytest.mark.lifecycle, pytest.mark.django_db, pytest.mark.usefixtures("media")]


def run_to_certificate(world, *, grade, kind, start):
    """Take one declaration through every stage (``tests.worlds.run_case``) and issue its certificate."""
    _institution, people, _experts = world
    case = run_case(world, grade=grade, kind=kind, start=start)
    with at(start[0], 4, 1, 9, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    case.refresh_from_db()
    assert (case.stage, case.outcome) == (Stage.CLOSED, Outcome.CERTIFIED)
    return case, certificate


def test_a_january_declaration_becomes_a_certificate_and_three_years_later_a_recheck_renews_it(world):
    _case, first = run_to_certificate(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0))
    assert (first.number, first.issued_on, first.valid_until) == (
        "鄂档等证〔2026〕0001号", dt.date(2026, 4, 1), dt.date(2029, 3, 31))

    # expiry 2029-03-31 is under 90 days after January 1, so the window opens 90 days before: 2028-12-31
    with pytest.raises(RuleViolation) as exc:
        run_to_certificate(world, grade="second", kind=Kind.RECHECK, start=(2028, 12, 30, 9, 0))
    assert "recheck.window" in exc.value.codes

    recheck_case, renewed = run_to_certificate(world, grade="second", kind=Kind.RECHECK, start=(2029, 1, 10, 9, 0))
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
    with at(2026, 2, 20, 9, 0):
        answers, evidence = all_conditions()
        case_declare(scheme="archives",
                     actor=people["applicant"], institution=institution, grade="second", kind=Kind.RECHECK,
                     answers=answers, evidence=evidence)
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
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), approve=False)
    with pytest.raises(RuleViolation) as exc:
        case_approve(actor=people["staff"], case=case, approved=True, reasons="同意")
    assert exc.value.codes == ["case.not_the_approver"]
    case_approve(actor=people["approver"], case=case, approved=False, reasons="评审程序不完整")
    case.refresh_from_db()
    assert (case.outcome, case.outcome_reason) == (Outcome.APPROVAL_REFUSED, "评审程序不完整")


def test_approval_names_what_is_missing_from_its_basis(world):
    _institution, people, _experts = world
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), approve=False)
    Case.objects.filter(pk=case.pk).update(integrity_acknowledged_at=None)
    with pytest.raises(RuleViolation) as exc:
        case_approve(actor=people["approver"], case=case, approved=True, reasons="同意")
    assert exc.value.refusals[0].message == "审批依据不完整：廉政告知书。"


def test_only_the_provinces_officer_issues(world):
    """(A batch going on past a failure is tested with the batch: tests/certification/services/test_issuing.py.)"""
    _institution, people, _experts = world
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), approve=False)
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
    case = run_case(world, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0), approve=False)
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
