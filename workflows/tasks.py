"""Celery tasks that move a case: thin and idempotent, each through the case's action (the service and the
process step together), as a page or the API would."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="certification.issue_batch_item", acks_late=True, reject_on_worker_lost=True)
def issue_batch_item(*, item_id: int) -> str:
    """Issue one certificate of a batch (one task per certificate, run in parallel) through the case's action,
    so that the case's process ends with it. Idempotent: a finished item is left alone and a case already
    certified is not issued twice."""
    from certification.models import IssueBatchItem
    from certification.services.issuing import issue_batch_item_run

    from .actions import case_issue_certificate

    try:
        item = issue_batch_item_run(item_id=item_id, issue=case_issue_certificate)
    except IssueBatchItem.DoesNotExist:
        logger.warning("batch item %s is gone", item_id)
        return "missing"
    return item.status
