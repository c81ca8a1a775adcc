"""Score sheets: the applicant's self-check, each panel member's proposals and the panel's score.

A sheet records, per rubric item, what real score sheets record — points deducted and the reason (扣分,
扣分原因), or the facts a rule counts — and the score the scheme's rule gives for it. A submitted sheet is
locked; rectification rounds keep earlier sheets.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .cases import Case
from .experts import Expert


class SheetKind(models.TextChoices):
    SELF = "self", _("Self-check")
    MEMBER = "member", _("Panel member's proposal")
    PANEL = "panel", _("Panel score")


class ScoreSheet(DomainModel):
    case = models.ForeignKey(Case, models.PROTECT, related_name="sheets", verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=10, choices=SheetKind.choices)
    expert = models.ForeignKey(Expert, models.PROTECT, null=True, blank=True, related_name="sheets",
                               verbose_name=_("panel member"))
    round = models.PositiveSmallIntegerField(_("round"), default=1)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("submitted by"))
    total = models.DecimalField(_("total"), max_digits=7, decimal_places=2, null=True, blank=True)
    overdue_at = models.DateTimeField(_("marked overdue at"), null=True, blank=True,
                                      help_text=_("When the scoring deadline passed with this sheet not in."))

    class Meta:
        verbose_name = _("score sheet")
        verbose_name_plural = _("score sheets")
        indexes = [models.Index(fields=["updated_at", "id"], name="sheet_sync")]  # the API's updated_since
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "round"], condition=Q(expert__isnull=True),
                                    name="one_sheet_per_case_kind_round"),
            models.UniqueConstraint(fields=["case", "expert", "round"], condition=Q(expert__isnull=False),
                                    name="one_member_sheet_per_round"),
            models.CheckConstraint(condition=Q(kind="member", expert__isnull=False)
                                   | (~Q(kind="member") & Q(expert__isnull=True)),
                                   name="member_sheets_have_an_expert"),
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.get_kind_display()} #{self.round}"

    @property
    def locked(self) -> bool:
        return self.submitted_at is not None


class ScoreLine(DomainModel):
    sheet = models.ForeignKey(ScoreSheet, models.PROTECT, related_name="lines", verbose_name=_("sheet"))
    item_code = models.CharField(_("item"), max_length=40)
    entry = models.JSONField(_("what was recorded"), default=dict)
    points = models.DecimalField(_("points"), max_digits=7, decimal_places=2)
    clamps = models.JSONField(_("bounds applied"), default=list, blank=True)

    class Meta:
        verbose_name = _("score line")
        verbose_name_plural = _("score lines")
        constraints = [models.UniqueConstraint(fields=["sheet", "item_code"], name="one_line_per_item")]

    def __str__(self) -> str:
        return f"{self.sheet} {self.item_code}: {self.points}"
