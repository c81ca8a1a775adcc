import datetime as dt
import threading

import pytest
from django.db import connections

from certification.enums import CertificateStatus, Kind
from certification.exceptions import RuleViolation
from certification.lifecycle import lapse_sources
from certification.models import AuditEntry, Certificate, Grade
from certification.services.audit import audit_verify
from certification.services.certificates import certificate_issue, certificate_transition
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue(archives_version, regions, bureaus):
    officer = UserFactory()

    def _issue(institution, grade="second", kind=Kind.PROMOTION, on=dt.date(2026, 5, 20)):
        return certificate_issue(actor=officer, institution=institution, kind=kind, issued_on=on,
                                 grade=Grade.objects.get(version=archives_version, code=grade),
                                 approved_by=bureaus["city"])
    return _issue


@pytest.fixture
def holder(regions):
    return InstitutionFactory(name="持证机关", region=regions["city"], level="city")


def test_issue_numbers_gaplessly_per_year_and_the_province_issues(issue, regions, bureaus):
    a = issue(InstitutionFactory(region=regions["city"], level="city"))
    b = issue(InstitutionFactory(region=regions["city"], level="city"))
    c = issue(InstitutionFactory(region=regions["city"], level="city"), on=dt.date(2027, 1, 4))
    assert [x.number for x in (a, b, c)] == ["鄂档等证〔2026〕0001号", "鄂档等证〔2026〕0002号", "鄂档等证〔2027〕0001号"]
    assert (a.issued_by, a.approved_by) == (bureaus["province"], bureaus["city"])
    assert a.valid_until == dt.date(2029, 5, 19)


def test_issue_is_audited(issue, holder):
    certificate = issue(holder)
    entry = AuditEntry.objects.get(action="certificate.issue")
    assert (entry.target_id, entry.after["number"], entry.after["valid_until"]) == (
        str(certificate.pk), certificate.number, "2029-05-19")
    assert audit_verify().ok


def test_a_promotion_supersedes_the_lower_certificate(issue, holder):
    second = issue(holder)
    first = issue(holder, "first", on=dt.date(2027, 6, 1))
    second.refresh_from_db()
    assert (second.status, first.supersedes, first.status) == (
        CertificateStatus.SUPERSEDED, second, CertificateStatus.IN_FORCE)
    assert first.number in second.status_reason


def test_a_recheck_keeps_the_grade_in_force_then_renews_validity(issue, holder):
    original = issue(holder, on=dt.date(2023, 5, 20))
    certificate_transition(actor=None, certificate=original, transition="declare_recheck")
    original.refresh_from_db()
    assert original.status == CertificateStatus.RECHECK_IN_PROGRESS

    renewed = issue(holder, kind=Kind.RECHECK, on=dt.date(2026, 4, 10))

    original.refresh_from_db()
    assert (original.status, renewed.kind, renewed.valid_until) == (
        CertificateStatus.SUPERSEDED, Kind.RECHECK, dt.date(2029, 4, 9))


def test_a_recheck_certificate_needs_a_recheck_in_progress(issue, holder):
    issue(holder)
    with pytest.raises(RuleViolation) as exc:
        issue(holder, kind=Kind.RECHECK, on=dt.date(2026, 6, 1))
    assert exc.value.codes == ["certificate.recheck_without_declaration"]
    assert Certificate.objects.filter(institution=holder).count() == 1


def test_a_failed_recheck_lapses_the_grade(issue, holder):
    certificate = issue(holder, on=dt.date(2023, 5, 20))
    certificate_transition(actor=None, certificate=certificate, transition="declare_recheck")
    certificate_transition(actor=None, certificate=certificate, transition="fail_recheck", reason="复查未达标")
    certificate.refresh_from_db()
    assert (certificate.status, certificate.status_reason) == (CertificateStatus.LAPSED, "复查未达标")


def officer_of(bureau):
    from certification import permissions
    from certification.enums import Role
    from tests.factories import UserFactory

    user = UserFactory()
    permissions.role_grant(user=user, role=Role.CERTIFICATE_OFFICER, obj=bureau)
    return user


def test_suspend_reinstate_revoke_each_need_a_reason_and_are_audited(issue, holder, bureaus):
    certificate = issue(holder)
    officer = officer_of(certificate.issued_by)
    with pytest.raises(RuleViolation) as exc:
        certificate_transition(actor=officer, certificate=certificate, transition="suspend", reason="  ")
    assert exc.value.codes == ["certificate.reason_required"]
    for someone_else in (None, officer_of(bureaus["city"])):
        with pytest.raises(RuleViolation) as exc:
            certificate_transition(actor=someone_else, certificate=certificate, transition="suspend", reason="抽查")
        assert exc.value.codes == ["permission.denied"]

    certificate_transition(actor=officer, certificate=certificate, transition="suspend", reason="抽查不合格")
    certificate_transition(actor=officer, certificate=certificate, transition="reinstate", reason="整改完成")
    certificate_transition(actor=officer, certificate=certificate, transition="revoke", reason="弄虚作假")

    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.REVOKED
    assert list(AuditEntry.objects.filter(target_type="certification.certificate", target_id=str(certificate.pk))
                .values_list("action", "reason")) == [
        ("certificate.issue", ""), ("document.issue", ""),  # its document frozen with it, in its transaction
        ("certificate.suspend", "抽查不合格"), ("certificate.reinstate", "整改完成"), ("certificate.revoke", "弄虚作假")]


def test_a_transition_that_does_not_apply_is_refused_and_changes_nothing(issue, holder):
    certificate = issue(holder)
    officer = officer_of(certificate.issued_by)
    certificate_transition(actor=officer, certificate=certificate, transition="revoke", reason="弄虚作假")
    entries = AuditEntry.objects.count()
    with pytest.raises(RuleViolation) as exc:
        certificate_transition(actor=officer, certificate=certificate, transition="reinstate", reason="再审")
    assert exc.value.codes == ["certificate.transition_not_allowed"]
    certificate.refresh_from_db()
    assert (certificate.status, AuditEntry.objects.count()) == (CertificateStatus.REVOKED, entries)


def test_issuing_to_a_holder_with_a_suspended_certificate_is_refused(issue, holder):
    certificate = issue(holder)
    certificate_transition(actor=officer_of(certificate.issued_by), certificate=certificate, transition="suspend", reason="抽查不合格")
    with pytest.raises(RuleViolation) as exc:
        issue(holder, "first", on=dt.date(2027, 6, 1))
    assert exc.value.codes == ["certificate.holder_suspended"]


def test_the_lapse_sweep_starts_from_the_same_state_as_the_lapse_transition():
    assert lapse_sources() == [CertificateStatus.IN_FORCE]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_issuing_gives_unique_gapless_numbers(archives_version, regions, bureaus):
    holders = [InstitutionFactory(region=regions["city"], level="city") for _ in range(12)]
    grade = Grade.objects.get(version=archives_version, code="second")
    errors: list[Exception] = []
    barrier = threading.Barrier(len(holders))

    def work(institution):
        try:
            barrier.wait(timeout=10)
            certificate_issue(actor=None, institution=institution, grade=grade, kind=Kind.PROMOTION,
                              approved_by=bureaus["city"], issued_on=dt.date(2026, 7, 1))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(h,)) for h in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(Certificate.objects.filter(year=2026).values_list("serial", flat=True)) == list(range(1, 13))
    assert audit_verify().ok
