"""Cases: each stage of DESIGN §4 as a service, holding its rules. The case's actions (``workflows.actions``)
call them with the process's step; every change of stage or end goes through :func:`case_move`, the one
place where the case's state machine (``certification.lifecycle.CaseLifecycle``) is moved."""

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
from ..lifecycle import CaseLifecycle, CertificateLifecycle
from ..models import (
    Case,
    CasePrerequisite,
    CaseReport,
    Certificate,
    Grade,
    Institution,
    Outcome,
    Precheck,
    SheetKind,
    Stage,
)
from ..permissions import (
    ACT_FOR_INSTITUTION,
    PRECHECK_FOR_BUREAU,
    can,
    require_bureau_staff,
)
from ..selectors import (
    assessing_bureau,
    awarded_grade,
    declarant_for,
    filing_bureau,
    forwarding_bureau,
    planning_bureau,
    precheck_delegate,
    schemes_open_to,
)
from ..uploads import upload_refusals
from .audit import audit_record
from .certificates import certificate_recheck_settle, issue_within
from .documents import certificate_document_freeze_within, documents_freeze_approval
from .filings import case_file_within
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
    scheme: str,
    gates: Mapping[str, bool] | None = None,
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
    version = next((v for v in schemes_open_to(institution) if v.scheme.code == scheme), None)
    if version is None:
        raise _refuse("declaration.scheme", _("%(institution)s may not declare under the scheme “%(scheme)s”.")
                      % {"institution": institution.name, "scheme": scheme},
                      _("Choose one of the schemes its bureau runs."))
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
    assessor = assessing_bureau(institution, grade=grade, kind=kind, version=version)
    planner = planning_bureau(institution, grade=grade, kind=kind, version=version)
    case = Case(
        institution=institution, scheme_version=version, grade=Grade.objects.get(version=version, code=grade),
        kind=kind, year=today.year, bureau=assessor,
        filing_bureau=filing_bureau(institution, grade=grade, kind=kind, version=version), renews=renews,
        forwarding_bureau=forwarding_bureau(institution, grade=grade, kind=kind, version=version),
        planning_bureau=planner if planner.pk != assessor.pk else None,
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


# --- Moving a case: the one place where its stage changes or it ends ---------------------------------------
def _not_at_this_stage(case: Case) -> RuleViolation:
    return RuleViolation(Refusal(
        code="case.not_at_this_stage", rule=_("Case"),
        message=_("Case %(ref)s is at the stage “%(stage)s”: this action is no longer open.")
        % {"ref": case.reference, "stage": case.get_stage_display()},
        satisfy=_("Reload the case to see where it stands."),
    ))


def case_may(case: Case, transition: str, *, actor) -> CaseLifecycle:
    """Refuse, changing nothing, unless ``actor`` may take ``transition`` of the case's lifecycle now: the
    case is in one of the transition's source states, and the actor is who the transition names. Returns the
    case's lifecycle, ready to move."""
    lifecycle = CaseLifecycle(case)
    move = getattr(lifecycle, transition)
    if not move.can_proceed():
        raise _not_at_this_stage(case)
    if not move.has_perm(actor):
        declared = next(t for t in move.get_transitions() if t.source == lifecycle.state)
        raise RuleViolation(Refusal(code=declared.custom["refusal"], rule=_("Case"),
                                    message=_("Only %(who)s may do this.") % {"who": declared.custom["who"]}))
    return lifecycle


def case_move(case: Case, transition: str, *, actor, action: str, reason: str = "",
              fields: Mapping[str, object] | None = None, audit_after: Mapping[str, object] | None = None,
              now: dt.datetime | None = None) -> Case:
    """Take one transition of the case's lifecycle (:class:`~certification.lifecycle.CaseLifecycle`): the only
    place where a case changes stage or ends. ``case`` is locked by the caller's transaction. Checks the state
    and who may move it, sets ``fields`` with it, saves, and writes the audit entry ``action``. A case that
    ends without its certificate (every end but certified) settles the certificate a recheck renews."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a case moves inside the transaction that locked it")
    lifecycle = case_may(case, transition, actor=actor)
    before = {"stage": case.stage, "outcome": case.outcome}
    getattr(lifecycle, transition)()
    fields = dict(fields or {})
    if not lifecycle.is_open:
        fields.setdefault("outcome_reason", reason)
    for name, value in fields.items():
        setattr(case, name, value)
    case.save(update_fields=["stage", "outcome", *fields, "updated_at"])
    audit_record(actor=actor, action=action, target=case, before=before,
                 after={"stage": case.stage, "outcome": case.outcome, **(audit_after or {})}, reason=reason)
    if not lifecycle.is_open and case.outcome != Outcome.CERTIFIED and case.renews_id is not None:
        certificate_recheck_settle(certificate=case.renews, case=case, now=now)
    return case


def _locked(case: Case, *, stages: tuple[str, ...] | None = None) -> Case:
    """The case under a row lock; with ``stages``, still open and in one of them, else a clear refusal."""
    case = Case.objects.select_for_update(of=("self",)).select_related("grade", "institution", "bureau").get(
        pk=case.pk)
    if stages is not None and (case.outcome != Outcome.OPEN or case.stage not in stages):
        raise _not_at_this_stage(case)
    return case


def _need_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation(Refusal(code="case.reason_required", rule=_("Case"), message=_("A reason is required."),
                                    satisfy=_("Give the reason, as the applicant will read it.")))
    return reason


# --- The plan (stage 2), withdrawal and cancellation -----------------------------------------------------
@transaction.atomic
def case_forward(*, actor, case: Case, now: dt.datetime | None = None) -> Case:
    """The city bureau forwards a gathered declaration (special grade, promotion or recheck, from the city's
    level and below) to the bureau that plans it, by the scheme's forwarding deadline (第十条: the first
    quarter). After it, only a late inclusion by the planning bureau's hand lets the declaration through: the
    one its declaration used, or one granted since for the institution this year, which the forwarding uses."""
    from ..models import LateInclusion

    now = now or timezone.now()
    case = _locked(case, stages=(Stage.DECLARED,))
    city = case.forwarding_bureau
    if city is None:
        raise _refuse("case.no_forwarding", _("This declaration goes to its assessing bureau directly."))
    require_bureau_staff(actor, city)
    if case.forwarded_at is not None:
        raise _refuse("case.already_forwarded", _("This declaration was already forwarded."))
    spec = case.scheme_version.specification()
    today = rules.local_date(now, scheme=spec)
    planner = case.planner
    inclusion = LateInclusion.objects.filter(case=case, bureau=planner).first()
    if inclusion is None and today > rules.forward_by(case.year, scheme=spec):
        inclusion = (LateInclusion.objects.active().select_for_update()
                     .filter(institution=case.institution_id, bureau=planner, scheme=case.scheme_id,
                             year=today.year, case__isnull=True, declare_by__gte=today)
                     .order_by("granted_at").first())
    refusals = rules.forward_refusals(case.year, today, late_inclusion=inclusion is not None, scheme=spec)
    if refusals:
        raise RuleViolation(*refusals)
    if inclusion is not None and inclusion.case_id is None:
        inclusion.case = case
        inclusion.save(update_fields=["case", "updated_at"])
    case.forwarded_at = now
    case.save(update_fields=["forwarded_at", "updated_at"])
    audit_record(actor=actor, action="case.forward", target=case, after={
        "forwarded_by": city.pk, "to": planner.pk, **({"late_inclusion": inclusion.pk} if inclusion else {})})
    return case


@transaction.atomic
def case_plan_include(*, actor, case: Case) -> Case:
    """The planning bureau (the assessing bureau, unless the scheme names another) includes the declaration in
    this year's assessment plan: the self-check begins."""
    case = _locked(case)
    case_may(case, "include", actor=actor)
    if case.forwarding_bureau_id is not None and case.forwarded_at is None:
        raise _refuse("case.not_forwarded", _("This declaration reaches the plan through %(bureau)s, which has "
                                              "not forwarded it yet.") % {"bureau": case.forwarding_bureau},
                      _("Wait for the city bureau to forward it."))
    return case_move(case, "include", actor=actor, action="case.plan_include")


@transaction.atomic
def case_plan_return(*, actor, case: Case, reason: str) -> Case:
    """The planning bureau does not include the declaration in its plan, with a reason the applicant sees."""
    case = _locked(case)
    case_may(case, "refuse_plan", actor=actor)
    reason = _need_reason(reason)
    return case_move(case, "refuse_plan", actor=actor, action="case.plan_return", reason=reason)


@transaction.atomic
def case_withdraw(*, actor, case: Case, reason: str) -> Case:
    """The applicant withdraws its declaration at any stage before approval."""
    case = _locked(case)
    case_may(case, "withdraw", actor=actor)
    reason = _need_reason(reason)
    return case_move(case, "withdraw", actor=actor, action="case.withdraw", reason=reason)


@transaction.atomic
def case_cancel(*, actor, case: Case, reason: str) -> Case:
    """The assessing bureau cancels a case, with a reason; nothing is deleted."""
    case = _locked(case)
    case_may(case, "cancel", actor=actor)
    reason = _need_reason(reason)
    return case_move(case, "cancel", actor=actor, action="case.cancel", reason=reason)


# --- Acceptance request and pre-check (stages 3 and 4) ----------------------------------------------------
@transaction.atomic
def case_attach_report(*, actor, case: Case, upload: UploadedFile) -> Case:
    """The applicant attaches its narrative report (汇报材料), checked for type and size."""
    case = _locked(case)
    case_may(case, "request_acceptance", actor=actor)  # the applicant, while it prepares the request
    refusals = upload_refusals(upload, field="report")
    if refusals:
        raise RuleViolation(*refusals)
    case.report.save(upload.name, upload, save=False)
    case.save(update_fields=["report", "updated_at"])
    # each round's report is kept beside the latest, for the reviewers who read the earlier rounds
    row = _round_report(case)
    row.file.save(upload.name, upload, save=False)
    row.save()
    audit_record(actor=actor, action="case.report", target=case, after={"report": case.report.name,
                                                                         "round": row.round})
    return case


def _round_report(case: Case) -> CaseReport:
    """The row of the round the applicant is preparing (the first, or the rectification after a return)."""
    return CaseReport.objects.get_or_create(case=case, round=case.prechecks.count() + 1)[0]


@transaction.atomic
def case_acknowledge_integrity(*, actor, case: Case) -> Case:
    """The applicant acknowledges the integrity notice (廉政告知书): no lowered standards, conditions or fees."""
    case = _locked(case)
    case_may(case, "request_acceptance", actor=actor)  # the applicant, while it prepares the request
    if case.integrity_acknowledged_at is None:
        case.integrity_acknowledged_at = timezone.now()
        case.save(update_fields=["integrity_acknowledged_at", "updated_at"])
        audit_record(actor=actor, action="case.integrity_acknowledged", target=case)
    return case


@transaction.atomic
def case_request_acceptance(*, actor, case: Case, explanation: str = "", now: dt.datetime | None = None) -> Case:
    """The applicant submits its acceptance request (验收申请) after the self-check, or its rectification —
    which says what was rectified (``explanation``, 整改说明)."""
    now = now or timezone.now()
    case = _locked(case)
    case_may(case, "request_acceptance", actor=actor)
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
    explanation = (explanation or "").strip()
    if case.stage == Stage.RECTIFICATION and not explanation:
        raise RuleViolation(Refusal(code="case.rectification_explanation", rule="", params={"field": "explanation"},
                                    message=_("Say what was rectified (the rectification explanation).")))
    if missing:
        raise _refuse("case.acceptance_incomplete",
                      _("The acceptance request still needs: %(missing)s.") % {"missing": pgettext("list separator", ", ").join(missing)})
    if explanation:
        row = _round_report(case)
        row.explanation = explanation
        row.save(update_fields=["explanation", "updated_at"])
    transition = rules.acceptance_transition(case.scheme_version.specification())
    return case_move(case, transition, actor=actor, action="case.request_acceptance",
                     fields={"acceptance_requested_at": now}, audit_after={"self_check_total": sheet.total})


@transaction.atomic
def case_designate_prechecker(*, actor, case: Case, prechecker) -> Case:
    """The bureau that pre-checks (the assessing bureau, or the city bureau it delegated the pre-check to)
    designates the professional who pre-checks the case."""
    case = _locked(case, stages=(Stage.PLANNED, Stage.PRECHECK, Stage.RECTIFICATION))
    bureau = case.prechecking_bureau
    require_bureau_staff(actor, bureau)
    if not rules.has_stage("precheck", scheme=case.scheme_version.specification()):
        raise _refuse("case.no_precheck", _("The case's scheme has no pre-check: no pre-checker is designated."))
    if not can(prechecker, PRECHECK_FOR_BUREAU, bureau):
        raise _refuse("case.not_a_prechecker", _("%(user)s is not a pre-checker of %(bureau)s.")
                      % {"user": prechecker, "bureau": bureau})
    before = case.prechecker_id
    case.prechecker = prechecker
    case.save(update_fields=["prechecker", "updated_at"])
    audit_record(actor=actor, action="case.designate_prechecker", target=case, before={"prechecker": before},
                 after={"prechecker": prechecker.pk})
    return case


def _delegated(case: Case) -> RuleViolation:
    return RuleViolation(Refusal(
        code="case.precheck_delegated", rule=_("Pre-check delegated (article 10)"),
        message=_("The pre-check of case %(ref)s is delegated to %(bureau)s: its pre-checker sends a written "
                  "result, on which the assessing bureau decides.") % {"ref": case.reference,
                                                                       "bureau": case.precheck_bureau},
    ))


def _known_opinions(case: Case, opinions: Mapping[str, str]) -> None:
    spec = case.scheme_version.specification()
    codes = {i.code for _c, i in spec.rubric_for(case.grade.code).items()}
    unknown = sorted(set(opinions) - codes)
    if unknown:
        raise _refuse("case.unknown_item", _("There is no item %(code)s in this rubric.") % {"code": unknown[0]})


@transaction.atomic
def case_precheck_delegate(*, actor, case: Case, now: dt.datetime | None = None) -> Case:
    """The province delegates the pre-check of a special-grade promotion to the city bureau of the
    institution's region (第十条: 省档案局委托市州级档案局…进行预检), instead of designating its own pre-checker.
    The city's staff then designate one of its pre-checkers, whose written result returns to the province
    with the materials; the province decides on it. The delegation holds for every round of the case."""
    now = now or timezone.now()
    case = _locked(case, stages=(Stage.PLANNED, Stage.PRECHECK, Stage.RECTIFICATION))
    require_bureau_staff(actor, case.bureau)
    if case.precheck_bureau_id is not None:
        raise _refuse("case.already_delegated", _("The pre-check of this case is already delegated to "
                                                  "%(bureau)s.") % {"bureau": case.precheck_bureau})
    level = rules.precheck_delegate_level(case.institution.level, case.grade.code, case.kind,
                                          scheme=case.scheme_version.specification())
    city = precheck_delegate(case.institution, level=level) if level is not None else None
    if city is None or city.pk == case.bureau_id:
        raise _refuse("case.not_delegable", _("The pre-check of this case cannot be delegated: the scheme lets the "
                                              "province delegate only that of a special-grade promotion of an "
                                              "institution below it, to the city bureau of its region."))
    if case.prechecker_id is not None:
        raise _refuse("case.prechecker_designated", _("%(user)s is already designated to pre-check this case.")
                      % {"user": case.prechecker}, _("Delegate the pre-check before designating a pre-checker."))
    case.precheck_bureau, case.precheck_delegated_at = city, now
    case.save(update_fields=["precheck_bureau", "precheck_delegated_at", "updated_at"])
    audit_record(actor=actor, action="case.precheck_delegate", target=case, after={"delegated_to": city.pk})
    return case


@transaction.atomic
def case_precheck_report(*, actor, case: Case, recommend_pass: bool, summary: str, opinions: Mapping[str, str],
                         attachment: UploadedFile | None = None, now: dt.datetime | None = None) -> Precheck:
    """The delegate city's designated pre-checker writes the pre-check's result (书面形式: the opinion, the
    opinions per item, whether it recommends passing, an optional signed copy), which returns to the
    province with the materials. The case stays at the pre-check until the province decides."""
    now = now or timezone.now()
    case = _locked(case, stages=(Stage.PRECHECK,))
    if case.precheck_bureau_id is None:
        raise _refuse("case.precheck_not_delegated", _("This pre-check is not delegated: the designated "
                                                       "pre-checker decides it."))
    if actor is None or case.prechecker_id != actor.pk:
        raise RuleViolation(Refusal(code="case.not_the_prechecker", rule=_("Case"),
                                    message=_("Only %(who)s may do this.") % {"who": _("the designated pre-checker")}))
    round_ = case.prechecks.count() + 1
    if case.prechecks.filter(decision=Precheck.Decision.REPORTED).exists():
        raise _refuse("case.precheck_reported", _("The written result of this round is already with the "
                                                  "assessing bureau."))
    summary = _need_reason(summary)
    _known_opinions(case, opinions)
    if attachment is not None:
        refusals = upload_refusals(attachment, field="attachment")
        if refusals:
            raise RuleViolation(*refusals)
    precheck = Precheck(case=case, round=round_, prechecker=actor, opinions=dict(opinions), summary=summary,
                        decision=Precheck.Decision.REPORTED, decided_at=now, reported_at=now,
                        delegated_to=case.precheck_bureau,
                        recommendation=Precheck.Decision.PASS if recommend_pass else Precheck.Decision.RETURN)
    if attachment is not None:
        precheck.attachment.save(attachment.name, attachment, save=False)
    precheck.save()
    audit_record(actor=actor, action="case.precheck_report", target=case, reason=summary, after={
        "round": round_, "delegated_to": case.precheck_bureau_id, "recommendation": precheck.recommendation,
        **({"attachment": precheck.attachment.name} if attachment is not None else {})})
    return precheck


@transaction.atomic
def case_precheck_decide_delegated(*, actor, case: Case, accepted: bool, reason: str, days: int | None = None,
                                   now: dt.datetime | None = None) -> Case:
    """The assessing bureau decides on the delegate's written result: it accepts it (the case goes on to the
    public notice) or returns the case for rectification by a deadline, with its reason."""
    now = now or timezone.now()
    case = _locked(case)
    spec = case.scheme_version.specification()
    transition = rules.precheck_pass_transition(spec) if accepted else "return_for_rectification"
    case_may(case, transition, actor=actor)
    precheck = case.prechecks.select_for_update().filter(decision=Precheck.Decision.REPORTED).first()
    if case.precheck_bureau_id is None or precheck is None:
        raise _refuse("case.no_written_result", _("There is no written pre-check result to decide on."),
                      _("Wait for the delegated city bureau's pre-checker to send it."))
    reason = _need_reason(reason)
    due = None if accepted else rules.rectification_deadline(now, days, scheme=spec)
    precheck.decision = Precheck.Decision.PASS if accepted else Precheck.Decision.RETURN
    precheck.decided_at, precheck.decided_by, precheck.rectification_due_at = now, actor, due
    precheck.decision_reason = reason
    precheck.save(update_fields=["decision", "decided_at", "decided_by", "rectification_due_at",
                                 "decision_reason", "updated_at"])
    return case_move(case, transition, actor=actor, action="case.precheck_pass" if accepted else
                     "case.precheck_return", reason=reason, fields={"rectification_due_at": due},
                     audit_after={"rectification_due_at": due, "round": precheck.round,
                                  "written_result_of": case.precheck_bureau_id})


@transaction.atomic
def case_precheck_decide(*, actor, case: Case, passed: bool, summary: str, opinions: Mapping[str, str],
                         days: int | None = None, now: dt.datetime | None = None) -> Case:
    """The designated pre-checker passes the case to the public notice, or returns it for rectification by
    a deadline (default: the scheme's rectification period). Each round's opinions are kept."""
    now = now or timezone.now()
    case = _locked(case)
    if case.precheck_bureau_id is not None:
        raise _delegated(case)
    spec = case.scheme_version.specification()
    transition = rules.precheck_pass_transition(spec) if passed else "return_for_rectification"
    case_may(case, transition, actor=actor)
    summary = _need_reason(summary)
    _known_opinions(case, opinions)
    due = None if passed else rules.rectification_deadline(now, days, scheme=spec)
    Precheck.objects.create(
        case=case, round=case.prechecks.count() + 1, prechecker=actor, opinions=dict(opinions), summary=summary,
        decision=Precheck.Decision.PASS if passed else Precheck.Decision.RETURN, decided_at=now,
        rectification_due_at=due,
    )
    return case_move(case, transition, actor=actor, action="case.precheck_pass" if passed else
                     "case.precheck_return", reason=summary, fields={"rectification_due_at": due},
                     audit_after={"rectification_due_at": due})


@transaction.atomic
def case_rectification_missed(*, case: Case, now: dt.datetime | None = None) -> bool:
    """Withdraw the case if its rectification deadline passed without a resubmission (the timer's action).
    Idempotent: a case already resubmitted, closed or not yet due is left alone. Returns whether it acted."""
    now = now or timezone.now()
    case = _locked(case)
    if case.outcome != Outcome.OPEN or case.stage != Stage.RECTIFICATION or not case.rectification_due_at:
        return False
    if now < case.rectification_due_at:
        return False
    with translation.override(settings.LANGUAGE_CODE):
        reason = _("The rectification deadline %(due)s passed without a resubmission.") % {
            "due": rules.deadline_text(case.rectification_due_at, scheme=case.scheme_version.specification())}
    case_move(case, "miss_rectification", actor=None, action="case.rectification_missed", reason=reason, now=now)
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
    spec = case.scheme_version.specification()
    # the acceptance request stands once the pre-check passed it, or, under a scheme without a pre-check, once
    # it was made
    accepted = (last_precheck is not None and last_precheck.decision == Precheck.Decision.PASS
                if rules.has_stage("precheck", scheme=spec) else case.acceptance_requested_at is not None)
    return [
        ("acceptance_request", _("Acceptance request"), self_check and accepted),
        ("application_form", _("Application-approval form"),
         self_check and bool(case.report) and review is not None and review.passed is True),
        ("assessment_form", _("Grade assessment form"),
         review is not None and review.passed is True
         and (case.sheets.filter(kind=SheetKind.PANEL).exists() or review.votes_for is not None)),
        ("notice_result", _("Result of the public notice"),
         (notice or not rules.has_stage("notice", scheme=spec)) and not pending),
        ("integrity_notice", _("Integrity notice"), case.integrity_acknowledged_at is not None),
    ]


@transaction.atomic
def case_approve(*, actor, case: Case, approved: bool, reasons: str) -> Case:
    """The assessing bureau's approver approves on the complete five-document basis, or refuses, with
    reasons. An approved recheck assessed below the province is filed with the bureau the rules name. Of two
    approvers acting at once, one decides and the other is told the case has moved on."""
    now = timezone.now()
    case = _locked(case)
    case_may(case, "approve" if approved else "refuse_approval", actor=actor)
    reasons = _need_reason(reasons)
    if approved:
        missing = [str(name) for _code, name, complete in approval_basis(case) if not complete]
        if missing:
            raise _refuse("case.basis_incomplete", _("The basis of approval is incomplete: %(missing)s.")
                          % {"missing": pgettext("list separator", ", ").join(missing)})
        awarded = awarded_grade(case)
        case_move(case, "approve", actor=actor, action="case.approve", reason=reasons,
                  fields={"outcome_reason": reasons, "approval_decided_at": now},
                  audit_after={"awarded_grade": awarded.code, **(
                      {"award_reason": case.review.award_reason} if awarded != case.grade else {})})
        documents_freeze_approval(actor=actor, case=case)
        case_file_within(actor=actor, case=case)  # a recheck the scheme files (备案): record, audit, told
        return case
    return case_move(case, "refuse_approval", actor=actor, action="case.refuse", reason=reasons,
                     fields={"approval_decided_at": now}, now=now)


@transaction.atomic
def case_issue_certificate(*, actor, case: Case, issued_on: dt.date | None = None):
    """The provincial certificate officer issues the approved case's certificate; the case is certified."""
    case = _locked(case)
    case_may(case, "certify", actor=actor)
    certificate = issue_within(actor=actor, institution=case.institution, grade=awarded_grade(case), kind=case.kind,
                               approved_by=case.bureau, issued_on=issued_on)
    case_move(case, "certify", actor=actor, action="case.certified", fields={"certificate": certificate},
              audit_after={"certificate": certificate.number})
    certificate_document_freeze_within(actor=actor, certificate=certificate, case=case)
    return certificate


def cases_withdraw_missed_rectifications(*, now: dt.datetime | None = None) -> int:
    """Withdraw every case whose rectification deadline passed without a resubmission (the beat sweep)."""
    now = now or timezone.now()
    due = Case.objects.filter(outcome=Outcome.OPEN, stage=Stage.RECTIFICATION, rectification_due_at__lte=now)
    return sum(case_rectification_missed(case=case, now=now) for case in due.order_by("rectification_due_at"))
