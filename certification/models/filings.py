"""Filings (备案): an approved recheck assessed by a lower bureau is filed with the bureau the scheme names
(第九条; DESIGN §3.3, §4 stage 8), with the approval documents frozen when it was approved."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .cases import Case
from .organisations import Bureau


class Filing(DomainModel):
    """One case filed with one bureau, once: when, by whom (the approver whose approval filed it) and what (the
    frozen approval documents, each with the SHA-256 it was frozen with)."""

    case = models.OneToOneField(Case, models.PROTECT, related_name="filing", verbose_name=_("case"))
    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="filings", verbose_name=_("filed with"))
    filed_at = models.DateTimeField(_("filed at"))
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
                                 verbose_name=_("filed by"))
    # [{"id": …, "kind": …, "number": …, "sha256": …}]: the issued documents as they were filed
    documents = models.JSONField(_("documents filed"), default=list, blank=True)

    class Meta:
        verbose_name = _("filing")
        verbose_name_plural = _("filings")
        ordering = ["-filed_at", "-id"]
        indexes = [models.Index(fields=["bureau", "-filed_at", "-id"], name="filing_bureau_newest_first")]

    def __str__(self) -> str:
        return f"{self.case} → {self.bureau}"
