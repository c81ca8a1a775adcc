"""Issued documents (frozen when they count), batches of certificates issued by Celery tasks, and the annual
approvals summaries the city bureaus send the province.

An issued document is frozen once, as the HTML it is printed from with that HTML's SHA-256
(``content_sha256``): a later change of a template never alters it. Its PDF is drawn from that HTML by a
Celery task after the freezing transaction commits (``file``, ``sha256``, ``size`` and ``drawn_at`` are empty
until then), and is served only once drawn, with the HTML still matching its hash. Documents that form the approval basis and the
confirmation letter are frozen at approval; the certificate when it is issued; a city bureau's annual
summary when its staff send it to the province.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .cases import Case
from .certificates import Certificate
from .organisations import Bureau
from .schemes import Scheme


class DocumentKind(models.TextChoices):
    ACCEPTANCE_REQUEST = "acceptance_request", _("Acceptance request")
    APPLICATION_FORM = "application_form", _("Application-approval form")
    SELF_CHECK_FORM = "self_check_form", _("Self-check scoring form")
    ASSESSMENT_FORM = "assessment_form", _("Grade assessment form")
    PRECHECK_OPINION = "precheck_opinion", _("Pre-check opinion")
    NOTICE_RESULT = "notice_result", _("Public notice and its result")
    PANEL_ROSTER = "panel_roster", _("Panel roster with recusal declarations")
    INTEGRITY_NOTICE = "integrity_notice", _("Integrity notice")
    CONFIRMATION_LETTER = "confirmation_letter", _("Confirmation letter")
    CERTIFICATE = "certificate", _("Certificate")


def document_path(instance, filename: str) -> str:
    year = instance.issued_at.year
    owner = f"case-{instance.case_id}" if instance.case_id else f"certificate-{instance.certificate_id}"
    return f"documents/{year}/{owner}/{filename}"


class IssuedDocument(DomainModel):
    kind = models.CharField(_("kind"), max_length=30, choices=DocumentKind.choices)
    case = models.ForeignKey(Case, models.PROTECT, null=True, blank=True, related_name="documents",
                             verbose_name=_("case"))
    certificate = models.ForeignKey(Certificate, models.PROTECT, null=True, blank=True, related_name="documents",
                                    verbose_name=_("certificate"))
    number = models.CharField(_("document number"), max_length=60, blank=True)
    html = models.TextField(_("HTML it was printed from"))
    content_sha256 = models.CharField(_("SHA-256 of the HTML"), max_length=64)
    # The PDF, drawn from ``html`` after the freezing transaction commits: empty until then.
    file = models.FileField(_("PDF"), upload_to=document_path, max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64, blank=True)
    size = models.PositiveIntegerField(_("size in bytes"), null=True, blank=True)
    drawn_at = models.DateTimeField(_("PDF drawn at"), null=True, blank=True)
    template = models.CharField(_("template"), max_length=100)
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("issued by"))

    class Meta:
        verbose_name = _("issued document")
        verbose_name_plural = _("issued documents")
        ordering = ["issued_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], condition=Q(certificate__isnull=True),
                                    name="one_frozen_document_per_case_and_kind"),
            models.UniqueConstraint(fields=["certificate", "kind"], condition=Q(certificate__isnull=False),
                                    name="one_frozen_document_per_certificate_and_kind"),
            models.CheckConstraint(condition=Q(case__isnull=False) | Q(certificate__isnull=False),
                                   name="document_belongs_to_a_case_or_certificate"),
            models.CheckConstraint(
                condition=Q(drawn_at__isnull=True, file="", sha256="", size__isnull=True)
                | (Q(drawn_at__isnull=False, size__isnull=False) & ~Q(file="") & ~Q(sha256="")),
                name="document_drawn_with_its_file_hash_and_size"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number or self.case or self.certificate}"

    @property
    def is_drawn(self) -> bool:
        return self.drawn_at is not None


class LetterSerial(models.Model):
    """The last letter serial a bureau gave in a year (printed in the scheme's ``documents.letter_number``
    format): taken under a row lock."""

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="+", verbose_name=_("bureau"))
    year = models.PositiveSmallIntegerField(_("year"))
    last = models.PositiveIntegerField(_("last serial"), default=0)

    class Meta:
        verbose_name = _("letter serial")
        verbose_name_plural = _("letter serials")
        constraints = [models.UniqueConstraint(fields=["bureau", "year"], name="one_letter_serial_per_bureau_year")]

    def __str__(self) -> str:
        return f"{self.bureau} {self.year}: {self.last}"


class IssueBatch(DomainModel):
    """Certificates issued together by a certificate officer: one Celery task per case, in parallel."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                   verbose_name=_("started by"))

    class Meta:
        verbose_name = _("issuing batch")
        verbose_name_plural = _("issuing batches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{_('issuing batch')} #{self.pk}"


class IssueBatchItem(DomainModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        ISSUED = "issued", _("Issued")
        FAILED = "failed", _("Failed")

    batch = models.ForeignKey(IssueBatch, models.PROTECT, related_name="items", verbose_name=_("batch"))
    case = models.ForeignKey(Case, models.PROTECT, related_name="+", verbose_name=_("case"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    certificate = models.ForeignKey(Certificate, models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name=_("certificate"))
    error = models.TextField(_("reason for the failure"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("batch item")
        verbose_name_plural = _("batch items")
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "case"], name="one_item_per_case_in_batch"),
            models.CheckConstraint(condition=~Q(status="failed") | ~Q(error=""), name="a_failed_item_says_why"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.case}: {self.get_status_display()}"


def summary_path(instance, filename: str) -> str:
    return f"summaries/{instance.year}/bureau-{instance.bureau_id}/{filename}"


class SummarySubmission(DomainModel):
    """A city bureau's annual approvals summary of one scheme as sent to the province (DESIGN §3.6): the PDF
    frozen when it was sent, with the HTML it was printed from, its SHA-256 and the rows it lists. Each scheme
    the bureau runs has its own summary (its own title, note and due day); one stands per bureau, scheme and
    year; a corrected re-send archives the one before it (``archived_at``), which is kept."""

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="summary_submissions",
                               verbose_name=_("bureau"))
    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="summary_submissions",
                               verbose_name=_("scheme"))
    year = models.PositiveSmallIntegerField(_("year"))
    file = models.FileField(_("PDF"), upload_to=summary_path, max_length=255)
    html = models.TextField(_("HTML it was printed from"))
    sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64)
    size = models.PositiveIntegerField(_("size in bytes"))
    rows = models.JSONField(_("approvals listed"), default=list, blank=True)
    reason = models.TextField(_("reason for sending it again"), blank=True)
    sent_at = models.DateTimeField(_("sent at"))
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                verbose_name=_("sent by"))

    class Meta:
        verbose_name = _("annual summary sent")
        verbose_name_plural = _("annual summaries sent")
        ordering = ["-year", "bureau", "scheme", "-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bureau", "scheme", "year"], condition=Q(archived_at__isnull=True),
                                    name="one_summary_sent_per_bureau_scheme_and_year"),
        ]

    def __str__(self) -> str:
        return f"{self.bureau} {self.scheme} {self.year}"
