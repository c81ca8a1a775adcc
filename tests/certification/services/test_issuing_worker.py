"""A batch of certificates issued by real Celery workers through Redis, in parallel: numbers stay gapless, a
failure is reported and the others are issued, and each certificate's PDF is stored. The small batch runs on a
thread pool in the test's process; the batch of 500 on a prefork worker process, watched on the officer's
page."""

import datetime as dt
import hashlib
import io
import os
import re
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from certification import permissions
from certification.enums import CertificateStatus, Role
from certification.models import Case, Certificate, IssuedDocument, Stage
from certification.selectors import issue_batch_progress
from certification.services.issuing import issue_batch_start
from config.celery_app import app
from tests.factories import CertificateFactory, UserFactory
from tests.processes import Workers, wait_until
from tests.worlds import approved_cases

pytestmark = [pytest.mark.worker, pytest.mark.postgresql, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("media")]


@pytest.fixture
def workers():
    app.control.purge()
    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING",
                      shutdown_timeout=30):
        yield


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
    # each certificate's PDF is drawn by its own task, sent when its issue committed; the test ends only
    # once the workers have drawn them all (none is left writing while the database is emptied)
    wait_until(lambda: not IssuedDocument.objects.filter(kind="certificate", drawn_at__isnull=True).exists(),
               seconds=300, what="the PDFs")


BATCH = 500
PROGRESS = re.compile(r'<progress max="(\d+)" value="(\d+)"')


@pytest.fixture
def prefork(tmp_path):
    """A worker process with a prefork pool, a child per CPU (at least two), on the suite's Redis: drawing
    PDFs is CPU work, and threads would take turns on one CPU."""
    app.control.purge()
    started = Workers(settings.CELERY_BROKER_URL, tmp_path, pool="prefork", concurrency=max(2, os.cpu_count() or 2))
    started.start()
    yield started
    started.stop()
    print(started.logs())  # shown when the test fails


def test_the_officer_issues_500_certificates_in_one_batch_and_watches_the_progress_bar(
        prefork, client, archives_version, regions, bureaus):
    officer = UserFactory()
    permissions.role_grant(user=officer, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    cases = approved_cases(BATCH, version=archives_version, regions=regions, bureaus=bureaus)
    failing = cases[137]
    CertificateFactory(institution=failing.institution, scheme_version=archives_version,
                       issued_by=bureaus["province"], approved_by=bureaus["county"],
                       issued_on=dt.date(2025, 6, 1), status=CertificateStatus.SUSPENDED)
    client.force_login(officer)

    queue = client.get(reverse("certificates:queue")).content.decode()
    assert f"颁发全部 {BATCH} 张待发证书" in queue
    response = client.post(reverse("certificates:queue"), {"all": "1"})
    assert response.status_code == 302
    page = response["Location"]

    seen = []

    def finished():
        html = client.get(page).content.decode()
        total, done = map(int, PROGRESS.search(html).groups())
        seen.append(done)
        return html if "本批次已处理完毕" in html else None

    html = wait_until(finished, seconds=900, what=f"{BATCH} certificates", every=0.5)

    assert all(earlier <= later for earlier, later in zip(seen, seen[1:], strict=False))
    assert any(0 < done < BATCH for done in seen), seen  # the bar moved while the officer watched
    assert f'<progress max="{BATCH}" value="{BATCH}"' in html
    assert 'http-equiv="refresh"' not in html  # finished: the page stops refreshing
    assert f"共 {BATCH} 件，已处理 {BATCH} 件：成功颁发 {BATCH - 1} 件，失败 1 件" in html
    assert failing.reference in html and "暂停" in html

    year = timezone.localdate().year
    certificates = Certificate.objects.filter(year=year, status=CertificateStatus.IN_FORCE)
    assert sorted(certificates.values_list("serial", flat=True)) == list(range(1, BATCH))  # gapless, none twice
    assert Case.objects.filter(outcome="certified").count() == BATCH - 1
    assert Case.objects.get(pk=failing.pk).stage == Stage.CERTIFICATE  # still waiting in the queue
    documents = IssuedDocument.objects.filter(kind="certificate").select_related("certificate__institution")
    assert documents.count() == BATCH - 1
    # each certificate's PDF is drawn by its own task, sent when its issue committed
    wait_until(lambda: not documents.filter(drawn_at__isnull=True).exists(), seconds=900, what="the PDFs")
    assert len({d.certificate_id for d in documents}) == BATCH - 1
    for document in (documents.first(), documents.last()):
        with document.file.open("rb") as stored:
            data = stored.read()
        assert hashlib.sha256(data).hexdigest() == document.sha256
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
        assert document.certificate.number in text
        assert document.certificate.institution.name in text
