"""Review panels (评审组): members from the expert pool, a chair (组长), a scoring deadline."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .cases import Case
from .experts import Expert


class Panel(DomainModel):
    case = models.OneToOneField(Case, models.PROTECT, related_name="panel", verbose_name=_("case"))
    seed = models.BigIntegerField(_("seed of the draw"), help_text=_("Kept so that the draw can be replayed."))
    proposed = models.JSONField(_("members proposed by the draw"), default=list)
    formed_at = models.DateTimeField(_("formed at"))
    formed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                  verbose_name=_("formed by"))
    scoring_due_at = models.DateTimeField(_("scoring deadline"))
    members = models.ManyToManyField(Expert, through="PanelMember", related_name="panels",
                                     verbose_name=_("members"))

    class Meta:
        verbose_name = _("review panel")
        verbose_name_plural = _("review panels")

    def __str__(self) -> str:
        return f"{self.case} {_('review panel')}"


class PanelMember(DomainModel):
    panel = models.ForeignKey(Panel, models.PROTECT, related_name="memberships", verbose_name=_("panel"))
    expert = models.ForeignKey(Expert, models.PROTECT, related_name="panel_memberships", verbose_name=_("expert"))
    is_chair = models.BooleanField(_("chair"), default=False)
    group = models.CharField(_("scorer group"), max_length=40, blank=True,
                             help_text=_("Under a scheme that weights scorer groups, the group the member scores in."))
    recusal_declared_at = models.DateTimeField(_("recusal declaration signed at"), null=True, blank=True,
                                               help_text=_("When the member signed online that no conflict "
                                                           "of interest bars them from this case (回避声明)."))
    conflict_declared_at = models.DateTimeField(
        _("conflict declared at"), null=True, blank=True,
        help_text=_("When the member declared a conflict of interest instead of signing; the seat is then "
                    "archived and the bureau names a replacement."))
    replaced_by = models.OneToOneField("self", models.PROTECT, null=True, blank=True, related_name="replaces",
                                       verbose_name=_("replaced by"))
    last_nudged_on = models.DateField(_("last reminded by the chair on"), null=True, blank=True,
                                      help_text=_("The chair reminds a member at most once a day."))

    class Meta:
        verbose_name = _("panel member")
        verbose_name_plural = _("panel members")
        constraints = [
            models.UniqueConstraint(fields=["panel", "expert"], name="one_seat_per_expert"),
            models.UniqueConstraint(fields=["panel"], condition=Q(is_chair=True), name="one_chair_per_panel"),
            models.CheckConstraint(condition=Q(recusal_declared_at__isnull=True) | Q(conflict_declared_at__isnull=True),
                                   name="member_signs_or_declares_a_conflict"),
        ]

    def __str__(self) -> str:
        return f"{self.expert} ({_('chair')})" if self.is_chair else str(self.expert)
