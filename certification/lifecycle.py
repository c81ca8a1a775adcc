"""The lives of a certificate and of a case, as state machines (viewflow.fsm).

The certificate:

in force ──recheck declared──▶ recheck in progress ──recheck passed──▶ superseded (by the recheck certificate)
    │                                   ├──recheck ended without a certificate, on or before expiry──▶ in force
    │                                   └──recheck ended without a certificate, after expiry──▶ lapsed
    ├──expired without a recheck──▶ lapsed
    ├──promoted──▶ superseded (by the higher grade's certificate)
    ├──suspended──▶ suspended ──reinstated──▶ in force
    └──revoked (also from recheck in progress or suspended)──▶ revoked

A certificate registered from the paper register lives the same life (it may also be registered as lapsed,
its expiry being past); its import withdrawn in error revokes it from in force, suspended or lapsed.

The services in ``services/certificates.py`` drive it; the daily lapse sweep updates rows in bulk with the
same source state as :meth:`CertificateLifecycle.lapse`.

The case: :class:`CaseLifecycle` below, its stages and ends, driven by ``services/cases.py``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from viewflow import fsm

from .enums import CertificateStatus as S
from .models.cases import Outcome, Stage
from .permissions import ACT_FOR_INSTITUTION, APPROVE_FOR_BUREAU, ISSUE_FOR_BUREAU, WORK_IN_BUREAU, can


class CertificateLifecycle:
    status = fsm.State(S, default=S.IN_FORCE)

    def __init__(self, certificate):
        self.certificate = certificate

    @status.getter()
    def _get_status(self):
        return self.certificate.status

    @status.setter()
    def _set_status(self, value):
        self.certificate.status = value

    @status.transition(source=S.IN_FORCE, target=S.RECHECK_IN_PROGRESS)
    def declare_recheck(self):
        """The holder declared a recheck in time: the grade stays in force until it is decided."""

    @status.transition(source=S.RECHECK_IN_PROGRESS, target=S.LAPSED)
    def fail_recheck(self):
        """The recheck ended without a new certificate after the grade's expiry: the grade lapses at once."""

    @status.transition(source=S.RECHECK_IN_PROGRESS, target=S.IN_FORCE)
    def end_recheck(self):
        """The recheck ended without a new certificate on or before the grade's expiry date: the grade stands
        until it expires, and then lapses as any other."""

    @status.transition(source=S.IN_FORCE, target=S.LAPSED)
    def lapse(self):
        """Expired without a recheck declaration (等级资格自动失效)."""

    @status.transition(source=[S.IN_FORCE, S.RECHECK_IN_PROGRESS], target=S.SUPERSEDED)
    def supersede(self):
        """A promotion or a passed recheck issued the certificate that replaces this one."""

    @status.transition(source=[S.IN_FORCE, S.RECHECK_IN_PROGRESS], target=S.SUSPENDED)
    def suspend(self):
        """The issuing bureau suspends the certificate, with a reason."""

    @status.transition(source=S.SUSPENDED, target=S.IN_FORCE)
    def reinstate(self):
        """The issuing bureau reinstates a suspended certificate, with a reason."""

    @status.transition(source=[S.IN_FORCE, S.RECHECK_IN_PROGRESS, S.SUSPENDED], target=S.REVOKED)
    def revoke(self):
        """The issuing bureau revokes the certificate, with a reason."""

    @status.transition(source=[S.IN_FORCE, S.SUSPENDED, S.LAPSED], target=S.REVOKED)
    def withdraw_registered(self):
        """A certificate registered from the paper register in error: its whole import is withdrawn within the
        grace period, and the certificate stands revoked (never deleted)."""


def lapse_sources() -> list[str]:
    """The states the lapse transition starts from (the daily sweep filters on exactly these)."""
    return [str(t.source) for t in CertificateLifecycle.lapse.get_transitions()]


# --- The case --------------------------------------------------------------------------------------------

class CaseState(models.TextChoices):
    """Where a case is: one of the stages of DESIGN §4 while it is open, or the end it came to.

    Stored in two columns that queries filter on: ``Case.stage`` (the stage, ``closed`` once ended) and
    ``Case.outcome`` (``open``, or how it ended). Only :class:`CaseLifecycle` writes them.
    """

    DECLARED = Stage.DECLARED.value, Stage.DECLARED.label
    PLANNED = Stage.PLANNED.value, Stage.PLANNED.label
    PRECHECK = Stage.PRECHECK.value, Stage.PRECHECK.label
    RECTIFICATION = Stage.RECTIFICATION.value, Stage.RECTIFICATION.label
    NOTICE = Stage.NOTICE.value, Stage.NOTICE.label
    PANEL = Stage.PANEL.value, Stage.PANEL.label
    REVIEW = Stage.REVIEW.value, Stage.REVIEW.label
    APPROVAL = Stage.APPROVAL.value, Stage.APPROVAL.label
    CERTIFICATE = Stage.CERTIFICATE.value, Stage.CERTIFICATE.label
    # the ends
    CERTIFIED = Outcome.CERTIFIED.value, Outcome.CERTIFIED.label
    PLAN_REFUSED = Outcome.PLAN_REFUSED.value, Outcome.PLAN_REFUSED.label
    RECTIFICATION_MISSED = Outcome.RECTIFICATION_MISSED.value, Outcome.RECTIFICATION_MISSED.label
    OBJECTION_UPHELD = Outcome.OBJECTION_UPHELD.value, Outcome.OBJECTION_UPHELD.label
    PANEL_FAILED = Outcome.PANEL_FAILED.value, Outcome.PANEL_FAILED.label
    APPROVAL_REFUSED = Outcome.APPROVAL_REFUSED.value, Outcome.APPROVAL_REFUSED.label
    WITHDRAWN = Outcome.WITHDRAWN.value, Outcome.WITHDRAWN.label
    CANCELLED = Outcome.CANCELLED.value, Outcome.CANCELLED.label


C = CaseState
#: The states in which a case has ended (each is also an ``Outcome``).
CASE_ENDS = frozenset({C.CERTIFIED, C.PLAN_REFUSED, C.RECTIFICATION_MISSED, C.OBJECTION_UPHELD, C.PANEL_FAILED,
                       C.APPROVAL_REFUSED, C.WITHDRAWN, C.CANCELLED})
#: The states of an open case (each is also a ``Stage``).
CASE_OPEN_STATES = tuple(s for s in C if s not in CASE_ENDS)


# Who may take a transition: predicates over the case and the acting user (``None`` is the system: a timer
# or a sweep). Each transition names its predicate, the refusal's code and, in words, who may take it.
def _system(lifecycle, user) -> bool:
    return user is None


def _applicant(lifecycle, user) -> bool:
    return can(user, ACT_FOR_INSTITUTION, lifecycle.case.institution)


def _bureau_staff(lifecycle, user) -> bool:
    return can(user, WORK_IN_BUREAU, lifecycle.case.bureau)


def _planning_staff(lifecycle, user) -> bool:
    """The staff of the bureau whose plan lists the case (the assessing bureau unless the scheme names another)."""
    return can(user, WORK_IN_BUREAU, lifecycle.case.planner)


def _system_or_bureau_staff(lifecycle, user) -> bool:
    return _system(lifecycle, user) or _bureau_staff(lifecycle, user)


def _prechecker(lifecycle, user) -> bool:
    case = lifecycle.case
    return user is not None and case.prechecker_id is not None and case.prechecker_id == user.pk


def _precheck_decider(lifecycle, user) -> bool:
    """Who decides a pre-check: the designated pre-checker; while the pre-check is delegated to a city bureau,
    the assessing bureau's staff, on the city's written result."""
    if lifecycle.case.precheck_bureau_id is not None:
        return _bureau_staff(lifecycle, user)
    return _prechecker(lifecycle, user)


def _chair(lifecycle, user) -> bool:
    from .models import PanelMember

    return user is not None and PanelMember.objects.filter(panel__case=lifecycle.case, is_chair=True,
                                                           expert__user=user).exists()


def _approver(lifecycle, user) -> bool:
    return can(user, APPROVE_FOR_BUREAU, lifecycle.case.bureau)


def _certificate_officer(lifecycle, user) -> bool:
    """A certificate officer of the province above the bureau that approved (only the province issues)."""
    return can(user, ISSUE_FOR_BUREAU, lifecycle.case.bureau.province)


def _who(code: str, who) -> dict:
    return {"refusal": code, "who": who}


class CaseLifecycle:
    """The life of a case (DESIGN §4) as a state machine: each stage, each end, and every move between them
    with who may make it. The services in ``services/cases.py`` move a case only through
    :func:`certification.services.cases.case_move`; the flow's gateways read :attr:`state`.

    declared ─include─▶ planned ─request_acceptance─▶ precheck ─pass_precheck─▶ notice ─pass_notice─▶ panel
    (a scheme without a pre-check: planned ─request_acceptance_to_notice─▶ notice, or ─…_to_panel─▶ panel)
       │                   ▲                            │  ▲                       │
       │                   └── (self-check again) ◀─ rectification ◀─return_for_rectification
       │                                                 └─miss_rectification─▶ rectification_missed
       ├─refuse_plan─▶ plan_refused                      notice ─uphold_objection─▶ objection_upheld
    panel ─form_panel─▶ review ─pass_review─▶ approval ─approve─▶ certificate ─certify─▶ certified
                          └─fail_review─▶ panel_failed   └─refuse_approval─▶ approval_refused
    any open stage before the certificate ─withdraw─▶ withdrawn;  any open stage ─cancel─▶ cancelled
    """

    state = fsm.State(CaseState, default=C.DECLARED)

    def __init__(self, case):
        self.case = case

    @state.getter()
    def _get_state(self):
        case = self.case
        return case.outcome if case.outcome != Outcome.OPEN else case.stage

    @state.setter()
    def _set_state(self, value):
        if value in CASE_ENDS:
            self.case.stage, self.case.outcome = Stage.CLOSED, value
        else:
            self.case.stage, self.case.outcome = value, Outcome.OPEN

    @property
    def is_open(self) -> bool:
        return self.state not in CASE_ENDS

    # 2. The plan
    @state.transition(source=C.DECLARED, target=C.PLANNED, permission=_planning_staff,
                      custom=_who("permission.denied", _("the staff of the bureau that issues the plan")))
    def include(self):
        """The planning bureau (the assessing bureau unless the scheme names another) includes the declaration
        in this year's assessment plan."""

    @state.transition(source=C.DECLARED, target=C.PLAN_REFUSED, permission=_planning_staff,
                      custom=_who("permission.denied", _("the staff of the bureau that issues the plan")))
    def refuse_plan(self):
        """The planning bureau does not include the declaration, with a reason."""

    # 3–4. Acceptance request, pre-check, rectification
    @state.transition(source=[C.PLANNED, C.RECTIFICATION], target=C.PRECHECK, permission=_applicant,
                      custom=_who("case.not_your_institution", _("the applicant")))
    def request_acceptance(self):
        """The applicant submits its self-check and acceptance request (again, after a rectification)."""

    @state.transition(source=C.PLANNED, target=C.NOTICE, permission=_applicant,
                      custom=_who("case.not_your_institution", _("the applicant")))
    def request_acceptance_to_notice(self):
        """As :meth:`request_acceptance`, under a scheme without a pre-check: the public notice is next."""

    @state.transition(source=C.PLANNED, target=C.PANEL, permission=_applicant,
                      custom=_who("case.not_your_institution", _("the applicant")))
    def request_acceptance_to_panel(self):
        """As :meth:`request_acceptance`, under a scheme with neither a pre-check nor a public notice: the panel
        is formed next."""

    @state.transition(source=C.PRECHECK, target=C.NOTICE, permission=_precheck_decider,
                      custom=_who("case.not_the_prechecker", _("the designated pre-checker (for a delegated "
                                                               "pre-check, the assessing bureau's staff)")))
    def pass_precheck(self):
        """The pre-checker passes the case on to the public notice (a delegated pre-check: the assessing bureau,
        accepting the city's written result)."""

    @state.transition(source=C.PRECHECK, target=C.PANEL, permission=_precheck_decider,
                      custom=_who("case.not_the_prechecker", _("the designated pre-checker (for a delegated "
                                                               "pre-check, the assessing bureau's staff)")))
    def pass_precheck_to_panel(self):
        """As :meth:`pass_precheck`, under a scheme without a public notice: the panel is formed next."""

    @state.transition(source=C.PRECHECK, target=C.RECTIFICATION, permission=_precheck_decider,
                      custom=_who("case.not_the_prechecker", _("the designated pre-checker (for a delegated "
                                                               "pre-check, the assessing bureau's staff)")))
    def return_for_rectification(self):
        """The pre-checker returns the case for rectification by a deadline (a delegated pre-check: the
        assessing bureau, on the city's written result)."""

    @state.transition(source=C.RECTIFICATION, target=C.RECTIFICATION_MISSED, permission=_system,
                      custom=_who("case.system_only", _("the system, when the deadline passes")))
    def miss_rectification(self):
        """The rectification deadline passed without a resubmission: the case is withdrawn."""

    # 5. Public notice
    @state.transition(source=C.NOTICE, target=C.PANEL, permission=_system_or_bureau_staff,
                      custom=_who("permission.denied", _("the system when the notice closes, or the "
                                                           "bureau's staff resolving the last objection")))
    def pass_notice(self):
        """The notice closed and no objection stands: the panel is formed next."""

    @state.transition(source=C.NOTICE, target=C.OBJECTION_UPHELD, permission=_bureau_staff,
                      custom=_who("permission.denied", _("the assessing bureau's staff")))
    def uphold_objection(self):
        """The bureau upholds an objection: the case ends, not certified."""

    # 6–7. Panel and review
    @state.transition(source=C.PANEL, target=C.REVIEW, permission=_bureau_staff,
                      custom=_who("permission.denied", _("the assessing bureau's staff")))
    def form_panel(self):
        """The bureau forms the review panel; the members score."""

    @state.transition(source=C.REVIEW, target=C.APPROVAL, permission=_chair,
                      custom=_who("review.not_the_chair", _("the chair of the panel")))
    def pass_review(self):
        """The chair concludes that the case passes."""

    @state.transition(source=C.REVIEW, target=C.PANEL_FAILED, permission=_chair,
                      custom=_who("review.not_the_chair", _("the chair of the panel")))
    def fail_review(self):
        """The chair concludes that the case fails."""

    # 8. Approval
    @state.transition(source=C.APPROVAL, target=C.CERTIFICATE, permission=_approver,
                      custom=_who("case.not_the_approver", _("an approver of the assessing bureau")))
    def approve(self):
        """The approver approves on the five-document basis."""

    @state.transition(source=C.APPROVAL, target=C.APPROVAL_REFUSED, permission=_approver,
                      custom=_who("case.not_the_approver", _("an approver of the assessing bureau")))
    def refuse_approval(self):
        """The approver refuses, with reasons."""

    # 9. Certificate
    @state.transition(source=C.CERTIFICATE, target=C.CERTIFIED, permission=_certificate_officer,
                      custom=_who("case.not_the_officer", _("a certificate officer of the province")))
    def certify(self):
        """The province's certificate officer issues the certificate."""

    # Ends at any time
    @state.transition(source=[s for s in CASE_OPEN_STATES if s != C.CERTIFICATE], target=C.WITHDRAWN,
                      permission=_applicant, custom=_who("case.not_your_institution", _("the applicant")))
    def withdraw(self):
        """The applicant withdraws its declaration, before approval."""

    @state.transition(source=list(CASE_OPEN_STATES), target=C.CANCELLED, permission=_bureau_staff,
                      custom=_who("permission.denied", _("the assessing bureau's staff")))
    def cancel(self):
        """The assessing bureau cancels the case, with a reason; nothing is deleted."""


def case_transitions() -> dict[str, list]:
    """Every transition of the case's lifecycle by name (a transition with several sources is one per source)."""
    return {name: list(getattr(CaseLifecycle, name).get_transitions())
            for name, value in vars(CaseLifecycle).items()
            if hasattr(value, "get_transitions")}
