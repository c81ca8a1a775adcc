"""Writing and verifying the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from ..models.audit import GENESIS, AuditEntry, AuditHead
from ..signals import audited


def _plain(value: Any) -> Any:
    """JSON as it will be stored (Decimals and dates as strings), so the hash covers what is kept."""
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(*, actor, action: str, target: models.Model, before: Any = None, after: Any = None,
                 reason: str = "") -> AuditEntry:
    """Append one entry, in the caller's transaction, chained to the newest entry.

    Call it inside the transaction that makes the change, so that the change and its record commit or roll
    back together. Appends are serialised by a row lock on the chain's head.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record runs inside the transaction of the change it records")
    head = AuditHead.objects.select_for_update().filter(id=1).first()
    if head is None:  # the first entry ever
        AuditHead.objects.get_or_create(id=1)
        head = AuditHead.objects.select_for_update().get(id=1)
    entry = AuditEntry(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        before=_plain(before),
        after=_plain(after),
        reason=reason,
        prev_hash=head.last_hash,
    )
    entry.hash = entry.compute_hash()
    entry.save()
    AuditHead.objects.filter(id=1).update(last_hash=entry.hash, entries=models.F("entries") + 1)
    audited.send(sender=AuditEntry, entries=[entry], targets=[target])
    return entry


def audit_record_many(*, actor, action: str, targets: list[models.Model], before: Any = None, after: Any = None,
                      reason: str = "") -> int:
    """Append one entry per target in a constant number of queries (for set-based sweeps)."""
    if not targets:
        return 0
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record_many runs inside the transaction of the change it records")
    head = AuditHead.objects.select_for_update().filter(id=1).first()
    if head is None:  # the first entry ever
        AuditHead.objects.get_or_create(id=1)
        head = AuditHead.objects.select_for_update().get(id=1)
    previous, entries = head.last_hash, []
    for target in targets:
        entry = AuditEntry(
            actor=actor if actor is not None and actor.pk else None, action=action,
            target_type=target._meta.label_lower, target_id=str(target.pk), target_repr=str(target)[:200],
            before=_plain(before), after=_plain(after), reason=reason, prev_hash=previous,
        )
        entry.hash = previous = entry.compute_hash()
        entries.append(entry)
    AuditEntry.objects.bulk_create(entries)
    AuditHead.objects.filter(id=1).update(last_hash=previous, entries=models.F("entries") + len(entries))
    audited.send(sender=AuditEntry, entries=entries, targets=list(targets))
    return len(entries)


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_at: int | None  # the id of the first entry that does not fit, or None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None and not self.problem


def audit_verify() -> ChainReport:
    """Walk the chain: every entry's hash matches its content and the previous entry's hash, and the head
    names the last entry (so a removed last entry is found too)."""
    previous = GENESIS
    count = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        if entry.prev_hash != previous:
            return ChainReport(count, entry.pk, "the entry before it was changed or removed")
        if entry.compute_hash() != entry.hash:
            return ChainReport(count, entry.pk, "its content was changed")
        previous = entry.hash
        count += 1
    head = AuditHead.objects.filter(id=1).first()
    expected = head.last_hash if head else GENESIS
    if expected != previous or (head and head.entries != count):
        return ChainReport(count, None, "entries at the end of the log were removed")
    return ChainReport(count, None)
