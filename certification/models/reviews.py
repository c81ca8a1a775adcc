"""The panel's review (stage 7): the six on-site steps, the conclusion, and for the special grade the vote."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .cases import Case


class OnsiteStep(models.TextChoices):
    """第十条 四 (三): the six steps of the review, recorded by the chair."""

    HEAR_REPORT = "hear_report", _("Hear the report on the work and the self-check")
    INSPECT = "inspect", _("Check on site, item by item")
    SCORE = "score", _("Examine the materials and score item by item")
    FEEDBACK = "feedback", _("Give feedback on the review")
    READ_CONCLUSION = "read_conclusion", _("Read the conclusion")
    EXCHANGE_VIEWS = "exchange_views", _("Exchange views with the institution")


class Review(DomainModel):
    case = models.OneToOneField(Case, models.PROTECT, related_name="review", verbose_name=_("case"))
    steps = models.JSONField(_("on-site steps recorded"), default=dict, blank=True)
    vetoes = models.JSONField(_("vetoes confirmed"), default=list, blank=True)
    key_failures = models.JSONField(_("key sub-criteria failed"), default=list, blank=True,
                                    help_text=_("The key (★) sub-criteria the panel found failed, as "
                                                "\"item.sub-criterion\"."))
    units_drawn = models.JSONField(_("subordinate units drawn for a visit"), default=dict, blank=True,
                                   help_text=_("Special grade: the seed, the units drawn and the units drawn from."))
    votes_for = models.PositiveSmallIntegerField(_("votes for"), null=True, blank=True)
    passed = models.BooleanField(_("passed"), null=True)
    conclusion = models.TextField(_("conclusion"), blank=True)
    awarded_grade = models.ForeignKey("certification.Grade", models.PROTECT, null=True, blank=True, related_name="+",
                                      verbose_name=_("grade awarded"),
                                      help_text=_("Set where the panel awards a lower grade than declared, as the "
                                                  "scheme allows (a veto of the declared tier, or a lower score)."))
    award_reason = models.TextField(_("why the grade awarded is lower"), blank=True)
    concluded_at = models.DateTimeField(_("concluded at"), null=True, blank=True)
    concluded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("concluded by"))

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")

    def __str__(self) -> str:
        return f"{self.case} {_('review')}"


class ItemAssignment(DomainModel):
    """Which rubric items each member of a panel scores (DESIGN §3.5), as the chair confirmed it: the system
    proposes a split by category, balanced by points; the chair may change it. Without one, every member
    scores every item."""

    panel = models.OneToOneField("certification.Panel", models.PROTECT, related_name="assignment",
                                 verbose_name=_("panel"))
    items = models.JSONField(_("items per member"), default=dict,
                             help_text=_("Expert id → the codes of the items that member scores."))
    proposed = models.JSONField(_("split proposed by the system"), default=dict)
    assigned_at = models.DateTimeField(_("assigned at"))
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                    verbose_name=_("assigned by"))

    class Meta:
        verbose_name = _("item assignment")
        verbose_name_plural = _("item assignments")

    def __str__(self) -> str:
        return f"{self.panel} {_('item assignment')}"
