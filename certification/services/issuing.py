"""The batch issue of certificates: the officer chooses cases of the queue, and one Celery task per case
issues its certificate (through :func:`~certification.services.cases.case_issue_certificate`), which freezes
its document and sends the task that draws its PDF. Each item records its outcome; a refusal fails that item only. The batch's progress is a read:
:func:`certification.selectors.issue_batch_progress`.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import Refusal, RuleViolation
from ..models import Case, Certificate, IssueBatch, IssueBatchItem, Outcome
from ..selectors import certificate_queue
from .audit import audit_record
from .cases import case_issue_certificate
from .documents import certificate_document_freeze, document_draw_send

logger = logging.getLogger(__name__)

#: The registered name of the Celery task that runs one item (``certification.tasks.issue_batch_item``). It
#: is sent by name so that this module need not import the tasks, which import it.
ISSUE_BATCH_ITEM_TASK = "certification.issue_batch_item"


def _refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Certificates"), message=message, satisfy=satisfy))


def _send_items(item_ids: list[int]) -> None:
    """Send one task per item. Through the app's registry, ``delay`` runs the task in place under
    ``CELERY_TASK_ALWAYS_EAGER``, as calling the task's function would."""
    task = current_app.tasks[ISSUE_BATCH_ITEM_TASK]
    for pk in item_ids:
        task.delay(item_id=pk)


@transaction.atomic(durable=True)
def issue_batch_start(*, actor, case_ids: list[int]) -> IssueBatch:
    """Start issuing the certificates of the chosen cases of the officer's queue: one Celery task each,
    sent once the batch is stored. A case not in the officer's queue refuses the whole batch."""
    ids = sorted({int(pk) for pk in case_ids})
    if not ids:
        raise _refuse("batch.empty", _("Choose at least one case."))
    cases = list(certificate_queue(actor).filter(pk__in=ids).select_for_update(of=("self",)))
    if len(cases) != len(ids):
        raise _refuse("batch.not_in_queue", _("Some chosen cases are not waiting in your queue: they may have "
                                              "been issued meanwhile."), _("Reload the queue and choose again."))
    batch = IssueBatch.objects.create(created_by=actor)
    items = IssueBatchItem.objects.bulk_create(IssueBatchItem(batch=batch, case=case) for case in cases)
    audit_record(actor=actor, action="certificate.batch_start", target=batch,
                 after={"cases": [c.pk for c in cases]})
    item_ids = [item.pk for item in items]
    transaction.on_commit(lambda: _send_items(item_ids))
    return batch


def _certified_meanwhile(item_id: int, *, actor, case: Case) -> IssueBatchItem:
    """The item of a case certified before this run (a redelivered task, or one issued one by one): record
    its certificate, and send the drawing of the certificate's PDF again should it not be drawn yet (the run that
    issued it may have stopped before sending it). Freezing and drawing are idempotent; a failure is logged: the
    first download draws it."""
    certificate = Case.objects.select_related("certificate").get(pk=case.pk).certificate
    if certificate is not None:
        try:
            document = certificate_document_freeze(actor=actor, certificate=certificate, case=case)
            if not document.is_drawn:
                document_draw_send(document_id=document.pk)
        except Exception:
            logger.exception("could not store the PDF of certificate %s; its first download will", certificate.pk)
    return _finish(item_id, certificate=certificate)


@transaction.atomic
def _finish(item_id: int, *, certificate: Certificate | None = None, error: str = "") -> IssueBatchItem:
    item = IssueBatchItem.objects.select_for_update().get(pk=item_id)
    if item.status != IssueBatchItem.Status.PENDING:
        return item
    item.status = IssueBatchItem.Status.FAILED if error else IssueBatchItem.Status.ISSUED
    item.certificate, item.error, item.finished_at = certificate, error, timezone.now()
    item.save(update_fields=["status", "certificate", "error", "finished_at", "updated_at"])
    return item


def issue_batch_item_run(*, item_id: int, issue=case_issue_certificate) -> IssueBatchItem:
    """Issue one case's certificate for its batch, with ``issue`` (the case's write path: the Celery task
    passes the action that also ends the case's process). Idempotent: an item already finished is left alone,
    and a case already certified is not issued twice (the item records its certificate). A refusal is
    recorded as the item's failure; the other items go on."""
    item = IssueBatchItem.objects.select_related("batch__created_by", "case").get(pk=item_id)
    if item.status != IssueBatchItem.Status.PENDING:
        return item
    case = item.case
    if case.outcome == Outcome.CERTIFIED:
        return _certified_meanwhile(item_id, actor=item.batch.created_by, case=case)
    try:
        certificate = issue(actor=item.batch.created_by, case=case)
    except RuleViolation as exc:
        case = Case.objects.get(pk=case.pk)
        if case.outcome == Outcome.CERTIFIED:  # issued meanwhile (a redelivered task, or one by one)
            return _certified_meanwhile(item_id, actor=item.batch.created_by, case=case)
        return _finish(item_id, error=str(exc))
    except Exception as exc:
        logger.exception("issuing the certificate of case %s failed", case.pk)
        return _finish(item_id, error=_("Unexpected error: %(error)s") % {"error": type(exc).__name__})
    return _finish(item_id, certificate=certificate)
