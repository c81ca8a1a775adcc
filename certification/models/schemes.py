"""Schemes and their versions; each version keeps its validated spec and its rubric as rows."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..enums import RuleKind
from ..scheme import SchemeSpec
from .base import DomainModel


class Scheme(DomainModel):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)

    class Meta:
        verbose_name = _("scheme")
        verbose_name_plural = _("schemes")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.title

    def current_version(self) -> "SchemeVersion":
        return self.versions.get(is_current=True)


class SchemeVersion(DomainModel):
    """A version of a scheme. A case is scored against the version in force when it was declared."""

    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="versions", verbose_name=_("scheme"))
    number = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200)
    source = models.CharField(_("source"), max_length=200, blank=True)
    effective_from = models.DateField(_("effective from"))
    spec = models.JSONField(_("specification"), editable=False)
    digest = models.CharField(_("SHA-256"), max_length=64, editable=False)
    is_current = models.BooleanField(_("current"), default=False)
    loaded_from = models.CharField(_("loaded from"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("scheme version")
        verbose_name_plural = _("scheme versions")
        ordering = ["scheme", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "number"], name="scheme_version_number_unique"),
            models.UniqueConstraint(fields=["scheme"], condition=Q(is_current=True),
                                    name="one_current_version_per_scheme"),
        ]

    def __str__(self) -> str:
        return f"{self.scheme.code} v{self.number}"

    def specification(self) -> SchemeSpec:
        cached = getattr(self, "_spec_cache", None)
        if cached is None:
            cached = self._spec_cache = SchemeSpec.model_validate(self.spec)
        return cached


class Grade(DomainModel):
    version = models.ForeignKey(SchemeVersion, models.PROTECT, related_name="grades", verbose_name=_("version"))
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=50)
    rank = models.PositiveSmallIntegerField(_("rank"))
    decision = models.CharField(_("decided by"), max_length=10,
                                choices=[("score", _("Score")), ("onsite", _("On-site evaluation"))])
    pass_line = models.DecimalField(_("pass line"), max_digits=6, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        ordering = ["version", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="grade_code_unique_in_version"),
            models.UniqueConstraint(fields=["version", "rank"], name="grade_rank_unique_in_version"),
            models.CheckConstraint(condition=Q(decision="onsite") | Q(pass_line__isnull=False),
                                   name="score_grade_has_pass_line"),
        ]

    def __str__(self) -> str:
        return self.name


class RubricCategory(DomainModel):
    version = models.ForeignKey(SchemeVersion, models.PROTECT, related_name="categories",
                                verbose_name=_("version"))
    rubric = models.SlugField(_("rubric"), max_length=40)
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    max_points = models.DecimalField(_("maximum points"), max_digits=7, decimal_places=2)
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        verbose_name = _("rubric category")
        verbose_name_plural = _("rubric categories")
        ordering = ["version", "rubric", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "rubric", "code"], name="category_code_unique_in_rubric"),
            models.CheckConstraint(condition=Q(max_points__gte=0), name="category_max_points_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RubricItem(DomainModel):
    category = models.ForeignKey(RubricCategory, models.PROTECT, related_name="items", verbose_name=_("category"))
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    text = models.TextField(_("requirement"), blank=True)
    max_points = models.DecimalField(_("maximum points"), max_digits=7, decimal_places=2)
    rule_kind = models.CharField(_("scoring rule"), max_length=20, choices=RuleKind.choices)
    rule_params = models.JSONField(_("rule parameters"), default=dict, blank=True)
    key = models.BooleanField(_("key item (★)"), default=False)
    veto = models.JSONField(_("veto"), null=True, blank=True)
    bonus = models.JSONField(_("bonus"), null=True, blank=True)
    pool = models.CharField(_("penalty pool"), max_length=40, blank=True)
    verify = models.JSONField(_("verified by"), default=list, blank=True)
    evidence_hint = models.TextField(_("evidence"), blank=True)
    deduction_guide = models.TextField(_("deduction rule"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        verbose_name = _("rubric item")
        verbose_name_plural = _("rubric items")
        ordering = ["category", "position"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="item_code_unique_in_category"),
            models.CheckConstraint(condition=Q(max_points__gte=0), name="item_max_points_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RubricSubCriterion(DomainModel):
    item = models.ForeignKey(RubricItem, models.PROTECT, related_name="sub_criteria", verbose_name=_("item"))
    code = models.CharField(_("code"), max_length=40)
    text = models.TextField(_("text"))
    points = models.DecimalField(_("points"), max_digits=7, decimal_places=2)
    key = models.BooleanField(_("key sub-criterion (★)"), default=False)
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        verbose_name = _("sub-criterion")
        verbose_name_plural = _("sub-criteria")
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "code"], name="sub_criterion_code_unique_in_item"),
            models.CheckConstraint(condition=Q(points__gte=0), name="sub_criterion_points_not_negative"),
        ]
