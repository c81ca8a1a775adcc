"""A batch of certificates issued by real Celery workers through Redis, in parallel (a thread pool): numbers
stay gapless, a failure is reported and the others are issued, and each certificate's PDF is stored."""

import datetime as dt
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from certification import permissions
from certification.enums import CertificateStatus, InstitutionLevel, Kind, Role
from certification.models import Case, Certificate, Grade, IssuedDocument, Stage
from certification.services.documents import issue_batch_progress, issue_batch_start
from config.celery_app import app
from tests.factories import CertificateFactory, InstitutionFactory, UserFactory

pytestmark = [pytest.mark.worker, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers():
    app.control.purge()
    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING",
                      shutdown_timeout=30):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def approved_cases(n, *, version, regions, bureaus):
    declarant = UserFactory()
    grade = Grade.objects.get(version=version, code="second")
    cases = []
    for i in range(n):
        institution = InstitutionFactory(name=f"县直单位{i}", region=regions["county"], level=InstitutionLevel.COUNTY)
        cases.append(Case.objects.create(
            institution=institution, scheme_version=version, kind=Kind.PROMOTION, year=2026,
            bureau=bureaus["county"], grade=grade, declared_at=timezone.now(), declared_by=declarant,
            reference=f"2026{i + 1:06d}", stage=Stage.CERTIFICATE))
    return cases


def test_a_batch_runs_as_parallel_tasks_and_one_failure_does_not_stop_the_others(workers, archives_version,
                                                                                 regions, bureaus):
    officer = UserFactory()
    permissions.role_grant(user=officer, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    cases = approved_cases(12, version=archives_version, regions=regions, bureaus=bureaus)
    CertificateFactory(institution=cases[5].institution, scheme_version=archives_version,
                       issued_by=bureaus["province"], approved_by=bureaus["county"],
                       issued_on=dt.date(2025, 6, 1), status=CertificateStatus.SUSPENDED)

    batch = issue_batch_start(actor=officer, case_ids=[c.pk for c in cases])
    deadline = timezone.now() + dt.timedelta(seconds=120)
    while not issue_batch_progress(batch)["finished"] and timezone.now() < deadline:
        time.sleep(0.2)  # waiting for real worker threads to finish; no time rule is under test here
    progress = issue_batch_progress(batch)

    assert (progress["total"], progress["issued"], progress["failed"]) == (12, 11, 1)
    assert progress["failures"][0].case == cases[5] and "暂停" in progress["failures"][0].error
    year = timezone.localdate().year
    serials = sorted(Certificate.objects.filter(year=year, status=CertificateStatus.IN_FORCE)
                     .values_list("serial", flat=True))
    assert serials == list(range(1, 12))
    assert IssuedDocument.objects.filter(kind="certificate").count() == 11
    assert Case.objects.filter(outcome="certified").count() == 11
