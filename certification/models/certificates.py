"""Certificates (证书): issued by the province, valid three years, rechecked or lapsed."""

import re
import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..enums import CERTIFICATE_STATUSES_CURRENT, CertificateStatus, Kind
from .base import DomainModel
from .organisations import Bureau, Institution
from .schemes import Grade, Scheme, SchemeVersion


def new_verification_token() -> str:
    return secrets.token_urlsafe(24)


# A certificate number as typed: a prefix (鄂档等证), the year, the serial, each bracket optional (see
# ``Certificate.normalise_number``).
NUMBER_TYPED = re.compile(r"(?P<prefix>[^\d〔〕()（）\[\]【】]*)[〔(（\[【]?(?P<year>\d{4})[〕)）\]】]?"
                          r"[-—]?(?P<serial>\d{1,6})号?")


class Certificate(DomainModel):
    number = models.CharField(_("number"), max_length=40, unique=True)
    year = models.PositiveSmallIntegerField(_("year of issue"))
    serial = models.PositiveIntegerField(_("serial in the year"))
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

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_on", "-serial"]
        constraints = [
            models.UniqueConstraint(fields=["year", "serial"], name="certificate_serial_unique_in_year"),
            models.UniqueConstraint(
                fields=["institution", "scheme"],
                condition=Q(status__in=list(CERTIFICATE_STATUSES_CURRENT)),
                name="one_current_certificate_per_institution_and_scheme",
            ),
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("issued_on")),
                                   name="certificate_valid_after_issue"),
            models.CheckConstraint(condition=Q(status__in=list(CertificateStatus.values)),
                                   name="certificate_status_known"),
        ]
        indexes = [
            models.Index(fields=["status", "valid_until"], name="certificate_status_expiry"),
            # The lists of certificates (the API's, a province's 50,000) are newest first, a keyset page at a time.
            models.Index(fields=["-issued_on", "-id"], name="certificate_newest_first"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs):
        version = self.grade.version
        self.scheme_version_id, self.scheme_id = version.pk, version.scheme_id
        super().save(*args, **kwargs)

    @staticmethod
    def format_number(year: int, serial: int) -> str:
        """The printed number: unique and gapless per year (鄂档等证〔2026〕0001号)."""
        return f"鄂档等证〔{year}〕{serial:04d}号"

    @classmethod
    def normalise_number(cls, typed: str) -> str:
        """A number as someone typed it, in its printed form: without the 〔〕 or with other brackets
        (() （） [] 【】), spaces, a serial without its leading zeros or without 号 — "鄂档等证2026 1",
        "鄂档等证(2026)0001号" all read as 鄂档等证〔2026〕0001号. Text that is not a
        number is returned as typed (stripped), and matches nothing."""
        text = "".join(typed.split())
        found = NUMBER_TYPED.fullmatch(text)
        if found is None:
            return text
        prefix, year, serial = found["prefix"], int(found["year"]), int(found["serial"])
        printed = cls.format_number(year, serial)
        return printed if not prefix or printed.startswith(prefix) else f"{prefix}〔{year}〕{serial:04d}号"


class CertificateSerial(models.Model):
    """The last serial issued in a year. Issuing locks the year's row, so numbers are unique and gapless
    however many officers issue at once."""

    year = models.PositiveSmallIntegerField(_("year"), primary_key=True)
    last = models.PositiveIntegerField(_("last serial"), default=0)

    class Meta:
        verbose_name = _("certificate serial")
        verbose_name_plural = _("certificate serials")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
