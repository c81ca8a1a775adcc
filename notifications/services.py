"""Writing notifications (an outbox in the caller's transaction), recording occurrences once, sending
e-mail, the inbox and preferences."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from certification.exceptions import Refusal, RuleViolation
from certification.models import User

from .kinds import LEGAL_KINDS, Kind
from .models import EmailState, Notification, Occurrence, Preference

logger = logging.getLogger(__name__)

#: E-mail attempts before a notification's e-mail is given up and reported; the wait doubles each time.
EMAIL_MAX_ATTEMPTS = 5
EMAIL_RETRY_BASE = dt.timedelta(minutes=1)


def as_email(value: str) -> str:
    """``value`` if it is an e-mail address, else ``""`` (an objector may give a phone number instead)."""
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


def local_text(moment) -> str:
    """A deadline (a date, or an aware datetime) as the reader sees it, in the site's zone; language-neutral.
    One at midnight reads as the end of its last day (``certification.rules.deadline_text``)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if isinstance(moment, dt.datetime):
        from certification.rules import deadline_text

        return deadline_text(timezone.localtime(moment))
    return moment.isoformat()


@dataclass
class Draft:
    """A notification to write: to a user (``user_id``) or to an outside address (``email``)."""

    key: str
    kind: str
    user_id: int | None = None
    email: str = ""
    params: dict = field(default_factory=dict)
    case_id: int | None = None


def notify(drafts: Iterable[Draft], *, now: dt.datetime | None = None) -> int:
    """Write the drafts in the caller's transaction, once each (a key already written is skipped), and have
    their e-mail sent when the transaction commits. A rolled-back transaction leaves no notification and
    sends nothing. A constant number of queries, whatever the number of drafts."""
    drafts = list(drafts)
    if not drafts:
        return 0
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify runs inside the transaction of what it tells")
    now = now or timezone.now()
    user_ids = {d.user_id for d in drafts if d.user_id}
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids, is_active=True).only("id", "email", "language")}
    muted = set(Preference.objects.filter(user__in=user_ids, email=False).values_list("user_id", "kind"))
    rows = []
    for d in drafts:
        if d.user_id and d.user_id not in users:
            continue  # an inactive user is not told
        user = users.get(d.user_id)
        address = as_email(user.email) if user else d.email
        wanted = user is None or d.kind in LEGAL_KINDS or (d.user_id, d.kind) not in muted
        rows.append(Notification(
            key=d.key[:240], kind=d.kind, recipient=user, email=address, params=d.params, case_id=d.case_id,
            language=user.language if user else settings.LANGUAGE_CODE, created_at=now,
            email_state=EmailState.PENDING if (address and wanted) else EmailState.OFF,
        ))
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(_enqueue_email)
    return len(rows)


def _enqueue_email() -> None:
    """After commit: ask a worker to send pending e-mail. If the broker is away, the beat sweep of pending
    e-mail sends it later: the outbox rows are the truth, not the message."""
    from .tasks import send_pending_email

    try:
        send_pending_email.delay()
    except Exception:  # the broker is unreachable; the outbox keeps the work
        logger.warning("could not enqueue the e-mail of new notifications; the next sweep sends it",
                       exc_info=True)


def occurrences_record(keys: dict[str, str], *, now: dt.datetime | None = None) -> set[str]:
    """Record occurrences (key → kind) and return the keys that are new: one statement per thousand keys,
    ``INSERT … ON CONFLICT DO NOTHING RETURNING``. Of two transactions recording the same key at once, the
    second waits for the first and gets nothing back, so what follows a new key happens once."""
    if not keys:
        return set()
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("occurrences are recorded inside the transaction of what follows them")
    now = now or timezone.now()
    table = connection.ops.quote_name(Occurrence._meta.db_table)
    new: set[str] = set()
    items = sorted(keys.items())
    for start in range(0, len(items), 1000):
        chunk = items[start:start + 1000]
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
        params = [p for key, kind in chunk for p in (key, kind, now, now, now)]
        sql = (f"INSERT INTO {table} (key, kind, occurred_at, created_at, updated_at) "  # noqa: S608 - no input
               f"VALUES {values} ON CONFLICT (key) DO NOTHING RETURNING key")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            new.update(row[0] for row in cursor.fetchall())
    return new


# --- E-mail ---------------------------------------------------------------------------------------------
def _message(notification: Notification) -> mail.EmailMessage:
    with translation.override(notification.language or settings.LANGUAGE_CODE):
        context = {"notification": notification, "text": notification.text,
                   "kind": notification.get_kind_display(), "recipient": notification.recipient}
        subject = " ".join(render_to_string("notifications/email/subject.txt", context).split())
        body = render_to_string("notifications/email/body.txt", context)
    return mail.EmailMessage(subject=subject, body=body, to=[notification.email])


def emails_send_pending(*, limit: int = 200, now: dt.datetime | None = None) -> int:
    """Send the e-mail of pending notifications, at most ``limit``; returns how many were sent.

    Rows are taken under a row lock that skips rows another worker holds, so two workers never send the
    same e-mail; a failure waits before the next attempt (doubling each time) and, after
    ``EMAIL_MAX_ATTEMPTS``, is marked failed and logged as an error (shown in the admin)."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        batch = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(email_state=EmailState.PENDING)
            .filter(Q(email_next_attempt_at__isnull=True) | Q(email_next_attempt_at__lte=now))
            .select_related("recipient").order_by("id")[:limit]
        )
        if not batch:
            return 0
        with mail.get_connection() as smtp:
            for notification in batch:
                notification.email_attempts += 1
                try:
                    message = _message(notification)
                    message.connection = smtp
                    message.send()
                except Exception as exc:  # any failure of one message must not stop the others
                    notification.email_error = f"{type(exc).__name__}: {exc}"[:1000]
                    if notification.email_attempts >= EMAIL_MAX_ATTEMPTS:
                        notification.email_state = EmailState.FAILED
                        logger.error("e-mail of notification %s failed %d times, given up: %s", notification.pk,
                                     notification.email_attempts, notification.email_error)
                    else:
                        wait = EMAIL_RETRY_BASE * 2 ** (notification.email_attempts - 1)
                        notification.email_next_attempt_at = now + wait
                else:
                    notification.email_state, notification.emailed_at = EmailState.SENT, now
                    sent += 1
        Notification.objects.bulk_update(batch, ["email_state", "email_attempts", "email_next_attempt_at",
                                                 "emailed_at", "email_error", "updated_at"])
    return sent


# --- The inbox and preferences ---------------------------------------------------------------------------
@transaction.atomic(durable=True)
def notification_mark_read(*, actor, notification: Notification | None = None) -> int:
    """Mark one of the actor's notifications read, or all of them (``notification=None``)."""
    rows = Notification.objects.filter(recipient=actor, read_at__isnull=True)
    if notification is not None:
        rows = rows.filter(pk=notification.pk)
    return rows.update(read_at=timezone.now(), updated_at=timezone.now())


@transaction.atomic(durable=True)
def preferences_set(*, actor, email_by_kind: dict[str, bool]) -> None:
    """Turn e-mail on or off per kind. E-mail of a legal deadline cannot be turned off."""
    unknown = set(email_by_kind) - set(Kind.values)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}")
    refused = sorted(k for k, on in email_by_kind.items() if k in LEGAL_KINDS and not on)
    if refused:
        raise RuleViolation(*[Refusal(
            code="notifications.legal_always_mailed", rule=_("Notifications"),
            message=_("“%(kind)s” tells of a legal deadline: its e-mail cannot be turned off.")
            % {"kind": Kind(k).label}, params={"kind": k}) for k in refused])
    # One statement for every kind (an upsert on the one-preference-per-kind constraint).
    now = timezone.now()
    Preference.objects.bulk_create(
        [Preference(user=actor, kind=kind, email=bool(on), updated_at=now) for kind, on in email_by_kind.items()],
        update_conflicts=True, unique_fields=["user", "kind"], update_fields=["email", "updated_at"])


def email_preferences(user) -> dict[str, bool]:
    """Every kind with whether the user receives it by e-mail (default on)."""
    chosen = dict(Preference.objects.filter(user=user).values_list("kind", "email"))
    return {kind: kind in LEGAL_KINDS or chosen.get(kind, True) for kind in Kind.values}
