import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from certification.enums import CertificateStatus
from certification.services.certificates import certificates_lapse_due
from tests.factories import CertificateFactory, InstitutionFactory
from tests.worlds import at

pytestmark = pytest.mark.django_db



@pytest.fixture
def expiring(archives_version, regions, bureaus):
    """A certificate valid through 2026-06-30, and one with a recheck declared, same dates."""
    def make(status=CertificateStatus.IN_FORCE):
        return CertificateFactory(
            institution=InstitutionFactory(region=regions["province"]), scheme_version=archives_version,
            issued_by=bureaus["province"], approved_by=bureaus["province"],
            issued_on=dt.date(2023, 7, 1), valid_until=dt.date(2026, 6, 30), status=status)
    return make(), make(CertificateStatus.RECHECK_IN_PROGRESS)


def test_nothing_lapses_on_the_last_day_of_validity(expiring):
    with at(2026, 6, 30, 23, 59, 59):
        assert certificates_lapse_due() == 0
    expiring[0].refresh_from_db()
    assert expiring[0].status == CertificateStatus.IN_FORCE


def test_lapses_at_the_start_of_the_day_after_expiry_local_time(expiring):
    # 2026-06-30 16:00 UTC is already 2026-07-01 00:00 in Asia/Shanghai.
    with time_machine.travel(dt.datetime(2026, 6, 30, 16, 0, 0, tzinfo=dt.UTC), tick=False):
        assert certificates_lapse_due() == 1
        now = timezone.now()
    in_force, rechecking = expiring
    in_force.refresh_from_db()
    rechecking.refresh_from_db()
    assert (in_force.status, in_force.status_changed_at) == (CertificateStatus.LAPSED, now)
    assert in_force.status_reason != ""
    assert rechecking.status == CertificateStatus.RECHECK_IN_PROGRESS


def test_lapsing_twice_lapses_nothing_twice(expiring):
    with at(2026, 7, 2, 9, 0):
        assert certificates_lapse_due() == 1
        assert certificates_lapse_due() == 0


def test_each_lapse_is_audited_and_the_chain_holds(expiring):
    from certification.models import AuditEntry
    from certification.services.audit import audit_verify

    with at(2026, 7, 2, 9, 0):
        certificates_lapse_due()
    entry = AuditEntry.objects.get(action="certificate.lapse")
    assert (entry.target_id, entry.actor, entry.after) == (str(expiring[0].pk), None, {"status": "lapsed"})
    assert audit_verify().ok


def test_each_scheme_numbers_its_certificates_in_its_own_series_and_year(archives_version, regions, bureaus,
                                                                          province_officer):
    """Issue 15: certificate serials are per scheme and year, in the format the scheme's file declares; the
    public finds each by its number as typed."""
    from django.db import transaction

    from certification.enums import Kind
    from certification.models import CertificateSerial, Grade
    from certification.selectors import certificate_public
    from certification.services.certificates import issue_within
    from tests.worlds import build_education_world

    education, county, _people, _experts = build_education_world(regions=regions, bureaus=bureaus)
    archives_holders = [InstitutionFactory(region=regions["county"]) for _ in range(2)]
    second = Grade.objects.get(version=archives_version, code="second")
    qualified = Grade.objects.get(version=education, code="qualified")
    with at(2026, 6, 1, 9, 0), transaction.atomic():
        issued = [issue_within(actor=province_officer, institution=holder, grade=second, kind=Kind.PROMOTION,
                               approved_by=bureaus["county"]) for holder in archives_holders]
        issued.append(issue_within(actor=province_officer, institution=county, grade=qualified,
                                   kind=Kind.PROMOTION, approved_by=bureaus["city"]))
    assert [(c.serial, c.number) for c in issued] == [
        (1, "鄂档等证〔2026〕0001号"), (2, "鄂档等证〔2026〕0002号"), (1, "教育督导评估证〔2026〕0001号")]
    assert sorted(CertificateSerial.objects.values_list("scheme__code", "year", "last")) == [
        ("archives", 2026, 2), ("education-county", 2026, 1)]
    assert certificate_public(number="教育督导评估证(2026)1号") == issued[2]
    assert certificate_public(number="鄂档等证 2026 2") == issued[1]
    assert certificate_public(number="教育督导评估证(2026)9号") is None
