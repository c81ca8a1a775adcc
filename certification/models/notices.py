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

    class SetAsideAs(models.TextChoices):
        """Why an objection was set aside (DESIGN §3.6: anonymous or groundless ones are recorded and may be
        set aside with a reason)."""

        ANONYMOUS = "anonymous", _("Anonymous: no real name or contact")
        GROUNDLESS = "groundless", _("Without grounds")

    notice = models.ForeignKey(Notice, models.PROTECT, related_name="objections", verbose_name=_("notice"))
    case = models.ForeignKey(Case, models.PROTECT, related_name="objections", verbose_name=_("case"))
    receipt = models.CharField(_("receipt number"), max_length=20, unique=True, default=new_receipt_number,
                               editable=False)
    name = models.CharField(_("real name"), max_length=50, blank=True)
    contact = models.CharField(_("contact"), max_length=100, blank=True)
    anonymous = models.BooleanField(_("anonymous"), default=False,
                                    help_text=_("Filed without a real name or without a contact: recorded, and may "
                                                "be set aside with a reason."))
    grounds = models.TextField(_("grounds"))
    attachment = models.FileField(_("attachment"), upload_to="objections/%Y/", blank=True)
    received_at = models.DateTimeField(_("received at"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    resolution = models.TextField(_("resolution"), blank=True)
    set_aside_as = models.CharField(_("set aside as"), max_length=12, choices=SetAsideAs.choices, blank=True)
    downgraded_to = models.ForeignKey(Grade, models.PROTECT, null=True, blank=True, related_name="+",
                                      verbose_name=_("grade after the objection"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("resolved by"))

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["received_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status="set_aside") | models.Q(set_aside_as=""),
                                   name="only_a_set_aside_objection_says_as_what"),
        ]

    def __str__(self) -> str:
        return self.receipt


class ObjectionVerification(DomainModel):
    """The bureau's record that two or three experts of the pool verified an objection (DESIGN §3.6: the
    bureau verifies, optionally by a re-check of two or three experts), before it resolves it."""

    objection = models.OneToOneField(Objection, models.PROTECT, related_name="verification",
                                     verbose_name=_("objection"))
    experts = models.ManyToManyField("certification.Expert", related_name="objection_verifications",
                                     verbose_name=_("experts"))
    findings = models.TextField(_("findings"))
    verified_on = models.DateField(_("verified on"))
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("verification of an objection")
        verbose_name_plural = _("verifications of objections")
        constraints = [models.CheckConstraint(condition=~models.Q(findings=""),
                                              name="an_objection_verification_has_findings")]

    def __str__(self) -> str:
        return f"{self.objection} {self.verified_on}"
