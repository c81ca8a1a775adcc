"""Certificates (证书): issued by the province, valid for the scheme's years, rechecked or lapsed; numbered in
each scheme's own series."""

import re
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..enums import CERTIFICATE_STATUSES_CURRENT, CertificateStatus, Kind
from .base import DomainModel
from .organisations import Bureau, Institution
from .schemes import Grade, Scheme, SchemeVersion


def new_verification_token() -> str:
    return secrets.token_urlsafe(24)


def scan_path(instance, filename: str) -> str:
    return f"register/{instance.register_batch_id}/{instance.verification_token[:12]}/{filename}"


class RegisterBatch(DomainModel):
    """One import of the paper register: certificates the province issued on paper before it adopted the
    engine. A batch imported in error is withdrawn as a whole within a grace period (its certificates revoked,
    never deleted)."""

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="register_batches",
                               verbose_name=_("issuing bureau"))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                    verbose_name=_("imported by"))
    source = models.CharField(_("source file"), max_length=200, blank=True)
    expiry_reason = models.TextField(_("reason for accepting expiry dates off the scheme's rule"), blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("withdrawn by"))
    withdrawal_reason = models.TextField(_("reason for the withdrawal"), blank=True)

    class Meta:
        verbose_name = _("register import")
        verbose_name_plural = _("register imports")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk}"
# A certificate number as typed: a prefix (the text the scheme's format prints before the year), the year, the serial, each bracket optional (see
# ``Certificate.normalise_number``).
NUMBER_TYPED = re.compile(r"(?P<prefix>[^\d〔〕()（）\[\]【】]*)[〔(（\[【]?(?P<year>\d{4})[〕)）\]】]?"
                          r"[-—]?(?P<serial>\d{1,6})号?")


class Certificate(DomainModel):
    number = models.CharField(_("number"), max_length=40, unique=True)
    year = models.PositiveSmallIntegerField(_("year of issue"))
    # Empty for a certificate registered from the paper register: it keeps its printed number and takes no
    # serial of the engine's sequence.
    serial = models.PositiveIntegerField(_("serial in the year"), null=True, blank=True)
    institution = models.ForeignKey(Institution, models.PROTECT, related_name="certificates",
                                    verbose_name=_("holder"))
    grade = models.ForeignKey(Grade, models.PROTECT, related_name="certificates", verbose_name=_("grade"))
    # Both follow from the grade (set in save()); stored so that the database can hold the rule of one
    # current certificate per institution and scheme.
    scheme_version = models.ForeignKey(SchemeVersion, models.PROTECT, related_name="certificates",
                                       verbose_name=_("scheme version"), editable=False)
    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="certificates", verbose_name=_("scheme"),
                               editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PROMOTION)
    issued_on = models.DateField(_("issued on"))
    valid_until = models.DateField(_("valid until"))
    status = models.CharField(_("status"), max_length=20, choices=CertificateStatus.choices,
                              default=CertificateStatus.IN_FORCE)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.TextField(_("reason for the status"), blank=True)
    issued_by = models.ForeignKey(Bureau, models.PROTECT, related_name="certificates_issued",
                                  verbose_name=_("issuing bureau"))
    approved_by = models.ForeignKey(Bureau, models.PROTECT, related_name="certificates_approved",
                                    verbose_name=_("approving bureau"))
    supersedes = models.OneToOneField("self", models.PROTECT, null=True, blank=True,
                                      related_name="superseded_by", verbose_name=_("supersedes"))
    verification_token = models.CharField(_("verification token"), max_length=64, unique=True,
                                          default=new_verification_token, editable=False)
    # A certificate registered from the paper register (issued before the engine): the batch that brought it
    # in (by whom, when), the confirmation letter's number as printed, and the scan of the paper, if given.
    register_batch = models.ForeignKey(RegisterBatch, models.PROTECT, null=True, blank=True,
                                       related_name="certificates", verbose_name=_("register import"))
    letter_number = models.CharField(_("confirmation letter number"), max_length=60, blank=True)
    scan = models.FileField(_("scan of the paper certificate"), upload_to=scan_path, max_length=255, blank=True)
    # The signed Open Badges 3.0 credential, as issued (services/signing.py); empty for one issued before.
    credential = models.JSONField(_("signed credential"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_on", "-serial"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "year", "serial"], name="certificate_serial_unique_in_scheme_year"),
            models.UniqueConstraint(
                fields=["institution", "scheme"],
                condition=Q(status__in=list(CERTIFICATE_STATUSES_CURRENT)),
                name="one_current_certificate_per_institution_and_scheme",
            ),
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("issued_on")),
                                   name="certificate_valid_after_issue"),
            models.CheckConstraint(condition=Q(status__in=list(CertificateStatus.values)),
                                   name="certificate_status_known"),
            # The engine's certificates take a serial; registered ones never do.
            models.CheckConstraint(condition=Q(serial__isnull=False, register_batch__isnull=True)
                                   | Q(serial__isnull=True, register_batch__isnull=False),
                                   name="certificate_serial_or_register"),
        ]
        indexes = [
            models.Index(fields=["status", "valid_until"], name="certificate_status_expiry"),
            # The lists of certificates (the API's, a province's 50,000) are newest first, a keyset page at a time.
            models.Index(fields=["-issued_on", "-id"], name="certificate_newest_first"),
            models.Index(fields=["updated_at", "id"], name="certificate_sync"),  # the API's updated_since
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_registered(self) -> bool:
        """Registered from the paper register, not issued through the engine."""
        return self.register_batch_id is not None

    def save(self, *args, **kwargs):
        version = self.grade.version
        self.scheme_version_id, self.scheme_id = version.pk, version.scheme_id
        super().save(*args, **kwargs)

    @staticmethod
    def format_number(year: int, serial: int, *, version: SchemeVersion) -> str:
        """The printed number, in the format the scheme's file declares: unique and gapless per scheme and
        year."""
        return version.specification().documents.certificate_number_for(year, serial)

    @staticmethod
    def parse_number(number: str, *, version: SchemeVersion) -> tuple[int, int] | None:
        """(year, serial) of a number in the scheme's own series, or None for any other number."""
        return version.specification().documents.certificate_number_parse(number)

    @staticmethod
    def normalise_number(typed: str, formats) -> str:
        """A number as someone typed it, in its printed form under one of ``formats`` (the schemes' number
        formats): without the brackets or with other ones (() （） [] 【】), spaces, a serial without its
        leading zeros or without 号 all read as the number printed. Text that is not a number is returned as
        typed (stripped), and matches nothing."""
        text = "".join(typed.split())
        found = NUMBER_TYPED.fullmatch(text)
        if found is None:
            return text
        prefix, year, serial = found["prefix"], int(found["year"]), int(found["serial"])
        for number_format in formats:
            printed = number_format.format(year=year, serial=serial)
            if printed == text or (prefix and printed.startswith(prefix)):
                return printed
        return text


class CertificateSerial(models.Model):
    """The last serial a scheme issued in a year. Issuing locks the row, so numbers are unique and gapless in
    each scheme's series however many officers issue at once."""

    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="+", verbose_name=_("scheme"))
    year = models.PositiveSmallIntegerField(_("year"))
    last = models.PositiveIntegerField(_("last serial"), default=0)

    class Meta:
        verbose_name = _("certificate serial")
        verbose_name_plural = _("certificate serials")
        constraints = [models.UniqueConstraint(fields=["scheme", "year"], name="certificate_serial_per_scheme_year")]

    def __str__(self) -> str:
        return f"{self.scheme_id}/{self.year}: {self.last}"
