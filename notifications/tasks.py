"""Celery tasks of the calendar and the outbox: thin and idempotent, each calls one service.

A task that meets an unreachable database retries with exponential backoff (``autoretry_for``); the work
itself is in the database, so a lost message is re-derived by the next run of the same sweep."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# The database away for a moment: retry with backoff (2, 4, 8 … seconds, with jitter), up to 8 times.
RETRY = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 2, "retry_backoff_max": 120,
         "retry_jitter": True, "max_retries": 8}


def _fresh_connection() -> None:
    """Drop a connection the database closed under us, so that the retry opens a new one."""
    from django.db import close_old_connections, connection

    close_old_connections()
    if connection.connection is not None and not connection.is_usable():
        connection.close()


@shared_task(name="notifications.send_pending_email", **RETRY)
def send_pending_email() -> int:
    """Send the e-mail of pending notifications (after each commit, and every minute from beat)."""
    from .services import emails_send_pending

    _fresh_connection()
    total = 0
    while True:
        sent = emails_send_pending(limit=200)
        total += sent
        if sent < 200:
            return total


@shared_task(name="notifications.send_recheck_reminders", **RETRY)
def send_recheck_reminders() -> int:
    from .sweeps import recheck_reminders_send

    _fresh_connection()
    return recheck_reminders_send()


@shared_task(name="notifications.send_rectification_reminders", **RETRY)
def send_rectification_reminders() -> int:
    from .sweeps import rectification_reminders_send

    _fresh_connection()
    return rectification_reminders_send()


@shared_task(name="notifications.send_scoring_reminders", **RETRY)
def send_scoring_reminders() -> int:
    from .sweeps import scoring_deadlines_send

    _fresh_connection()
    return scoring_deadlines_send()


@shared_task(name="notifications.send_annual_summary_reminders", **RETRY)
def send_annual_summary_reminders() -> int:
    from .sweeps import annual_summary_send

    _fresh_connection()
    return annual_summary_send()


def run_daily_sweeps() -> dict[str, int]:
    """Every daily sweep in order, in this process (without a broker)."""
    from certification.services.certificates import certificates_lapse_due

    from .sweeps import (
        annual_summary_send,
        recheck_reminders_send,
        rectification_reminders_send,
        scoring_deadlines_send,
    )

    return {
        "lapses": certificates_lapse_due(),
        "recheck_reminders": recheck_reminders_send(),
        "rectification_reminders": rectification_reminders_send(),
        "scoring": scoring_deadlines_send(),
        "annual_summary": annual_summary_send(),
    }
