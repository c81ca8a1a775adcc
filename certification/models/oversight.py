"""Oversight (第九条, 第十二条, DESIGN §4.1): a higher bureau's spot-check rounds over the assessments of the
bureaus below it, the findings per rule broken (第十三条), the conclusion per bureau (compliant, or a
rectification order with a deadline), and the suspension of a bureau's authority and its reinstatement."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .cases import Case
from .organisations import Bureau


def order_evidence_path(instance, filename: str) -> str:
    return f"oversight/{instance.round.year}/{instance.round_id}/orders/{instance.pk}/{filename}"


class Sampling(models.TextChoices):
    RATE = "rate", _("A share of the closed cases")
    COUNT = "count", _("A number of closed cases per bureau")


class Selection(models.TextChoices):
    RANDOM = "random", _("Drawn at random")
    MANUAL = "manual", _("Chosen by hand, with a reason")


class Violation(models.TextChoices):
    """The rules an assessment can break (第十三条, and the procedure of 第十条 to 第十二条)."""

    PROCEDURE_SKIPPED = "procedure_skipped", _("A step of the procedure skipped (减化程序)")
    STANDARD_LOWERED = "standard_lowered", _("The standard lowered (降低标准)")
    SCORE_UNSUPPORTED = "score_unsupported", _("A score not supported by the file")
    CONFLICT_MISSED = "conflict_missed", _("A conflict of interest missed (回避)")
    FEE_TAKEN = "fee_taken", _("A fee taken or a condition attached (收取费用)")


class SpotCheckRound(DomainModel):
    """One round of spot checks planned by a higher bureau over the closed cases of a year of bureaus below."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DRAWN = "drawn", _("Drawn: inspecting")
        CONCLUDED = "concluded", _("Concluded")

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="spot_check_rounds",
                               verbose_name=_("checking bureau"))
    year = models.PositiveSmallIntegerField(_("year"))
    scope = models.ManyToManyField(Bureau, related_name="spot_checks_undergone", verbose_name=_("bureaus checked"))
    sampling = models.CharField(_("sampling"), max_length=10, choices=Sampling.choices, default=Sampling.RATE)
    sample_rate = models.DecimalField(_("sampling rate, percent"), max_digits=5, decimal_places=2, null=True, blank=True)
    sample_count = models.PositiveIntegerField(_("cases per bureau"), null=True, blank=True)
    selection = models.CharField(_("selection"), max_length=10, choices=Selection.choices, default=Selection.RANDOM)
    selection_reason = models.TextField(_("reason for the choice"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    planned_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                   verbose_name=_("planned by"))
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("inspector"))
    seed = models.CharField(_("draw seed"), max_length=64, blank=True)
    # {bureau key: [closed case keys, sorted]}: what the draw drew from, kept so that anyone can replay it
    candidates = models.JSONField(_("cases drawn from"), default=dict, blank=True)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True)
    concluded_at = models.DateTimeField(_("concluded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("spot-check round")
        verbose_name_plural = _("spot-check rounds")
        ordering = ["-year", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(selection="manual") | ~Q(selection_reason=""),
                                   name="spot_check_manual_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.bureau} {self.year} #{self.pk}"


class SpotCheckItem(DomainModel):
    """A closed case drawn in a round, and its inspection."""

    round = models.ForeignKey(SpotCheckRound, models.PROTECT, related_name="items", verbose_name=_("round"))
    case = models.ForeignKey(Case, models.PROTECT, related_name="spot_checks", verbose_name=_("case"))
    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="+", verbose_name=_("assessing bureau"))
    position = models.PositiveIntegerField(_("order drawn"))
    inspected_at = models.DateTimeField(_("inspected at"), null=True, blank=True)
    inspected_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("inspected by"))

    class Meta:
        verbose_name = _("case drawn")
        verbose_name_plural = _("cases drawn")
        ordering = ["round", "position"]
        constraints = [models.UniqueConstraint(fields=["round", "case"], name="spot_check_case_once_per_round")]

    def __str__(self) -> str:
        return f"{self.round} · {self.case}"


class Finding(DomainModel):
    """A rule the inspected assessment broke, with what shows it."""

    item = models.ForeignKey(SpotCheckItem, models.PROTECT, related_name="findings", verbose_name=_("case drawn"))
    violation = models.CharField(_("rule broken"), max_length=20, choices=Violation.choices)
    description = models.TextField(_("what the file shows"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["item", "id"]

    def __str__(self) -> str:
        return f"{self.item}: {self.get_violation_display()}"


class BureauConclusion(DomainModel):
    """A round's conclusion on one bureau: compliant, or a rectification order with a deadline, answered by the
    bureau and accepted or not by the checking bureau."""

    class Result(models.TextChoices):
        COMPLIANT = "compliant", _("Compliant")
        RECTIFY = "rectify", _("Rectification ordered")

    class Status(models.TextChoices):
        COMPLIANT = "compliant", _("Compliant")
        OPEN = "open", _("Awaiting the bureau's answer")
        ANSWERED = "answered", _("Answered: awaiting the decision")
        ACCEPTED = "accepted", _("Rectification accepted")
        REJECTED = "rejected", _("Rectification not accepted")
        OVERDUE = "overdue", _("Deadline passed without an answer")
        SUSPENDED = "suspended", _("Authority suspended")

    round = models.ForeignKey(SpotCheckRound, models.PROTECT, related_name="conclusions", verbose_name=_("round"))
    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="oversight_conclusions",
                               verbose_name=_("bureau checked"))
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    requirements = models.TextField(_("rectification required"), blank=True)
    due_at = models.DateTimeField(_("rectification due"), null=True, blank=True)
    concluded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                     verbose_name=_("concluded by"))
    measures = models.TextField(_("measures taken"), blank=True)
    evidence = models.FileField(_("evidence"), upload_to=order_evidence_path, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("answered by"))
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    reminded = models.JSONField(_("reminders sent"), default=list, blank=True)

    class Meta:
        verbose_name = _("rectification order")
        verbose_name_plural = _("rectification orders")
        ordering = ["round", "bureau__region__code"]
        constraints = [
            models.UniqueConstraint(fields=["round", "bureau"], name="one_conclusion_per_bureau_and_round"),
            models.CheckConstraint(condition=Q(result="compliant") | Q(due_at__isnull=False),
                                   name="rectification_order_has_deadline"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="order_status_due")]

    def __str__(self) -> str:
        return f"{self.round} → {self.bureau}"


class Suspension(DomainModel):
    """A bureau's authority suspended (第十二条: 整改不落实的，中止考评权限), until reinstated."""

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="suspensions", verbose_name=_("bureau"))
    order = models.ForeignKey(BureauConclusion, models.PROTECT, null=True, blank=True, related_name="suspensions",
                              verbose_name=_("rectification order"))
    reason = models.TextField(_("reason"))
    suspended_at = models.DateTimeField(_("suspended at"))
    suspended_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                     verbose_name=_("suspended by"))
    cases_moved = models.JSONField(_("running cases passed to the higher bureau"), default=list, blank=True)
    reinstated_at = models.DateTimeField(_("reinstated at"), null=True, blank=True)
    reinstated_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                      related_name="+", verbose_name=_("reinstated by"))
    reinstatement_reason = models.TextField(_("reason for reinstatement"), blank=True)

    class Meta:
        verbose_name = _("suspension of authority")
        verbose_name_plural = _("suspensions of authority")
        ordering = ["-suspended_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bureau"], condition=Q(reinstated_at__isnull=True),
                                    name="one_running_suspension_per_bureau"),
        ]

    def __str__(self) -> str:
        return f"{self.bureau} {self.suspended_at:%Y-%m-%d}"
