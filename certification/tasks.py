"""Celery tasks: thin, idempotent wrappers that call one service each."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="certification.fire_due_timers")
def fire_due_timers() -> int:
    """Fire Viewflow's database-backed timers that are due (flow.Timer, .OnTimeout), and its conditional
    events whose condition now holds (flow.ConditionalCatch: a case published in a notice, a certificate
    issued from the officer's queue)."""
    from viewflow.workflow.timers import fire_due_conditions
    from viewflow.workflow.timers import fire_due_timers as fire

    fired = fire() + fire_due_conditions()
    if fired:
        logger.info("fired %d due timer(s)", fired)
    return fired


@shared_task(name="certification.lapse_expired_certificates")
def lapse_expired_certificates() -> int:
    from .services.certificates import certificates_lapse_due

    lapsed = certificates_lapse_due()
    if lapsed:
        logger.info("lapsed %d certificate(s)", lapsed)
    return lapsed


@shared_task(name="certification.close_due_notices")
def close_due_notices() -> int:
    """Public notices close at their time; cases without objections go on to the panel."""
    from .services.notices import notices_close_due

    return notices_close_due()


@shared_task(name="certification.withdraw_missed_rectifications")
def withdraw_missed_rectifications() -> int:
    """Cases whose rectification deadline passed without a resubmission are withdrawn."""
    from .services.cases import cases_withdraw_missed_rectifications

    return cases_withdraw_missed_rectifications()


@shared_task(name="certification.sweep_oversight_orders")
def sweep_oversight_orders() -> int:
    """Rectification orders of spot checks: reminders before the deadline, overdue after it (idempotent)."""
    from .services.oversight import order_reminders_due, orders_overdue

    return order_reminders_due() + orders_overdue()


@shared_task(name="certification.document_draw", acks_late=True, reject_on_worker_lost=True)
def document_draw(*, document_id: int) -> str:
    """Draw a frozen document's PDF from its stored HTML (sent once the transaction that froze it commits).
    Idempotent: a document already drawn is left alone, and of two runs at once one file is stored. A document
    whose HTML no longer matches its hash is refused (logged, not retried)."""
    from .models import IssuedDocument
    from .services.documents import DocumentIntegrityError
    from .services.documents import document_draw as draw

    try:
        document = draw(document_id=document_id)
    except IssuedDocument.DoesNotExist:
        logger.warning("document %s is gone", document_id)
        return "missing"
    except DocumentIntegrityError:
        return "refused"
    return document.sha256
