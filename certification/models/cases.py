"""A case: one institution's declaration for one grade, from declaration to certificate or to its end."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..enums import Kind
from .base import DomainModel
from .certificates import Certificate
from .organisations import Bureau, Institution
from .schemes import Grade, Scheme, SchemeVersion


class Stage(models.TextChoices):
    """The ten stages of DESIGN §4, and where a case ends."""

    DECLARED = "declared", _("Declared, awaiting the plan")
    PLANNED = "planned", _("In the assessment plan: self-check")
    PRECHECK = "precheck", _("Pre-check")
    RECTIFICATION = "rectification", _("Rectification")
    NOTICE = "notice", _("Public notice")
    PANEL = "panel", _("Panel being formed")
    REVIEW = "review", _("Panel review")
    APPROVAL = "approval", _("Approval")
    CERTIFICATE = "certificate", _("Awaiting the certificate")
    CLOSED = "closed", _("Closed")


class Outcome(models.TextChoices):
    OPEN = "open", _("Open")
    CERTIFIED = "certified", _("Certified")
    PLAN_REFUSED = "plan_refused", _("Not included in the plan")
    RECTIFICATION_MISSED = "rectification_missed", _("Withdrawn: rectification deadline missed")
    OBJECTION_UPHELD = "objection_upheld", _("Not certified: objection upheld")
    PANEL_FAILED = "panel_failed", _("Not certified: the panel's assessment failed")
    APPROVAL_REFUSED = "approval_refused", _("Approval refused")
    WITHDRAWN = "withdrawn", _("Withdrawn by the applicant")
    CANCELLED = "cancelled", _("Cancelled by the bureau")


def report_path(instance, filename: str) -> str:
    return f"cases/{instance.year}/{instance.pk}/report/{filename}"


def evidence_path(instance, filename: str) -> str:
    return f"cases/{instance.case.year}/{instance.case_id}/prerequisites/{instance.code}/{filename}"


def precheck_path(instance, filename: str) -> str:
    return f"cases/{instance.case.year}/{instance.case_id}/precheck/{instance.round}/{filename}"


class Case(DomainModel):
    reference = models.CharField(_("reference"), max_length=30, blank=True, editable=False,
                                 help_text=_("Given when the case is stored: year and a serial."))
    institution = models.ForeignKey(Institution, models.PROTECT, related_name="cases", verbose_name=_("applicant"))
    scheme_version = models.ForeignKey(SchemeVersion, models.PROTECT, related_name="cases",
                                       verbose_name=_("scheme version"))
    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="cases", verbose_name=_("scheme"),
                               editable=False)  # follows from the version (save()), for the constraint below
    grade = models.ForeignKey(Grade, models.PROTECT, related_name="cases", verbose_name=_("grade"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="cases", verbose_name=_("assessing bureau"))
    filing_bureau = models.ForeignKey(Bureau, models.PROTECT, null=True, blank=True, related_name="filed_cases",
                                      verbose_name=_("filed with"))
    renews = models.ForeignKey(Certificate, models.PROTECT, null=True, blank=True, related_name="rechecks",
                               verbose_name=_("certificate rechecked"))
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.DECLARED)
    outcome = models.CharField(_("outcome"), max_length=30, choices=Outcome.choices, default=Outcome.OPEN)
    outcome_reason = models.TextField(_("reason for the outcome"), blank=True)
    declared_at = models.DateTimeField(_("declared at"))
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                    verbose_name=_("declared by"))
    gates = models.JSONField(_("declared special-grade conditions"), default=dict, blank=True)
    forwarding_bureau = models.ForeignKey(Bureau, models.PROTECT, null=True, blank=True,
                                          related_name="forwarded_cases", verbose_name=_("forwarded by"),
                                     help_text=_("Special-grade declarations below the province pass through the "
                                                 "city bureau, which forwards them."))
    forwarded_at = models.DateTimeField(_("forwarded at"), null=True, blank=True)
    planning_bureau = models.ForeignKey(Bureau, models.PROTECT, null=True, blank=True, related_name="planned_cases",
                                        verbose_name=_("planned by"),
                                        help_text=_("The bureau that includes the declaration in its assessment "
                                                    "plan, where not the assessing bureau (a special-grade "
                                                    "recheck below the province: the province)."))
    precheck_bureau = models.ForeignKey(Bureau, models.PROTECT, null=True, blank=True,
                                        related_name="delegated_prechecks", verbose_name=_("pre-check delegated to"),
                                        help_text=_("The city bureau the province delegated the pre-check to; "
                                                    "empty while the assessing bureau pre-checks."))
    precheck_delegated_at = models.DateTimeField(_("pre-check delegated at"), null=True, blank=True)
    report = models.FileField(_("narrative report"), upload_to=report_path, blank=True,
                              help_text=_("The applicant's report on its work under the scheme."))
    integrity_acknowledged_at = models.DateTimeField(_("integrity notice acknowledged at"), null=True, blank=True)
    prechecker = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                   related_name="prechecked_cases", verbose_name=_("pre-checker"))
    rectification_due_at = models.DateTimeField(_("rectification due"), null=True, blank=True)
    # Dates and links of record (the audit log is evidence, not where these are read from)
    acceptance_requested_at = models.DateTimeField(_("acceptance requested at"), null=True, blank=True,
                                                   help_text=_("The latest acceptance request (验收申请)."))
    approval_decided_at = models.DateTimeField(_("approval decided at"), null=True, blank=True,
                                               help_text=_("When the approver approved or refused."))
    certificate = models.OneToOneField(Certificate, models.PROTECT, null=True, blank=True,
                                       related_name="certified_case", verbose_name=_("certificate issued"))

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-declared_at"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "scheme"], condition=Q(outcome="open"),
                                    name="one_open_case_per_institution_and_scheme"),
            models.UniqueConstraint(fields=["reference"], condition=~Q(reference=""), name="case_reference_unique"),
            models.CheckConstraint(condition=Q(outcome="open") | Q(stage="closed"), name="an_ended_case_is_closed"),
        ]
        indexes = [
            models.Index(fields=["bureau", "outcome", "stage"], name="case_bureau_queue"),
            # Every case list is newest first, a keyset page at a time (workflows.paging).
            models.Index(fields=["-declared_at", "-id"], name="case_newest_first"),
            # A platform's copy kept in sync walks the cases changed since a time (the API's updated_since).
            models.Index(fields=["updated_at", "id"], name="case_sync"),
        ]

    def __str__(self) -> str:
        return self.reference or f"{self.institution} {self.grade}"

    def save(self, *args, **kwargs):
        self.scheme_id = self.scheme_version.scheme_id
        super().save(*args, **kwargs)

    @property
    def planner(self) -> Bureau:
        """The bureau whose plan the declaration joins: the assessing bureau unless the scheme names another."""
        return self.planning_bureau if self.planning_bureau_id is not None else self.bureau

    @property
    def prechecking_bureau(self) -> Bureau:
        """The bureau whose pre-checker pre-checks: the assessing bureau, or the city it delegated to."""
        return self.precheck_bureau if self.precheck_bureau_id is not None else self.bureau


class CasePrerequisite(DomainModel):
    """One declared condition (申报必备条件): met, with its evidence, or not applicable where allowed."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="prerequisites", verbose_name=_("case"))
    code = models.CharField(_("condition"), max_length=40)
    answer = models.CharField(_("answer"), max_length=3, choices=[("yes", _("Met")), ("na", _("Not applicable"))])
    evidence = models.FileField(_("evidence"), upload_to=evidence_path, blank=True)

    class Meta:
        verbose_name = _("declared condition")
        verbose_name_plural = _("declared conditions")
        constraints = [models.UniqueConstraint(fields=["case", "code"], name="one_answer_per_condition")]

    def __str__(self) -> str:
        return f"{self.case} {self.code}: {self.answer}"


def round_report_path(instance, filename: str) -> str:
    return f"cases/{instance.case.year}/{instance.case_id}/report/{instance.round}/{filename}"


class CaseReport(DomainModel):
    """One round of the acceptance request as the applicant wrote it: its narrative report (汇报材料) and, from
    the second round on, the rectification's explanation (整改说明). Every round is kept, so that the reviewers
    read the earlier ones beside the latest (``Case.report`` is the latest report)."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="reports", verbose_name=_("case"))
    round = models.PositiveSmallIntegerField(_("round"))
    file = models.FileField(_("narrative report"), upload_to=round_report_path, blank=True, max_length=255)
    explanation = models.TextField(_("rectification explanation"), blank=True,
                                   help_text=_("What was rectified, item by item (from the second round on)."))

    class Meta:
        verbose_name = _("round of the acceptance request")
        verbose_name_plural = _("rounds of the acceptance request")
        ordering = ["case", "round"]
        constraints = [models.UniqueConstraint(fields=["case", "round"], name="one_report_per_round")]

    def __str__(self) -> str:
        return f"{self.case} #{self.round}"


class Precheck(DomainModel):
    """One round of the pre-check: opinions per rubric item and the decision; every round is kept."""

    class Decision(models.TextChoices):
        PASS = "pass", _("Passed")
        RETURN = "return", _("Returned for rectification")
        REPORTED = "reported", _("Written result sent to the assessing bureau")

    case = models.ForeignKey(Case, models.PROTECT, related_name="prechecks", verbose_name=_("case"))
    round = models.PositiveSmallIntegerField(_("round"))
    prechecker = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                   verbose_name=_("pre-checker"))
    opinions = models.JSONField(_("opinions per item"), default=dict, blank=True)
    summary = models.TextField(_("opinion"))
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    decided_at = models.DateTimeField(_("decided at"))
    rectification_due_at = models.DateTimeField(_("rectification due"), null=True, blank=True)
    # A pre-check the province delegated to a city bureau (第十条): the city's pre-checker writes the result
    # (``summary``, ``opinions``, its ``recommendation``, an optional ``attachment``), which returns to the
    # province with the materials; the province then decides (``decision``, ``decided_by``).
    delegated_to = models.ForeignKey(Bureau, models.PROTECT, null=True, blank=True, related_name="+",
                                     verbose_name=_("pre-checked for the province by"))
    recommendation = models.CharField(_("recommendation"), max_length=10, blank=True,
                                      choices=[("pass", _("Pass")), ("return", _("Return for rectification"))])
    attachment = models.FileField(_("written result"), upload_to=precheck_path, blank=True)
    reported_at = models.DateTimeField(_("written result sent at"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decision_reason = models.TextField(_("the assessing bureau's reason"), blank=True)

    class Meta:
        verbose_name = _("pre-check")
        verbose_name_plural = _("pre-checks")
        ordering = ["case", "round"]
        constraints = [models.UniqueConstraint(fields=["case", "round"], name="one_precheck_per_round")]

    def __str__(self) -> str:
        return f"{self.case} #{self.round} {self.get_decision_display()}"


class LateInclusion(DomainModel):
    """A bureau includes an institution's late declaration in its year's plan by hand, with a reason (DESIGN
    §3.6): the institution may then declare after the window closes, until ``declare_by``, once. Every other
    rule still applies, and the inclusion only counts for a declaration that this bureau assesses."""

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="late_inclusions",
                               verbose_name=_("assessing bureau"))
    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="+", verbose_name=_("scheme"))
    institution = models.ForeignKey(Institution, models.PROTECT, related_name="late_inclusions",
                                    verbose_name=_("applicant"))
    year = models.PositiveSmallIntegerField(_("plan year"))
    reason = models.TextField(_("reason"))
    declare_by = models.DateField(_("declare by"))
    granted_at = models.DateTimeField(_("included at"))
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                   verbose_name=_("included by"))
    case = models.OneToOneField(Case, models.PROTECT, null=True, blank=True, related_name="late_inclusion",
                                verbose_name=_("declaration"))

    class Meta:
        verbose_name = _("late declaration included")
        verbose_name_plural = _("late declarations included")
        ordering = ["-granted_at"]
        constraints = [
            models.UniqueConstraint(fields=["bureau", "scheme", "institution", "year"],
                                    condition=Q(case__isnull=True, archived_at__isnull=True),
                                    name="one_unused_late_inclusion_per_institution"),
            models.CheckConstraint(condition=~Q(reason=""), name="a_late_inclusion_says_why"),
        ]

    def __str__(self) -> str:
        return f"{self.bureau} {self.year}: {self.institution}"


class LateInclusionRequest(DomainModel):
    """An institution asks, from the declaration page after the window closed, the bureau that plans its
    grade to include a late declaration in this year's plan, with its reason. The bureau's staff answer it
    on their late declarations page: they include it (a :class:`LateInclusion`, linked here) or refuse it
    with a reason the applicant reads."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for the bureau")
        GRANTED = "granted", _("Included in the plan")
        REFUSED = "refused", _("Not included")

    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="late_inclusion_requests",
                               verbose_name=_("bureau asked"))
    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="+", verbose_name=_("scheme"))
    institution = models.ForeignKey(Institution, models.PROTECT, related_name="late_inclusion_requests",
                                    verbose_name=_("applicant"))
    grade = models.ForeignKey(Grade, models.PROTECT, related_name="+", verbose_name=_("grade"))
    year = models.PositiveSmallIntegerField(_("plan year"))
    reason = models.TextField(_("reason"))
    requested_at = models.DateTimeField(_("asked at"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                     verbose_name=_("asked by"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("answered by"))
    inclusion = models.OneToOneField(LateInclusion, models.PROTECT, null=True, blank=True,
                                     related_name="request", verbose_name=_("inclusion"))

    class Meta:
        verbose_name = _("request to include a late declaration")
        verbose_name_plural = _("requests to include a late declaration")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(fields=["bureau", "scheme", "institution", "year"],
                                    condition=Q(status="open", archived_at__isnull=True),
                                    name="one_open_late_request_per_institution"),
            models.CheckConstraint(condition=~Q(reason=""), name="a_late_request_says_why"),
        ]

    def __str__(self) -> str:
        return f"{self.institution} → {self.bureau} {self.year}"
