"""Regions, the bureaus over them, and the institutions that apply."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..enums import (
    BUREAU_DEPTH,
    INSTITUTION_DEPTH,
    REGION_DEPTH,
    BureauLevel,
    IncidentKind,
    InstitutionLevel,
    RegionLevel,
)
from ..validators import validate_uscc
from .base import DomainModel


class Region(DomainModel):
    """An administrative region: province → city → county → township."""

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("division code"), max_length=12, unique=True,
                            help_text=_("The administrative division code (行政区划代码)."))
    level = models.CharField(_("level"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("parent region"))

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(level=RegionLevel.PROVINCE, parent__isnull=True)
                           | (~Q(level=RegionLevel.PROVINCE) & Q(parent__isnull=False))),
                name="region_parent_iff_below_province",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.parent is not None and REGION_DEPTH[self.parent.level] != REGION_DEPTH[self.level] - 1:
            raise ValidationError({"parent": _("A region's parent is one level above it.")})

    def ancestor_at(self, level: str) -> "Region | None":
        """This region or the one above it at ``level``."""
        node = self
        while node is not None and node.level != level:
            node = node.parent
        return node


class Bureau(DomainModel):
    """An archives bureau (档案局) with authority over a region."""

    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=BureauLevel.choices)
    region = models.OneToOneField(Region, models.PROTECT, related_name="bureau", verbose_name=_("region"))
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("higher bureau"))
    schemes = models.JSONField(_("schemes the bureau runs"), default=list, blank=True,
                               help_text=_("Scheme codes its institutions may declare under; empty means every "
                                           "loaded scheme."))
    authority_suspended = models.BooleanField(_("authority suspended"), default=False)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    suspension_reason = models.TextField(_("reason for suspension"), blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    supervision_phone = models.CharField(_("supervision hotline"), max_length=30, blank=True,
                                         help_text=_("Printed on the integrity notice."))

    class Meta:
        verbose_name = _("bureau")
        verbose_name_plural = _("bureaus")
        ordering = ["region__code"]
        permissions = [
            ("work_in_bureau", _("Can handle the bureau's cases")),
            ("precheck_for_bureau", _("Can pre-check for the bureau")),
            ("approve_for_bureau", _("Can approve for the bureau")),
            ("issue_for_bureau", _("Can issue certificates for the bureau")),
            ("audit_bureau", _("Can audit the bureau's records")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(level=BureauLevel.PROVINCE, parent__isnull=True)
                           | (~Q(level=BureauLevel.PROVINCE) & Q(parent__isnull=False))),
                name="bureau_parent_iff_below_province",
            ),
            models.CheckConstraint(
                condition=Q(authority_suspended=False) | ~Q(suspension_reason=""),
                name="bureau_suspension_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def province(self) -> "Bureau":
        """The provincial bureau at the top of this bureau's line (itself, for the province): the only one
        that issues certificates."""
        bureau = self
        while bureau.parent_id is not None:
            bureau = bureau.parent
        return bureau

    def clean(self) -> None:
        errors = {}
        if self.region_id and self.region.level != self.level:
            errors["region"] = _("A bureau's region is at the bureau's own level.")
        if self.parent is not None and BUREAU_DEPTH[self.parent.level] != BUREAU_DEPTH[self.level] - 1:
            errors["parent"] = _("A bureau's higher bureau is one level above it.")
        if errors:
            raise ValidationError(errors)


class Institution(DomainModel):
    """An applicant (机关 / 立档单位) with an administrative level, in a region."""

    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True,
                            validators=[validate_uscc])
    level = models.CharField(_("administrative level"), max_length=12, choices=InstitutionLevel.choices)
    region = models.ForeignKey(Region, models.PROTECT, related_name="institutions", verbose_name=_("region"))
    has_system_guidance = models.BooleanField(
        _("guides a system's archives work"), default=False,
        help_text=_("The institution has a duty of guiding the archives work of a system of subordinate units."))
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="subordinates",
                               verbose_name=_("parent institution (system)"))
    fonds_number = models.CharField(_("fonds number"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=6, blank=True)
    head = models.CharField(_("head of the institution"), max_length=50, blank=True)
    archives_leader = models.CharField(_("leader in charge of archives"), max_length=50, blank=True)
    contact_name = models.CharField(_("contact"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        ordering = ["region__code", "name"]
        permissions = [("act_for_institution", _("Can act for the institution"))]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="institution_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.region_id:
            expected = {
                InstitutionLevel.PROVINCIAL: RegionLevel.PROVINCE,
                InstitutionLevel.CITY: RegionLevel.CITY,
                InstitutionLevel.COUNTY: RegionLevel.COUNTY,
                InstitutionLevel.TOWNSHIP: RegionLevel.TOWNSHIP,
            }[self.level]
            if self.region.level != expected:
                errors["region"] = _("An institution of this level must be in a region of level %(level)s.") % {
                    "level": RegionLevel(expected).label}
        if self.parent_id and INSTITUTION_DEPTH[self.parent.level] > INSTITUTION_DEPTH[self.level]:
            errors["parent"] = _("A system's parent institution must not be below its subordinate units.")
        if self.uscc:
            self.uscc = self.uscc.strip().upper()
        if errors:
            raise ValidationError(errors)


class SafetyIncident(DomainModel):
    """An archives-safety incident (loss, theft, damage, leak); it bars declarations for two years."""

    institution = models.ForeignKey(Institution, models.PROTECT, related_name="incidents",
                                    verbose_name=_("institution"))
    occurred_on = models.DateField(_("occurred on"))
    kind = models.CharField(_("kind"), max_length=12, choices=IncidentKind.choices)
    description = models.TextField(_("description"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("archives-safety incident")
        verbose_name_plural = _("archives-safety incidents")
        ordering = ["-occurred_on"]

    def __str__(self) -> str:
        return f"{self.institution} {self.occurred_on} {self.get_kind_display()}"


class InstitutionMembership(DomainModel):
    """A user who acts for an institution (applicant staff)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="institution_memberships",
                             verbose_name=_("user"))
    institution = models.ForeignKey(Institution, models.PROTECT, related_name="memberships",
                                    verbose_name=_("institution"))

    class Meta:
        verbose_name = _("institution member")
        verbose_name_plural = _("institution members")
        constraints = [
            models.UniqueConstraint(fields=["user", "institution"], condition=Q(archived_at__isnull=True),
                                    name="one_active_membership_per_institution"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.institution}"


class BureauMembership(DomainModel):
    """A user who works in a bureau (staff, pre-checker, approver, certificate officer, auditor)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="bureau_memberships",
                             verbose_name=_("user"))
    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="memberships", verbose_name=_("bureau"))

    class Meta:
        verbose_name = _("bureau member")
        verbose_name_plural = _("bureau members")
        constraints = [
            models.UniqueConstraint(fields=["user", "bureau"], condition=Q(archived_at__isnull=True),
                                    name="one_active_membership_per_bureau"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.bureau}"
