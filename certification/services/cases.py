"""Cases: each stage of DESIGN §4 as a service. The case's Viewflow process calls them; they hold the rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .. import rules
from ..enums import CERTIFICATE_STATUSES_CURRENT, CertificateStatus, Kind
from ..exceptions import NotEligible, Refusal, RuleViolation
from ..lifecycle import CertificateLifecycle
from ..models import (
    Case,
    CasePrerequisite,
    Certificate,
    Grade,
    Institution,
    Outcome,
    Precheck,
    Scheme,
    SheetKind,
    Stage,
)
from ..permissions import (
    ACT_FOR_INSTITUTION,
    APPROVE_FOR_BUREAU,
    PRECHECK_FOR_BUREAU,
    can,
    require_bureau_staff,
)
from ..selectors import assessing_bureau, certificate_queue, declarant_for, filing_bureau, forwarding_bureau
from ..uploads import upload_refusals
from .audit import audit_record
from .certificates import issue_within
from .late_inclusions import late_inclusion_for


def _refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Declaration"), message=message, satisfy=satisfy))


@transaction.atomic
def case_declare(
    *,
    actor,
    institution: Institution,
    grade: str,
    kind: str,
    answers: Mapping[str, str],
    evidence: Mapping[str, UploadedFile],
    gates: Mapping[str, bool] | None = None,
    scheme: str = "archives",
    now: dt.datetime | None = None,
) -> Case:
    """An institution declares for a grade (promotion) or for the recheck of the grade it holds.

    Every rule of DESIGN §3.1–3.2 is checked against the system's own records, every evidence file for its
    type and size, and the bureau that assesses is computed. All refusals are raised together, and nothing
    is stored unless the declaration is accepted. A second declaration while one is open is refused.
    """
    if not can(actor, ACT_FOR_INSTITUTION, institution):
        raise _refuse("declaration.not_your_institution",
                      _("You may declare only for the institution you act for."))
    if kind not in Kind.values:
        raise ValueError(f"unknown kind {kind!r}")
    version = Scheme.objects.get(code=scheme).current_version()
    spec = version.specification()
    now = now or timezone.now()
    today = rules.local_date(now, scheme=spec)
    institution = Institution.objects.select_for_update().get(pk=institution.pk)

    refusals: list[Refusal] = []
    if Case.objects.filter(institution=institution, scheme=version.scheme_id, outcome=Outcome.OPEN).exists():
        refusals.append(Refusal(
            code="declaration.case_open", rule=_("Declaration"),
            message=_("The institution already has a declaration in progress."),
            satisfy=_("Follow it to its end, or withdraw it, before declaring again."),
        ))
    unknown = set(answers) - {p.code for p in spec.prerequisites}
    if unknown:
        raise ValueError(f"unknown conditions {sorted(unknown)}")
    for code, upload in evidence.items():
        refusals.extend(upload_refusals(upload, field=code))
    try:
        spec.grade(grade)
    except KeyError:
        raise ValueError(f"unknown grade {grade!r}") from None
    late = late_inclusion_for(institution, version=version, grade=grade, kind=kind, today=today)
    declaration = rules.Declaration(
        grade=grade, kind=kind, prerequisites=dict(answers), evidence=frozenset(evidence), gates=dict(gates or {}),
        late_inclusion=late is not None,
    )
    refusals.extend(rules.declaration_refusals(declarant_for(institution, version=version), declaration,
                                               today=today, scheme=spec))
    if refusals:
        raise NotEligible(*refusals)

    renews = None
    if kind == Kind.RECHECK:
        renews = Certificate.objects.select_for_update().get(institution=institution, scheme=version.scheme_id,
                                                             status__in=CERTIFICATE_STATUSES_CURRENT)
        if renews.status == CertificateStatus.IN_FORCE:
            # the grade stays in force, marked "recheck in progress", until the recheck is decided
            CertificateLifecycle(renews).declare_recheck()
            renews.status_changed_at = now
            renews.save(update_fields=["status", "status_changed_at", "updated_at"])
            audit_record(actor=actor, action="certificate.recheck_declared", target=renews,
                         before={"status": CertificateStatus.IN_FORCE}, after={"status": renews.status})
    case = Case(
        institution=institution, scheme_version=version, grade=Grade.objects.get(version=version, code=grade),
        kind=kind, year=today.year, bureau=assessing_bureau(institution, grade=grade, kind=kind, version=version),
        filing_bureau=filing_bureau(institution, grade=grade, kind=kind, version=version), renews=renews,
        forwarding_bureau=forwarding_bureau(institution, grade=grade, kind=kind, version=version),
        declared_at=now, declared_by=actor, gates=dict(gates or {}),
    )
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:  # a concurrent declaration won the race
        raise _refuse("declaration.case_open", _("The institution already has a declaration in progress."),
                      _("Follow it to its end, or withdraw it, before declaring again.")) from None
    case.reference = f"{today.year}{case.pk:06d}"
    case.save(update_fields=["reference", "updated_at"])
    for code, answer in answers.items():
        row = CasePrerequisite(case=case, code=code, answer=answer)
        if code in evidence:
            row.evidence.save(evidence[code].name, evidence[code], save=False)
        row.save()
    if late is not None:
        late.case = case
        late.save(update_fields=["case", "updated_at"])
    audit_record(actor=actor, action="case.declare", target=case, after={
        "reference": case.reference, "institution": institution.pk, "grade": grade, "kind": kind,
        "bureau": case.bureau_id, "answers": dict(answers), "evidence": sorted(evidence),
        **({"late_inclusion": late.pk} if late is not None else {}),
    })
    return case


# --- The plan (stage 2), withdrawal and cancellation -----------------------------------------------------
def _locked(case: Case, *, stages: tuple[str, ...]) -> Case:
    """The case under a row lock, still open and in one of ``stages``; otherwise a clear refusal."""
    case = Case.objects.select_for_update().select_related("grade", "institution", "bureau").get(pk=case.pk)
    if case.outcome != Outcome.OPEN or case.stage not in stages:
        raise RuleViolation(Refusal(
            code="case.not_at_this_stage", rule=_("Case"),
            message=_("Case %(ref)s is at the stage “%(stage)s”: this action is no longer open.")
            % {"ref": case.reference, "stage": case.get_stage_display()},
            satisfy=_("Reload the case to see where it stands."),
        ))
    return case


def _need_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation(Refusal(code="case.reason_required", rule=_("Case"), message=_("A reason is required."),
                                    satisfy=_("Give the reason, as the applicant will read it.")))
    return reason




def _close(case: Case, *, actor, outcome: str, reason: str, action: str) -> Case:
    before = {"stage": case.stage, "outcome": case.outcome}
    case.stage, case.outcome, case.outcome_reason = Stage.CLOSED, outcome, reason
    case.save(update_fields=["stage", "outcome", "outcome_reason", "updated_at"])
    audit_record(actor=actor, action=action, target=case, before=before,
                 after={"stage": case.stage, "outcome": case.outcome}, reason=reason)
    return case


@transaction.atomic
def case_forward(*, actor, case: Case) -> Case:
    """The city bureau forwards a special-grade declaration to the province, within the first quarter."""
    case = _locked(case, stages=(Stage.DECLARED,))
    city = case.forwarding_bureau
    if city is None:
        raise _refuse("case.no_forwarding", _("This declaration goes to its assessing bureau directly."))
    require_bureau_staff(actor, city)
    if case.forwarded_at is not None:
        raise _refuse("case.already_forwarded", _("This declaration was already forwarded."))
    case.forwarded_at = timezone.now()
    case.save(update_fields=["forwarded_at", "updated_at"])
    audit_record(actor=actor, action="case.forward", target=case, after={"forwarded_by": city.pk})
    return case


@transaction.atomic
def case_plan_include(*, actor, case: Case) -> Case:
    """The assessing bureau includes the declaration in this year's assessment plan: the self-check begins."""
    case = _locked(case, stages=(Stage.DECLARED,))
    require_bureau_staff(actor, case.bureau)
    if case.forwarding_bureau_id is not None and case.forwarded_at is None:
        raise _refuse("case.not_forwarded", _("A special-grade declaration from below the province reaches the "
                                              "plan through the city bureau."),
                      _("Wait for the city bureau to forward it."))
    case.stage = Stage.PLANNED
    case.save(update_fields=["stage", "updated_at"])
    audit_record(actor=actor, action="case.plan_include", target=case, before={"stage": Stage.DECLARED},
                 after={"stage": Stage.PLANNED})
    return case


@transaction.atomic
def case_plan_return(*, actor, case: Case, reason: str) -> Case:
    """The assessing bureau does not include the declaration in its plan, with a reason the applicant sees."""
    reason = _need_reason(reason)
    case = _locked(case, stages=(Stage.DECLARED,))
    require_bureau_staff(actor, case.bureau)
    return _close(case, actor=actor, outcome=Outcome.PLAN_REFUSED, reason=reason, action="case.plan_return")


@transaction.atomic
def case_withdraw(*, actor, case: Case, reason: str) -> Case:
    """The applicant withdraws its declaration at any stage before approval."""
    reason = _need_reason(reason)
    case = _locked(case, stages=tuple(s for s in Stage.values if s not in (Stage.CERTIFICATE, Stage.CLOSED)))
    if not can(actor, ACT_FOR_INSTITUTION, case.institution):
        raise _refuse("case.not_your_institution", _("Only the applicant may withdraw its declaration."))
    return _close(case, actor=actor, outcome=Outcome.WITHDRAWN, reason=reason, action="case.withdraw")


@transaction.atomic
def case_cancel(*, actor, case: Case, reason: str) -> Case:
    """The assessing bureau cancels a case, with a reason; nothing is deleted."""
    reason = _need_reason(reason)
    case = _locked(case, stages=tuple(s for s in Stage.values if s != Stage.CLOSED))
    require_bureau_staff(actor, case.bureau)
    return _close(case, actor=actor, outcome=Outcome.CANCELLED, reason=reason, action="case.cancel")


# --- Acceptance request and pre-check (stages 3 and 4) ----------------------------------------------------
def _need_applicant(actor, case: Case) -> None:
    if not can(actor, ACT_FOR_INSTITUTION, case.institution):
        raise _refuse("case.not_your_institution", _("Only the applicant may do this."))


@transaction.atomic
def case_attach_report(*, actor, case: Case, upload: UploadedFile) -> Case:
    """The applicant attaches its narrative report (汇报材料), checked for type and size."""
    case = _locked(case, stages=(Stage.PLANNED, Stage.RECTIFICATION))
    _need_applicant(actor, case)
    refusals = upload_refusals(upload, field="report")
    if refusals:
        raise RuleViolation(*refusals)
    case.report.save(upload.name, upload, save=False)
    case.save(update_fields=["report", "updated_at"])
    audit_record(actor=actor, action="case.report", target=case, after={"report": case.report.name})
    return case


@transaction.atomic
def case_acknowledge_integrity(*, actor, case: Case) -> Case:
    """The applicant acknowledges the integrity notice (廉政告知书): no lowered standards, conditions or fees."""
    case = _locked(case, stages=(Stage.PLANNED, Stage.RECTIFICATION))
    _need_applicant(actor, case)
    if case.integrity_acknowledged_at is None:
        case.integrity_acknowledged_at = timezone.now()
        case.save(update_fields=["integrity_acknowledged_at", "updated_at"])
        audit_record(actor=actor, action="case.integrity_acknowledged", target=case)
    return case


@transaction.atomic
def case_request_acceptance(*, actor, case: Case, now: dt.datetime | None = None) -> Case:
    """The applicant submits its acceptance request (验收申请) after the self-check, or its rectification."""
    now = now or timezone.now()
    case = _locked(case, stages=(Stage.PLANNED, Stage.RECTIFICATION))
    _need_applicant(actor, case)
    if case.stage == Stage.RECTIFICATION and case.rectification_due_at and now >= case.rectification_due_at:
        raise _refuse("case.rectification_overdue", _("The rectification deadline has passed."))
    missing = []
    sheet = case.sheets.filter(kind=SheetKind.SELF).order_by("-round").first()
    if sheet is None or not sheet.locked or sheet.round != case.prechecks.count() + 1:
        missing.append(_("the submitted self-check"))
    if not case.report:
        missing.append(_("the narrative report"))
    if case.integrity_acknowledged_at is None:
        missing.append(_("the acknowledged integrity notice"))
    if missing:
        raise _refuse("case.acceptance_incomplete",
                      _("The acceptance request still needs: %(missing)s.") % {"missing": pgettext("list separator", ", ").join(missing)})
    before = case.stage
    case.stage = Stage.PRECHECK
    case.save(update_fields=["stage", "updated_at"])
    audit_record(actor=actor, action="case.request_acceptance", target=case, before={"stage": before},
                 after={"stage": case.stage, "self_check_total": sheet.total})
    return case


@transaction.atomic
def case_designate_prechecker(*, actor, case: Case, prechecker) -> Case:
    """The assessing bureau designates the professional who pre-checks the case."""
    case = _locked(case, stages=(Stage.PLANNED, Stage.PRECHECK, Stage.RECTIFICATION))
    require_bureau_staff(actor, case.bureau)
    if not can(prechecker, PRECHECK_FOR_BUREAU, case.bureau):
        raise _refuse("case.not_a_prechecker", _("%(user)s is not a pre-checker of %(bureau)s.")
                      % {"user": prechecker, "bureau": case.bureau})
    before = case.prechecker_id
    case.prechecker = prechecker
    case.save(update_fields=["prechecker", "updated_at"])
    audit_record(actor=actor, action="case.designate_prechecker", target=case, before={"prechecker": before},
                 after={"prechecker": prechecker.pk})
    return case


@transaction.atomic
def case_precheck_decide(*, actor, case: Case, passed: bool, summary: str, opinions: Mapping[str, str],
                         days: int | None = None, now: dt.datetime | None = None) -> Case:
    """The designated pre-checker passes the case to the public notice, or returns it for rectification by
    a deadline (default: the scheme's rectification period). Each round's opinions are kept."""
    now = now or timezone.now()
    case = _locked(case, stages=(Stage.PRECHECK,))
    if case.prechecker_id is None or actor is None or case.prechecker_id != actor.pk:
        raise _refuse("case.not_the_prechecker", _("Only the designated pre-checker decides the pre-check."))
    summary = _need_reason(summary)
    spec = case.scheme_version.specification()
    codes = {i.code for _c, i in spec.rubric_for(case.grade.code).items()}
    unknown = sorted(set(opinions) - codes)
    if unknown:
        raise _refuse("case.unknown_item", _("There is no item %(code)s in this rubric.") % {"code": unknown[0]})
    due = None if passed else rules.rectification_deadline(now, days, scheme=spec)
    Precheck.objects.create(
        case=case, round=case.prechecks.count() + 1, prechecker=actor, opinions=dict(opinions), summary=summary,
        decision=Precheck.Decision.PASS if passed else Precheck.Decision.RETURN, decided_at=now,
        rectification_due_at=due,
    )
    case.stage = Stage.NOTICE if passed else Stage.RECTIFICATION
    case.rectification_due_at = due
    case.save(update_fields=["stage", "rectification_due_at", "updated_at"])
    audit_record(actor=actor, action="case.precheck_pass" if passed else "case.precheck_return", target=case,
                 before={"stage": Stage.PRECHECK}, after={"stage": case.stage, "rectification_due_at": due},
                 reason=summary)
    return case


@transaction.atomic
def case_rectification_missed(*, case: Case, now: dt.datetime | None = None) -> bool:
    """Withdraw the case if its rectification deadline passed without a resubmission (the timer's action).
    Idempotent: a case already resubmitted, closed or not yet due is left alone. Returns whether it acted."""
    now = now or timezone.now()
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.outcome != Outcome.OPEN or case.stage != Stage.RECTIFICATION or not case.rectification_due_at:
        return False
    if now < case.rectification_due_at:
        return False
    with translation.override(settings.LANGUAGE_CODE):
        reason = _("The rectification deadline %(due)s passed without a resubmission.") % {
            "due": timezone.localtime(case.rectification_due_at).strftime("%Y-%m-%d %H:%M")}
    _close(case, actor=None, outcome=Outcome.RECTIFICATION_MISSED, reason=reason, action="case.rectification_missed")
    return True


# --- Approval (stage 8) and the certificate (stage 9) ----------------------------------------------------
def approval_basis(case: Case) -> list[tuple[str, str, bool]]:
    """The five-document basis of approval (审批依据, 第十条 五): (code, name, complete)."""
    from ..models import Objection

    last_precheck = case.prechecks.order_by("-round").first()
    review = getattr(case, "review", None)
    self_check = case.sheets.filter(kind=SheetKind.SELF, submitted_at__isnull=False).exists()
    notice = case.notices.filter(closed_at__isnull=False).exists()
    pending = case.objections.filter(status=Objection.Status.RECEIVED).exists()
    return [
        ("acceptance_request", _("Acceptance request"),
         self_check and last_precheck is not None and last_precheck.decision == Precheck.Decision.PASS),
        ("application_form", _("Application-approval form"),
         self_check and bool(case.report) and review is not None and review.passed is True),
        ("assessment_form", _("Grade assessment form"),
         review is not None and review.passed is True
         and (case.sheets.filter(kind=SheetKind.PANEL).exists() or review.votes_for is not None)),
        ("notice_result", _("Result of the public notice"), notice and not pending),
        ("integrity_notice", _("Integrity notice"), case.integrity_acknowledged_at is not None),
    ]


def _need_approver(actor, case: Case) -> None:
    if not can(actor, APPROVE_FOR_BUREAU, case.bureau):
        raise _refuse("case.not_the_approver", _("Only an approver of %(bureau)s decides this case.")
                      % {"bureau": case.bureau})


@transaction.atomic
def case_approve(*, actor, case: Case, approved: bool, reasons: str) -> Case:
    """The assessing bureau's approver approves on the complete five-document basis, or refuses, with
    reasons. An approved recheck assessed below the province is filed with the bureau the rules name. Of two
    approvers acting at once, one decides and the other is told the case has moved on."""
    case = _locked(case, stages=(Stage.APPROVAL,))
    _need_approver(actor, case)
    reasons = _need_reason(reasons)
    if approved:
        missing = [str(name) for _code, name, complete in approval_basis(case) if not complete]
        if missing:
            raise _refuse("case.basis_incomplete", _("The basis of approval is incomplete: %(missing)s.")
                          % {"missing": pgettext("list separator", ", ").join(missing)})
        case.stage = Stage.CERTIFICATE
        case.outcome_reason = reasons
        case.save(update_fields=["stage", "outcome_reason", "updated_at"])
        audit_record(actor=actor, action="case.approve", target=case, before={"stage": Stage.APPROVAL},
                     after={"stage": case.stage}, reason=reasons)
        from .documents import documents_freeze_approval

        documents_freeze_approval(actor=actor, case=case)
        if case.filing_bureau_id is not None:
            audit_record(actor=actor, action="case.file", target=case, after={"filed_with": case.filing_bureau_id})
        return case
    return _close(case, actor=actor, outcome=Outcome.APPROVAL_REFUSED, reason=reasons, action="case.refuse")


@transaction.atomic
def case_issue_certificate(*, actor, case: Case, issued_on: dt.date | None = None):
    """The provincial certificate officer issues the approved case's certificate; the case is certified."""
    case = _locked(case, stages=(Stage.CERTIFICATE,))
    if not certificate_queue(actor).filter(pk=case.pk).exists():
        raise _refuse("case.not_the_officer", _("Only the province's certificate officer issues certificates."))
    certificate = issue_within(actor=actor, institution=case.institution, grade=case.grade, kind=case.kind,
                               approved_by=case.bureau, issued_on=issued_on)
    case.stage, case.outcome = Stage.CLOSED, Outcome.CERTIFIED
    case.save(update_fields=["stage", "outcome", "updated_at"])
    audit_record(actor=actor, action="case.certified", target=case, after={"certificate": certificate.number})
    from .documents import certificate_freeze_on_commit

    certificate_freeze_on_commit(actor=actor, certificate=certificate, case=case)
    return certificate


def cases_withdraw_missed_rectifications(*, now: dt.datetime | None = None) -> int:
    """Withdraw every case whose rectification deadline passed without a resubmission (the beat sweep)."""
    now = now or timezone.now()
    due = Case.objects.filter(outcome=Outcome.OPEN, stage=Stage.RECTIFICATION, rectification_due_at__lte=now)
    return sum(case_rectification_missed(case=case, now=now) for case in due.order_by("rectification_due_at"))
