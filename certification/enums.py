"""The vocabulary of DESIGN §2 as enums. Codes are stable identifiers; labels are translated."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City / prefecture")
    COUNTY = "county", _("County / district")
    TOWNSHIP = "township", _("Township / town")


class BureauLevel(models.TextChoices):
    PROVINCE = "province", _("Provincial bureau")
    CITY = "city", _("City bureau")
    COUNTY = "county", _("County bureau")


class InstitutionLevel(models.TextChoices):
    PROVINCIAL = "provincial", _("Provincial institution")
    CITY = "city", _("City-level institution")
    COUNTY = "county", _("County-level institution")
    TOWNSHIP = "township", _("Township-level institution")


class Kind(models.TextChoices):
    PROMOTION = "promotion", _("Promotion")
    RECHECK = "recheck", _("Recheck")


class CertificateStatus(models.TextChoices):
    IN_FORCE = "in_force", _("In force")
    RECHECK_IN_PROGRESS = "recheck_in_progress", _("Recheck in progress")
    SUSPENDED = "suspended", _("Suspended")
    LAPSED = "lapsed", _("Lapsed")
    SUPERSEDED = "superseded", _("Superseded")
    REVOKED = "revoked", _("Revoked")


# A certificate in one of these states still confers its grade.
CERTIFICATE_STATUSES_CONFERRING_GRADE = (
    CertificateStatus.IN_FORCE,
    CertificateStatus.RECHECK_IN_PROGRESS,
)
# At most one certificate of an institution under a scheme may be in one of these states.
CERTIFICATE_STATUSES_CURRENT = (
    CertificateStatus.IN_FORCE,
    CertificateStatus.RECHECK_IN_PROGRESS,
    CertificateStatus.SUSPENDED,
)


class IncidentKind(models.TextChoices):
    LOSS = "loss", _("Loss")
    THEFT = "theft", _("Theft")
    DAMAGE = "damage", _("Damage")
    LEAK = "leak", _("Leak of secrets")
    TAMPERING = "tampering", _("Tampering")


class Role(models.TextChoices):
    """Roles are Django groups; the code is the group's name."""

    APPLICANT = "applicant", _("Applicant institution")
    BUREAU_STAFF = "bureau_staff", _("Bureau staff")
    PRECHECKER = "prechecker", _("Pre-checker")
    EXPERT = "expert", _("Review expert")
    APPROVER = "approver", _("Bureau approver")
    CERTIFICATE_OFFICER = "certificate_officer", _("Provincial certificate officer")
    AUDITOR = "auditor", _("Auditor")


# Ordinal depth of each level, used to measure the distance between a bureau and an institution.
BUREAU_DEPTH = {BureauLevel.PROVINCE: 0, BureauLevel.CITY: 1, BureauLevel.COUNTY: 2}
INSTITUTION_DEPTH = {
    InstitutionLevel.PROVINCIAL: 0,
    InstitutionLevel.CITY: 1,
    InstitutionLevel.COUNTY: 2,
    InstitutionLevel.TOWNSHIP: 3,
}
REGION_DEPTH = {
    RegionLevel.PROVINCE: 0,
    RegionLevel.CITY: 1,
    RegionLevel.COUNTY: 2,
    RegionLevel.TOWNSHIP: 3,
}


class RuleKind(models.TextChoices):
    """How a rubric item's score follows from what was recorded (DESIGN §3.5)."""

    DEDUCTION = "deduction", _("Deduction with reasons")
    PER_OCCURRENCE = "per_occurrence", _("Deduction per occurrence")
    PER_MISSING = "per_missing", _("Deduction per missing element")
    CAPPED_AWARD = "capped_award", _("Capped award")
    PRO_RATA = "pro_rata", _("Pro rata against a quota")
    SUB_CRITERIA = "sub_criteria", _("Sub-criteria")
    RATE_BAND = "rate_band", _("Rate band")
    SAMPLE_CHECK = "sample_check", _("Sample check")
    PENALTY = "penalty", _("Penalty (deduction only)")
