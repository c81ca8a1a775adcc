"""Faults against a real Celery worker process on a private Redis: the worker killed with SIGKILL while it
draws a certificate, and Redis restarted while work is queued. The outcome is read from the database."""

import datetime as dt
import hashlib
import signal
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone
from pypdf import PdfReader

from certification import permissions
from certification.enums import CertificateStatus, InstitutionLevel, Kind, Role
from certification.models import AuditEntry, Case, Certificate, Grade, IssueBatchItem, IssuedDocument, Stage
from certification.services.issuing import issue_batch_start
from notifications.kinds import Kind as NotificationKind
from notifications.models import Notification, Occurrence
from tests.factories import InstitutionFactory, UserFactory
from tests.processes import PrivateRedis, Workers, client, wait_until
from workflows.tasks import issue_batch_item

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.postgresql,
              pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media")]


@pytest.fixture
def broker(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def workers(broker, tmp_path):
    started = Workers(broker.url, tmp_path, FAULTS_RENDER_MARKER=str(tmp_path / "rendering"),
                      FAULTS_VISIBILITY_TIMEOUT="2")
    yield started
    started.stop()
    print(started.logs())  # shown when the test fails


def test_a_worker_killed_while_drawing_a_certificate_issues_it_once_and_draws_it_after_restart(
        workers, broker, tmp_path, archives_version, regions, bureaus):
    officer = UserFactory()
    permissions.role_grant(user=officer, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    institution = InstitutionFactory(name="县档案馆", region=regions["county"], level=InstitutionLevel.COUNTY)
    case = Case.objects.create(
        institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
        bureau=bureaus["county"], grade=Grade.objects.get(version=archives_version, code="second"),
        declared_at=timezone.now(), declared_by=UserFactory(), reference="2026000001", stage=Stage.CERTIFICATE)
    sender = client(broker.url)
    with mock.patch.object(issue_batch_item, "delay",
                           side_effect=lambda **kw: sender.send_task("certification.issue_batch_item", kwargs=kw)):
        batch = issue_batch_start(actor=officer, case_ids=[case.pk])
    item = batch.items.get()

    first = workers.start()
    wait_until((tmp_path / "rendering").exists, seconds=30, what="the worker to start drawing the certificate")
    # Killed between the committed issue (its document frozen, its drawing task sent) and the stored PDF.
    assert Certificate.objects.filter(institution=institution).count() == 1
    assert IssuedDocument.objects.filter(kind="certificate", drawn_at__isnull=True, file="").count() == 1
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    workers.start()  # the unacknowledged drawing task is redelivered to it (acks_late, visibility timeout)
    wait_until(lambda: IssuedDocument.objects.filter(kind="certificate", drawn_at__isnull=False).exists(),
               seconds=40, what="the redelivered drawing task")

    item.refresh_from_db()
    certificate = Certificate.objects.get(institution=institution)
    assert item.status == IssueBatchItem.Status.ISSUED
    assert item.certificate == certificate
    assert list(Certificate.objects.filter(year=certificate.year).values_list("serial", flat=True)) == [1]
    assert AuditEntry.objects.filter(action="case.certified", target_id=str(case.pk)).count() == 1
    assert Case.objects.get(pk=case.pk).outcome == "certified"
    document = IssuedDocument.objects.get(kind="certificate")
    assert (document.certificate, document.number) == (certificate, certificate.number)
    pdfs = list(Path(settings.MEDIA_ROOT).rglob("*.pdf"))
    assert len(pdfs) == 1
    assert hashlib.sha256(pdfs[0].read_bytes()).hexdigest() == document.sha256
    assert len(PdfReader(pdfs[0]).pages) == 1


def test_redis_restarted_with_work_queued_loses_no_deadline(workers, broker, tmp_path, holder, make_certificate):
    institution, user = holder
    reminded = make_certificate(institution, timezone.localdate() + dt.timedelta(days=90))
    other = InstitutionFactory(region=institution.region, level=InstitutionLevel.CITY)
    expired = make_certificate(other, timezone.localdate() - dt.timedelta(days=2))
    workers.start()
    sender = client(broker.url)
    sender.send_task("tests.faults.hold", kwargs={"directory": str(tmp_path)})
    wait_until((tmp_path / "holding").exists, seconds=30, what="the worker to be busy")

    # The beat's sweeps are queued while the worker is busy; then Redis restarts and loses them.
    sender.send_task("certification.lapse_expired_certificates")
    sender.send_task("notifications.send_recheck_reminders")
    assert broker.client().llen("celery") == 2
    broker.stop()
    broker.start()
    assert broker.client().llen("celery") == 0
    (tmp_path / "release").write_text("")

    assert Certificate.objects.get(pk=expired.pk).status == CertificateStatus.IN_FORCE  # the lost work: undone
    sender = client(broker.url)  # the next beat, after the restart: the sweeps derive the due work from the database
    lapsed = sender.send_task("certification.lapse_expired_certificates").get(timeout=40)
    reminders = sender.send_task("notifications.send_recheck_reminders").get(timeout=40)

    assert (lapsed, reminders) == (1, 1)
    assert Certificate.objects.get(pk=expired.pk).status == CertificateStatus.LAPSED
    assert Certificate.objects.get(pk=reminded.pk).status == CertificateStatus.IN_FORCE
    assert Notification.objects.filter(recipient=user, kind=NotificationKind.RECHECK_REMINDER).count() == 1
    assert Occurrence.objects.filter(kind=NotificationKind.RECHECK_REMINDER).count() == 1
    assert Occurrence.objects.filter(kind=NotificationKind.CERTIFICATE_LAPSED).count() == 1
