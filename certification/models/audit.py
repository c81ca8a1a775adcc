"""The append-only audit log (DESIGN §6): every state change, score, reopening and document issue.

Each row carries the SHA-256 of the row before it, so that changing, removing or reordering a row breaks the
chain; ``manage.py audit_verify`` walks it. Rows are written only by ``services.audit.audit_record``, in the
same transaction as the change they record, and never updated or deleted.
"""

import datetime as dt
import hashlib
import json

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import HardDeleteRefused

GENESIS = "0" * 64


class AuditLogIsAppendOnly(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("audit entries are never changed")

    def delete(self):
        raise HardDeleteRefused("audit entries are never deleted")


class AuditEntry(models.Model):
    at = models.DateTimeField(_("at"), default=timezone.now, editable=False, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name=_("who"), help_text=_("Empty for the system's own actions."))
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("object type"), max_length=100)
    target_id = models.CharField(_("object id"), max_length=64)
    target_repr = models.CharField(_("object"), max_length=200)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    prev_hash = models.CharField(_("hash of the previous entry"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AuditLogIsAppendOnly("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise HardDeleteRefused("audit entries are never deleted")

    def payload(self) -> dict:
        """What the hash covers: every field but the hash itself."""
        return {
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": self.actor_id,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "target_repr": self.target_repr,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(self.payload(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class AuditHead(models.Model):
    """One row holding the hash of the newest entry: appends lock it, so the chain never forks, and a
    removed last entry is noticed."""

    last_hash = models.CharField(max_length=64, default=GENESIS)
    entries = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("audit log head")
        verbose_name_plural = _("audit log head")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_is_a_singleton")]

    def __str__(self) -> str:
        return f"{self.entries} entries, last {self.last_hash[:12]}"
