"""The review experts (评审专家) in a bureau's pool, and their declared conflicts (回避)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .organisations import Bureau, Institution


class Expert(DomainModel):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                related_name="expert", verbose_name=_("user"))
    name = models.CharField(_("full name"), max_length=50)
    pool = models.ForeignKey(Bureau, models.PROTECT, related_name="experts", verbose_name=_("pool (bureau)"),
                             help_text=_("The bureau whose expert pool appointed this expert."))
    employer = models.ForeignKey(Institution, models.PROTECT, null=True, blank=True, related_name="experts",
                                 verbose_name=_("employer"))
    system = models.ForeignKey(Institution, models.PROTECT, null=True, blank=True, related_name="system_experts",
                               verbose_name=_("system"),
                               help_text=_("The head institution of the system the expert belongs to."))
    title = models.CharField(_("post or professional title"), max_length=100, blank=True)
    qualifications = models.TextField(_("qualifications"), blank=True)
    reviewer_level = models.CharField(_("reviewer level"), max_length=10,
                                      choices=[("province", _("Provincial")), ("city", _("City")),
                                               ("county", _("County"))], default="province")
    grades = models.JSONField(_("grades the expert may review"), default=list, blank=True,
                              help_text=_("Grade codes; empty means every grade."))
    schemes = models.JSONField(_("schemes the expert may review"), default=list, blank=True,
                               help_text=_("Scheme codes; empty means every scheme."))
    term_starts_on = models.DateField(_("appointment starts on"))
    term_ends_on = models.DateField(_("appointment ends on"))
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("expert")
        verbose_name_plural = _("experts")
        ordering = ["pool", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(term_ends_on__gt=models.F("term_starts_on")),
                                   name="expert_term_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.term_starts_on and self.term_ends_on and self.term_ends_on <= self.term_starts_on:
            raise ValidationError({"term_ends_on": _("An appointment must end after it starts.")})

    def in_term(self, day) -> bool:
        return self.term_starts_on <= day <= self.term_ends_on


class ExpertEmployment(DomainModel):
    """A past employment, so that an expert who worked at an institution within three years is recused."""

    expert = models.ForeignKey(Expert, models.PROTECT, related_name="employments", verbose_name=_("expert"))
    institution = models.ForeignKey(Institution, models.PROTECT, related_name="+", verbose_name=_("institution"))
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("past employment")
        verbose_name_plural = _("past employments")


class ConflictDeclaration(DomainModel):
    """An expert's declared conflict of interest with an institution (回避声明)."""

    expert = models.ForeignKey(Expert, models.PROTECT, related_name="conflicts", verbose_name=_("expert"))
    institution = models.ForeignKey(Institution, models.PROTECT, related_name="+", verbose_name=_("institution"))
    reason = models.TextField(_("reason"))

    class Meta:
        verbose_name = _("declared conflict")
        verbose_name_plural = _("declared conflicts")
        constraints = [
            models.UniqueConstraint(fields=["expert", "institution"], condition=Q(archived_at__isnull=True),
                                    name="one_active_conflict_per_pair"),
        ]
