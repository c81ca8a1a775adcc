"""The PDFs of an approval drawn by a real Celery worker through Redis, after the approval commits: each
document drawn once from its frozen HTML, even with every drawing task sent twice and run at the same time."""

import hashlib
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from pypdf import PdfReader

from certification.models import AuditEntry, IssuedDocument
from certification.services.documents import DOCUMENT_DRAW_TASK
from config.celery_app import app
from tests.processes import wait_until
from tests.worlds import run_case

pytestmark = [pytest.mark.worker, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def test_a_worker_draws_each_approved_document_once_though_each_task_runs_twice(world, media):
    app.control.purge()
    case = run_case(world)  # the approval commits and sends one drawing task per document
    documents = list(IssuedDocument.objects.filter(case=case))
    assert len(documents) == 6 and all(d.file.name == "" for d in documents)  # nothing drawn in the approval
    for document in documents:  # a redelivery of each, racing the first run on another thread
        app.tasks[DOCUMENT_DRAW_TASK].delay(document_id=document.pk)

    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING",
                      shutdown_timeout=30):
        wait_until(lambda: not IssuedDocument.objects.filter(case=case, drawn_at__isnull=True).exists(),
                   seconds=120, what="the worker to draw the six PDFs")

    stored = sorted(Path(media, "documents").rglob("*.pdf"))
    assert len(stored) == 6
    drawn = {d.kind: d for d in IssuedDocument.objects.filter(case=case)}
    assert sorted(Path(d.file.path) for d in drawn.values()) == stored
    for document in drawn.values():
        assert hashlib.sha256(Path(document.file.path).read_bytes()).hexdigest() == document.sha256
    text = "".join(page.extract_text() for page in PdfReader(drawn["application_form"].file.path).pages)
    assert case.institution.name in text
    assert AuditEntry.objects.filter(action="document.draw").count() == 6
