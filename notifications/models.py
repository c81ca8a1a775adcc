"""Notifications: the in-app inbox and the e-mail outbox in one row, per-user preferences, and the ledger of
what happened once (reminders, lapses, passed deadlines), each under an idempotency key."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from certification.models import DomainModel

from .kinds import Kind, render_text


class Occurrence(DomainModel):
    """Something the calendar did once: a reminder sent, a certificate lapsed, a deadline passed.

    The key names the event (``recheck:<certificate>:<valid until>:before_30``); its uniqueness is what makes
    a sweep run twice, or two beats at once, notify once."""

    key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))

    class Meta:
        verbose_name = _("recorded occurrence")
        verbose_name_plural = _("recorded occurrences")
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return self.key


class EmailState(models.TextChoices):
    PENDING = "pending", _("To be sent")
    SENT = "sent", _("Sent")
    OFF = "off", _("Not sent (turned off or no address)")
    FAILED = "failed", _("Failed")


class Notification(DomainModel):
    """One message to one recipient: a user (inbox and e-mail) or an outside address (e-mail only, e.g. an
    objector). It is written in the transaction of what it tells, and mailed only once that commits."""

    key = models.CharField(_("idempotency key"), max_length=240, unique=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                  related_name="notifications", verbose_name=_("recipient"))
    email = models.EmailField(_("e-mail address"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    case = models.ForeignKey("certification.Case", models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("case"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_state = models.CharField(_("e-mail"), max_length=10, choices=EmailState.choices,
                                   default=EmailState.PENDING)
    email_attempts = models.PositiveSmallIntegerField(_("e-mail attempts"), default=0)
    email_next_attempt_at = models.DateTimeField(_("next e-mail attempt"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    email_error = models.TextField(_("last e-mail error"), blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_inbox"),
            models.Index(fields=["email_state", "email_next_attempt_at"], name="notification_outbox",
                         condition=Q(email_state="pending")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(recipient__isnull=False) | ~Q(email=""),
                                   name="notification_has_a_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient or self.email}"

    @property
    def text(self) -> str:
        return render_text(self.kind, self.params)


class Preference(DomainModel):
    """A user's choice to receive one kind by e-mail or not (in-app is always on)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="notification_preferences",
                             verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    email = models.BooleanField(_("by e-mail"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}: {self.email}"
