"""A real Celery worker consumes a task through Redis and the task's service changes the database."""

import datetime as dt

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from certification.enums import CertificateStatus
from certification.models import Certificate
from certification.tasks import fire_due_timers, lapse_expired_certificates
from config.celery_app import app
from tests.factories import CertificateFactory, InstitutionFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        yield


def test_a_real_worker_lapses_an_expired_certificate_through_redis(worker, archives_version, regions, bureaus):
    today = timezone.localdate()
    expired = CertificateFactory(
        institution=InstitutionFactory(region=regions["province"]), scheme_version=archives_version,
        issued_by=bureaus["province"], approved_by=bureaus["province"],
        issued_on=today - dt.timedelta(days=3 * 365 + 30), valid_until=today - dt.timedelta(days=10))
    assert app.conf.broker_url.startswith("redis://")

    result = lapse_expired_certificates.delay()

    assert result.get(timeout=30) == 1
    assert Certificate.objects.get(pk=expired.pk).status == CertificateStatus.LAPSED


def test_a_real_worker_fires_due_timers(worker):
    assert fire_due_timers.delay().get(timeout=30) == 0
