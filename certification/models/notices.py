"""The public notice (公示) of cases, and the public's objections (异议) to them."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .cases import Case
from .organisations import Bureau
from .schemes import Grade


class Notice(DomainModel):
    """One notice lists many cases; it closes at the first local midnight at least seven days on."""

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="notices", verbose_name=_("bureau"))
    title = models.CharField(_("title"), max_length=200)
    published_at = models.DateTimeField(_("published at"))
    closes_at = models.DateTimeField(_("closes at"))
    extension_reason = models.TextField(_("reason for the extension"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cases = models.ManyToManyField(Case, related_name="notices", verbose_name=_("cases"))

    class Meta:
        verbose_name = _("public notice")
        verbose_name_plural = _("public notices")
        ordering = ["-published_at"]
        constraints = [models.CheckConstraint(condition=models.Q(closes_at__gt=models.F("published_at")),
                                              name="notice_closes_after_publication")]

    def __str__(self) -> str:
        return self.title


def new_receipt_number() -> str:
    return "YY" + secrets.token_hex(5).upper()


class Objection(DomainModel):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received, being verified")
        DISMISSED = "dismissed", _("Dismissed")
        DOWNGRADED = "downgraded", _("Upheld in part: grade lowered")
        UPHELD = "upheld", _("Upheld: not certified")
        SET_ASIDE = "set_aside", _("Set aside (anonymous or without grounds)")

    notice = models.ForeignKey(Notice, models.PROTECT, related_name="objections", verbose_name=_("notice"))
    case = models.ForeignKey(Case, models.PROTECT, related_name="objections", verbose_name=_("case"))
    receipt = models.CharField(_("receipt number"), max_length=20, unique=True, default=new_receipt_number,
                               editable=False)
    name = models.CharField(_("real name"), max_length=50)
    contact = models.CharField(_("contact"), max_length=100)
    grounds = models.TextField(_("grounds"))
    attachment = models.FileField(_("attachment"), upload_to="objections/%Y/", blank=True)
    received_at = models.DateTimeField(_("received at"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    resolution = models.TextField(_("resolution"), blank=True)
    downgraded_to = models.ForeignKey(Grade, models.PROTECT, null=True, blank=True, related_name="+",
                                      verbose_name=_("grade after the objection"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("resolved by"))

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["received_at"]

    def __str__(self) -> str:
        return self.receipt
