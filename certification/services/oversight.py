"""Oversight (第九条: 上级档案局可随机对下级档案局组织的考评工作进行抽查; 第十二条: 限期整改 … 整改不落实的，
中止考评权限; DESIGN §4.1). Every write of a spot-check round, its findings, its rectification orders and a
bureau's suspension and reinstatement: each under a row lock, checking who acts, audited in its transaction.

The draw is recorded and replayable: the round keeps the candidate cases (their keys, per bureau, sorted) and
the seed; :func:`round_replay` draws again from them and gets the same cases."""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import Refusal, RuleViolation
from ..models import (
    Bureau,
    BureauConclusion,
    Case,
    Finding,
    Outcome,
    Sampling,
    Selection,
    SpotCheckItem,
    SpotCheckRound,
    Stage,
    Suspension,
    Violation,
)
from ..permissions import WORK_IN_BUREAU, require
from ..selectors import bureaus_below, oversight_candidates, prechecker_candidates
from ..uploads import upload_refusals
from .audit import audit_record, audit_record_many

#: Reminders of a rectification order's deadline, in days before it (as for the other deadlines).
ORDER_REMINDER_DAYS = (7, 1)
#: The case fields a suspended bureau's running cases pass to its higher bureau.
AUTHORITY_FIELDS = ("bureau", "planning_bureau", "forwarding_bureau", "filing_bureau")


def _refuse(code: str, message: str, *, field: str = "") -> RuleViolation:
    """A refusal of the oversight rules; ``field`` names the form field it is shown beside."""
    return RuleViolation(Refusal(code=code, rule=_("Oversight"), message=message,
                                 params={"field": field} if field else {}))


def _require_higher(actor, checking: Bureau, checked: Iterable[Bureau]) -> None:
    """The actor is staff of ``checking``, and every bureau of ``checked`` lies below it."""
    require(actor, WORK_IN_BUREAU, checking,
            message=_("Only the staff of %(bureau)s may do this.") % {"bureau": checking})
    below = set(bureaus_below([checking.pk]))
    for bureau in checked:
        if bureau.pk not in below:
            raise _refuse("oversight.not_below", _("%(bureau)s is not below %(checking)s.") % {
                "bureau": bureau, "checking": checking})


# --- Plan and draw ---------------------------------------------------------------------------------------
@transaction.atomic
def round_plan(*, actor, bureau: Bureau, year: int, scope: list[Bureau], sampling: str = Sampling.RATE,
               sample_rate: Decimal | None = None, sample_count: int | None = None,
               selection: str = Selection.RANDOM, selection_reason: str = "", inspector=None) -> SpotCheckRound:
    """A higher bureau plans a round over the closed cases of ``year`` of the bureaus of ``scope``."""
    if not scope:
        raise _refuse("oversight.no_scope", _("Choose at least one bureau to check."), field="scope")
    _require_higher(actor, bureau, scope)
    if sampling == Sampling.RATE and (sample_rate is None or not Decimal("0") < sample_rate <= Decimal("100")):
        raise _refuse("oversight.rate", _("The sampling rate is a percentage above 0 and at most 100."), field="sample_rate")
    if sampling == Sampling.COUNT and (sample_count is None or sample_count < 1):
        raise _refuse("oversight.count", _("Draw at least one case per bureau."), field="sample_count")
    if selection == Selection.MANUAL and not selection_reason.strip():
        raise _refuse("oversight.reason", _("Cases chosen by hand need a reason."), field="selection_reason")
    found = SpotCheckRound.objects.create(
        bureau=bureau, year=year, sampling=sampling,
        sample_rate=sample_rate if sampling == Sampling.RATE else None,
        sample_count=sample_count if sampling == Sampling.COUNT else None,
        selection=selection, selection_reason=selection_reason.strip(), planned_by=actor,
        inspector=inspector or actor)
    found.scope.set(scope)
    audit_record(actor=actor, action="oversight.plan", target=found, after={
        "year": year, "scope": sorted(b.pk for b in scope), "sampling": sampling,
        "sample_rate": sample_rate, "sample_count": sample_count, "selection": selection},
        reason=found.selection_reason)
    return found


def sample_size(round_: SpotCheckRound, available: int) -> int:
    """How many of ``available`` closed cases of one bureau the round draws (a share rounds up: a bureau with
    closed cases always has at least one checked)."""
    if round_.sampling == Sampling.COUNT:
        wanted = round_.sample_count or 0
    else:
        wanted = math.ceil(Decimal(available) * (round_.sample_rate or 0) / 100)
    return min(available, wanted)


def draw_from(candidates: Mapping[str, list[int]], *, seed: str, sizes: Mapping[str, int]) -> list[tuple[int, int]]:
    """The cases a seed draws: per bureau (in key order), ``sizes[bureau]`` of its sorted candidates, drawn by
    a generator seeded with the round's seed and the bureau's key. Pure: the same input draws the same cases.
    Returns [(bureau key, case key)] in the order drawn."""
    drawn = []
    for bureau in sorted(candidates, key=int):
        pool = sorted(candidates[bureau])
        picks = random.Random(f"{seed}:{bureau}").sample(pool, sizes.get(bureau, 0))  # noqa: S311 - a draw, not a secret
        drawn += [(int(bureau), pk) for pk in picks]
    return drawn


@transaction.atomic
def round_draw(*, actor, round_: SpotCheckRound, chosen: list[int] | None = None,
               seed: str | None = None) -> SpotCheckRound:
    """Draw the round's cases from the closed cases of its year of the bureaus in scope. ``selection`` random:
    by a fresh seed (recorded); by hand: the ``chosen`` cases, each one a candidate."""
    round_ = SpotCheckRound.objects.select_for_update().get(pk=round_.pk)
    _require_higher(actor, round_.bureau, [])
    if round_.status != SpotCheckRound.Status.PLANNED:
        raise _refuse("oversight.drawn", _("The cases of this round are already drawn."))
    scope = list(round_.scope.all())
    candidates = oversight_candidates(scope, year=round_.year)
    by_bureau = {str(b.pk): [pk for pk, bureau in candidates if bureau == b.pk] for b in scope}
    if round_.selection == Selection.MANUAL:
        keys = {pk: bureau for pk, bureau in candidates}
        if not chosen:
            raise _refuse("oversight.none_chosen", _("Choose the cases to check."), field="chosen")
        strangers = [pk for pk in chosen if pk not in keys]
        if strangers:
            raise _refuse("oversight.not_candidate", _("Only closed cases of the year of the bureaus in scope can "
                                                       "be chosen."), field="chosen")
        drawn = [(keys[pk], pk) for pk in dict.fromkeys(chosen)]
        round_.seed = ""
    else:
        round_.seed = seed or secrets.token_hex(16)
        sizes = {b: sample_size(round_, len(pks)) for b, pks in by_bureau.items()}
        drawn = draw_from(by_bureau, seed=round_.seed, sizes=sizes)
    if not drawn:
        raise _refuse("oversight.nothing_to_draw", _("The bureaus in scope closed no case in %(year)s.") % {
            "year": round_.year})
    SpotCheckItem.objects.bulk_create([SpotCheckItem(round=round_, case_id=pk, bureau_id=bureau, position=n)
                                       for n, (bureau, pk) in enumerate(drawn, 1)])
    round_.candidates = by_bureau
    round_.status = SpotCheckRound.Status.DRAWN
    round_.drawn_at = timezone.now()
    round_.save(update_fields=["seed", "candidates", "status", "drawn_at", "updated_at"])
    audit_record(actor=actor, action="oversight.draw", target=round_, after={
        "seed": round_.seed, "selection": round_.selection, "candidates": by_bureau,
        "drawn": [pk for _bureau, pk in drawn]}, reason=round_.selection_reason)
    return round_


def round_replay(round_: SpotCheckRound) -> list[int]:
    """The cases the round's recorded seed draws from its recorded candidates (the cases drawn, for a
    random round): anyone can check the draw."""
    if round_.selection == Selection.MANUAL:
        return list(round_.items.order_by("position").values_list("case_id", flat=True))
    candidates = round_.candidates or {}
    sizes = {b: sample_size(round_, len(pks)) for b, pks in candidates.items()}
    return [pk for _bureau, pk in draw_from(candidates, seed=round_.seed, sizes=sizes)]


# --- Inspection and findings -----------------------------------------------------------------------------
def _drawn(item: SpotCheckItem, actor) -> SpotCheckItem:
    item = SpotCheckItem.objects.select_for_update(of=("self",)).select_related("round__bureau").get(pk=item.pk)
    _require_higher(actor, item.round.bureau, [])
    if item.round.status != SpotCheckRound.Status.DRAWN:
        raise _refuse("oversight.not_inspecting", _("This round is not being inspected."))
    return item


@transaction.atomic
def finding_record(*, actor, item: SpotCheckItem, violation: str, description: str) -> Finding:
    """The inspector records a rule the drawn case's assessment broke (第十三条), with what shows it."""
    item = _drawn(item, actor)
    if violation not in Violation.values:
        raise _refuse("oversight.violation", _("Choose the rule broken."), field="violation")
    if not description.strip():
        raise _refuse("oversight.description", _("Say what in the file shows it."), field="description")
    finding = Finding.objects.create(item=item, violation=violation, description=description.strip(),
                                     recorded_by=actor)
    audit_record(actor=actor, action="oversight.finding", target=item.round, after={
        "case": item.case_id, "bureau": item.bureau_id, "violation": violation}, reason=finding.description)
    return finding


@transaction.atomic
def item_inspected(*, actor, item: SpotCheckItem) -> SpotCheckItem:
    """The inspector has read the drawn case's file (with or without findings)."""
    item = _drawn(item, actor)
    if item.inspected_at is None:
        item.inspected_at, item.inspected_by = timezone.now(), actor
        item.save(update_fields=["inspected_at", "inspected_by", "updated_at"])
        audit_record(actor=actor, action="oversight.inspected", target=item.round,
                     after={"case": item.case_id, "findings": item.findings.count()})
    return item


# --- Conclusion per bureau, and the rectification order ----------------------------------------------------
@transaction.atomic
def round_conclude_bureau(*, actor, round_: SpotCheckRound, bureau: Bureau, compliant: bool,
                          requirements: str = "", due_at: dt.datetime | None = None,
                          now: dt.datetime | None = None) -> BureauConclusion:
    """Conclude the round on one bureau in scope, once every case drawn from it is inspected: compliant, or a
    rectification order with what to rectify and a deadline. The round is concluded with its last bureau."""
    now = now or timezone.now()
    round_ = SpotCheckRound.objects.select_for_update().get(pk=round_.pk)
    _require_higher(actor, round_.bureau, [bureau])
    if round_.status != SpotCheckRound.Status.DRAWN:
        raise _refuse("oversight.not_inspecting", _("This round is not being inspected."))
    if not round_.scope.filter(pk=bureau.pk).exists():
        raise _refuse("oversight.not_in_scope", _("%(bureau)s is not in this round.") % {"bureau": bureau})
    if round_.items.filter(bureau=bureau, inspected_at__isnull=True).exists():
        raise _refuse("oversight.uninspected", _("Inspect every case drawn from %(bureau)s first.") % {
            "bureau": bureau})
    if round_.conclusions.filter(bureau=bureau).exists():
        raise _refuse("oversight.concluded", _("This bureau is already concluded in this round."))
    if not compliant:
        if not requirements.strip():
            raise _refuse("oversight.requirements", _("Say what the bureau must rectify."), field="requirements")
        if due_at is None or due_at <= now:
            raise _refuse("oversight.due", _("The deadline must be in the future."), field="due_at")
    Result, Status = BureauConclusion.Result, BureauConclusion.Status
    conclusion = BureauConclusion.objects.create(
        round=round_, bureau=bureau, result=Result.COMPLIANT if compliant else Result.RECTIFY,
        status=Status.COMPLIANT if compliant else Status.OPEN, requirements=requirements.strip(),
        due_at=None if compliant else due_at, concluded_by=actor)
    audit_record(actor=actor, action="oversight.conclude" if compliant else "oversight.order", target=conclusion,
                 after={"result": conclusion.result, "due_at": conclusion.due_at}, reason=conclusion.requirements)
    if not round_.scope.exclude(pk__in=round_.conclusions.values("bureau_id")).exists():
        round_.status, round_.concluded_at = SpotCheckRound.Status.CONCLUDED, now
        round_.save(update_fields=["status", "concluded_at", "updated_at"])
        audit_record(actor=actor, action="oversight.round_concluded", target=round_,
                     after={"status": round_.status})
    return conclusion


def _order(order: BureauConclusion) -> BureauConclusion:
    return BureauConclusion.objects.select_for_update(of=("self",)).select_related(
        "round__bureau", "bureau").get(pk=order.pk)


@transaction.atomic
def order_answer(*, actor, order: BureauConclusion, measures: str, evidence: UploadedFile | None = None,
                 now: dt.datetime | None = None) -> BureauConclusion:
    """The lower bureau answers the order with its measures (and evidence) before the deadline."""
    now = now or timezone.now()
    order = _order(order)
    require(actor, WORK_IN_BUREAU, order.bureau,
            message=_("Only the staff of %(bureau)s may do this.") % {"bureau": order.bureau})
    if order.status != BureauConclusion.Status.OPEN:
        raise _refuse("oversight.not_open", _("This order is not waiting for an answer."))
    if order.due_at <= now:
        raise _refuse("oversight.late", _("The deadline of this order has passed."))
    if not measures.strip():
        raise _refuse("oversight.measures", _("Describe the measures taken."), field="measures")
    if evidence is not None:
        refusals = upload_refusals(evidence, field="evidence")
        if refusals:
            raise RuleViolation(*refusals)
        order.evidence.save(evidence.name, evidence, save=False)
    order.measures, order.answered_at, order.answered_by = measures.strip(), now, actor
    order.status = BureauConclusion.Status.ANSWERED
    order.save()
    audit_record(actor=actor, action="oversight.answer", target=order, before={"status": "open"},
                 after={"status": order.status, "evidence": bool(order.evidence)}, reason=order.measures)
    return order


@transaction.atomic
def order_decide(*, actor, order: BureauConclusion, accepted: bool, reason: str) -> BureauConclusion:
    """The checking bureau accepts the answer, or not (with a reason)."""
    order = _order(order)
    _require_higher(actor, order.round.bureau, [order.bureau])
    if order.status != BureauConclusion.Status.ANSWERED:
        raise _refuse("oversight.not_answered", _("This order has no answer to decide on."))
    if not reason.strip():
        raise _refuse("oversight.reason", _("Give the reason for the decision."), field="reason")
    Status = BureauConclusion.Status
    order.status = Status.ACCEPTED if accepted else Status.REJECTED
    order.decision_reason, order.decided_at, order.decided_by = reason.strip(), timezone.now(), actor
    order.save(update_fields=["status", "decision_reason", "decided_at", "decided_by", "updated_at"])
    audit_record(actor=actor, action="oversight.decide", target=order, before={"status": Status.ANSWERED},
                 after={"status": order.status}, reason=order.decision_reason)
    return order


def orders_overdue(*, now: dt.datetime | None = None) -> int:
    """Orders whose deadline passed without an answer are marked overdue (set-based; the checking bureau and
    the bureau are told). Idempotent: an order marked stays marked."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(BureauConclusion.objects.select_for_update().filter(
            status=BureauConclusion.Status.OPEN, due_at__lte=now))
        if not due:
            return 0
        BureauConclusion.objects.filter(pk__in=[o.pk for o in due]).update(
            status=BureauConclusion.Status.OVERDUE, updated_at=now)
        audit_record_many(actor=None, action="oversight.overdue", targets=due, before={"status": "open"},
                          after={"status": "overdue"}, reason=_("The deadline passed without an answer."))
    return len(due)


def order_reminders_due(*, now: dt.datetime | None = None) -> int:
    """Remind the bureau of an open order's deadline 7 days and 1 day before, each once."""
    now = now or timezone.now()
    sent = 0
    for days in ORDER_REMINDER_DAYS:
        with transaction.atomic():
            orders = [o for o in BureauConclusion.objects.select_for_update().filter(
                status=BureauConclusion.Status.OPEN, due_at__gt=now, due_at__lte=now + dt.timedelta(days=days))
                if days not in (o.reminded or [])]
            for order in orders:
                order.reminded = sorted({*(order.reminded or []), days})
                order.save(update_fields=["reminded", "updated_at"])
            audit_record_many(actor=None, action="oversight.remind", targets=orders,
                              after={"days": days})
            sent += len(orders)
    return sent


# --- Suspension and reinstatement ----------------------------------------------------------------------------
def _authority_holder(bureau: Bureau) -> Bureau:
    """Where a suspended bureau's authority goes: its nearest higher bureau not itself suspended."""
    holder = bureau.parent
    while holder.authority_suspended and holder.parent_id is not None:
        holder = holder.parent
    return holder


@transaction.atomic
def bureau_suspend(*, actor, bureau: Bureau, checking: Bureau, reason: str,
                   order: BureauConclusion | None = None, now: dt.datetime | None = None) -> Suspension:
    """Suspend ``bureau``'s authority (第十二条), by the staff of a bureau above it, with a reason. Where it
    follows an order, the order was not accepted or its deadline passed. The bureau's running cases pass to
    its higher bureau (recorded on the suspension and audited per case); new declarations go there too
    (``selectors.assessing_bureau``) until reinstatement."""
    now = now or timezone.now()
    bureau = Bureau.objects.select_for_update().get(pk=bureau.pk)
    _require_higher(actor, checking, [bureau])
    if bureau.parent_id is None:
        raise _refuse("oversight.province", _("The province's authority is not suspended here."))
    if not reason.strip():
        raise _refuse("oversight.reason", _("Give the reason for the suspension."), field="reason")
    if bureau.authority_suspended:
        raise _refuse("oversight.suspended", _("%(bureau)s is already suspended.") % {"bureau": bureau})
    if order is not None:
        order = _order(order)
        Status = BureauConclusion.Status
        if order.bureau_id != bureau.pk:
            raise _refuse("oversight.other_order", _("This order is not to that bureau."))
        late = order.status == Status.OPEN and order.due_at <= now
        if order.status not in (Status.REJECTED, Status.OVERDUE) and not late:
            raise _refuse("oversight.order_running", _(
                "A bureau is suspended on an order only once its answer is not accepted or its deadline has "
                "passed."))
    holder = _authority_holder(bureau)
    moved = _cases_pass_to(bureau, holder, actor=actor, reason=reason)
    bureau.authority_suspended, bureau.suspended_at, bureau.suspension_reason = True, now, reason.strip()
    bureau.save(update_fields=["authority_suspended", "suspended_at", "suspension_reason", "updated_at"])
    suspension = Suspension.objects.create(bureau=bureau, order=order, reason=reason.strip(), suspended_at=now,
                                           suspended_by=actor, cases_moved=moved)
    if order is not None:
        order.status = BureauConclusion.Status.SUSPENDED
        order.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="oversight.suspend", target=bureau, before={"authority_suspended": False},
                 after={"authority_suspended": True, "to": holder.pk, "cases": moved, "suspension": suspension.pk,
                        "order": order.pk if order else None}, reason=suspension.reason)
    return suspension


def _cases_pass_to(bureau: Bureau, holder: Bureau, *, actor, reason: str) -> list[int]:
    """The running cases of ``bureau`` pass to ``holder`` (every authority field naming it; a pre-check
    delegated to it goes back to the assessing bureau). One audit entry per case."""
    running = Case.objects.select_for_update().filter(outcome=Outcome.OPEN)
    moved: set[int] = set()
    for field in AUTHORITY_FIELDS:
        pks = list(running.filter(**{f"{field}_id": bureau.pk}).values_list("pk", flat=True))
        Case.objects.filter(pk__in=pks).update(**{field: holder})
        moved.update(pks)
    delegated = list(running.filter(precheck_bureau_id=bureau.pk).values_list("pk", flat=True))
    Case.objects.filter(pk__in=delegated).update(precheck_bureau=None, precheck_delegated_at=None)
    moved.update(delegated)
    cases = list(Case.objects.filter(pk__in=moved).select_related("bureau", "precheck_bureau").order_by("pk"))
    audit_record_many(actor=actor, action="case.authority_passed", targets=cases,
                      before={"bureau": bureau.pk}, after={"bureau": holder.pk}, reason=reason)
    _prechecker_released(cases, actor=actor, reason=reason)
    return [c.pk for c in cases]


#: The stages in which a case's designated pre-checker still has the pre-check to do.
PRECHECK_STAGES = (Stage.PLANNED, Stage.PRECHECK, Stage.RECTIFICATION)


def _prechecker_released(cases: list[Case], *, actor, reason: str) -> None:
    """A case that passed up before its pre-check ended loses a designated pre-checker who does not pre-check
    for the bureau that now pre-checks it: that bureau's staff designate one of their own (the case page says
    so). Audited per case, with the pre-checker it had. Queries: one per bureau and one per pre-checker."""
    waiting = [c for c in cases if c.stage in PRECHECK_STAGES and c.prechecker_id is not None]
    allowed: dict[int, set[int]] = {}
    released: dict[int, list[Case]] = {}
    for case in waiting:
        checking = case.prechecking_bureau
        if checking.pk not in allowed:
            allowed[checking.pk] = set(prechecker_candidates(checking).values_list("pk", flat=True))
        if case.prechecker_id not in allowed[checking.pk]:
            released.setdefault(case.prechecker_id, []).append(case)
    for prechecker, targets in released.items():
        Case.objects.filter(pk__in=[c.pk for c in targets]).update(prechecker=None, updated_at=timezone.now())
        audit_record_many(actor=actor, action="case.prechecker_released", targets=targets,
                          before={"prechecker": prechecker}, after={"prechecker": None}, reason=reason)


@transaction.atomic
def bureau_reinstate(*, actor, bureau: Bureau, checking: Bureau, reason: str) -> Suspension:
    """Reinstate a suspended bureau's authority, with a reason: new declarations come to it again; the cases
    passed to the higher bureau stay there (DESIGN §3.3; README, Decisions)."""
    bureau = Bureau.objects.select_for_update().get(pk=bureau.pk)
    _require_higher(actor, checking, [bureau])
    suspension = Suspension.objects.select_for_update().filter(bureau=bureau, reinstated_at__isnull=True).first()
    if not bureau.authority_suspended or suspension is None:
        raise _refuse("oversight.not_suspended", _("%(bureau)s is not suspended.") % {"bureau": bureau})
    if not reason.strip():
        raise _refuse("oversight.reason", _("Give the reason for the reinstatement."), field="reason")
    suspension.reinstated_at, suspension.reinstated_by = timezone.now(), actor
    suspension.reinstatement_reason = reason.strip()
    suspension.save(update_fields=["reinstated_at", "reinstated_by", "reinstatement_reason", "updated_at"])
    bureau.authority_suspended, bureau.suspended_at, bureau.suspension_reason = False, None, ""
    bureau.save(update_fields=["authority_suspended", "suspended_at", "suspension_reason", "updated_at"])
    audit_record(actor=actor, action="oversight.reinstate", target=bureau, before={"authority_suspended": True},
                 after={"authority_suspended": False, "suspension": suspension.pk}, reason=suspension.reinstatement_reason)
    return suspension
