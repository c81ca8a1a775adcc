"""Forming the review panel (stage 6), changing its chair, and the chair's reminder to a late member."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules
from ..exceptions import Refusal, RuleViolation
from ..models import (
    Case,
    ConflictDeclaration,
    Expert,
    Outcome,
    Panel,
    PanelMember,
    ScoreSheet,
    SheetKind,
    Stage,
)
from ..permissions import require_bureau_staff
from ..selectors import institution_system, panel_candidates, system_head
from .audit import audit_record
from .cases import case_move


def _pools(case: Case) -> list:
    """The assessing bureau's pool first, then its higher bureaus' pools."""
    pools, bureau = [], case.bureau
    while bureau is not None:
        pools.append(bureau)
        bureau = bureau.parent
    return pools


def panel_case_facts(case: Case) -> rules.PanelCase:
    """What the panel rules read of the case: the applicant, every unit of its system (parents, subordinates,
    the rest of the tree) with how each stands to it, the grade and the pre-checker."""
    head = system_head(case.institution)
    return rules.PanelCase(institution_id=case.institution_id, system_id=head.pk if head else None,
                           grade=case.grade.code, prechecker_user_id=case.prechecker_id,
                           scheme=case.scheme_version.specification().code,
                           units=institution_system(case.institution))


def _refuse_by_hand(chosen: list[int], candidates: list, facts: rules.PanelCase, *, today, spec, low: int,
                    high: int) -> list[Refusal]:
    """Why the members the bureau chose by hand may not form this panel: a conflict of any of them (named),
    an expert outside the pools, higher pools used before the nearer ones are exhausted, the size."""
    by_id = {c.expert_id: c for c in candidates}
    refusals = []
    for pk in chosen:
        if pk in by_id:
            refusals += rules.expert_conflicts(by_id[pk], facts, today=today, scheme=spec)
        else:
            name = Expert.objects.filter(pk=pk).values_list("name", flat=True).first() or f"#{pk}"
            refusals.append(Refusal(code="panel.not_in_pool", rule=_("Panel"), message=_(
                "%(expert)s is not in the pools of the assessing bureau or its higher bureaus.") % {"expert": name},
                params={"expert": pk}))
    if not refusals:
        eligible = [c for c in candidates if not rules.expert_conflicts(c, facts, today=today, scheme=spec)]
        refusals += rules.pool_order_refusals([by_id[pk] for pk in chosen], eligible)
    if not low <= len(set(chosen)) <= high:
        refusals.append(Refusal(code="panel.size", rule=_("Panel size (article 10)"),
                                message=_("A panel for this case has %(min)d to %(max)d members.")
                                % {"min": low, "max": high}, params={"min": low, "max": high}))
    return refusals


@transaction.atomic
def panel_form(*, actor, case: Case, members: list[Expert] | None = None, chair: Expert | None = None,
               size: int | None = None, seed: int | None = None, now: dt.datetime | None = None,
               groups: Mapping[int, str] | None = None) -> Panel:
    """Form the panel: the system proposes members by a recorded draw (least loaded first, no conflict); the
    bureau may choose others within the rules. The chair is a member; the scoring deadline is set and every
    member gets a score sheet. Under a scheme that weights scorer groups, ``groups`` gives each member's group
    (expert pk → group code), and every group has a member."""
    now = now or timezone.now()
    case = Case.objects.select_for_update(of=("self",)).select_related("bureau__parent", "grade", "institution").get(
        pk=case.pk)
    require_bureau_staff(actor, case.bureau)
    if case.outcome != Outcome.OPEN or case.stage != Stage.PANEL or hasattr(case, "panel"):
        raise RuleViolation(Refusal(code="panel.not_at_this_stage", rule=_("Panel"),
                                    message=_("This case is not waiting for its panel.")))
    spec = case.scheme_version.specification()
    facts = panel_case_facts(case)
    candidates = panel_candidates(pools=_pools(case))
    seed = secrets.randbits(48) if seed is None else seed
    today = rules.local_date(now, scheme=spec)
    level = dict(bureau_level=case.bureau.level, institution_level=case.institution.level)
    proposal = rules.propose_panel(candidates, facts, seed=seed, today=today, size=size, scheme=spec, **level)
    if members is None:
        chosen = list(proposal.members)
    else:
        chosen = [m.pk for m in members]
        low, high = rules.panel_size(case.bureau.level, case.institution.level, case.grade.code, scheme=spec)
        refusals = _refuse_by_hand(chosen, candidates, facts, today=today, spec=spec, low=low, high=high)
        if refusals:
            raise RuleViolation(*refusals)
    chair_id = chair.pk if chair is not None else chosen[0]
    if chair_id not in chosen:
        raise RuleViolation(Refusal(code="panel.chair_not_member", rule=_("Panel"),
                                    message=_("The chair is one of the members.")))
    groups = {int(k): v for k, v in (groups or {}).items()}
    group_refusals = rules.scorer_group_refusals([groups.get(pk, "") for pk in chosen], scheme=spec)
    if group_refusals:
        raise RuleViolation(*group_refusals)
    panel = Panel.objects.create(case=case, seed=seed, proposed=list(proposal.members), formed_at=now,
                                 formed_by=actor, scoring_due_at=rules.panel_scoring_deadline(now, scheme=spec))
    for pk in chosen:
        PanelMember.objects.create(panel=panel, expert_id=pk, is_chair=pk == chair_id, group=groups.get(pk, ""))
        ScoreSheet.objects.create(case=case, kind=SheetKind.MEMBER, expert_id=pk)
    case_move(case, "form_panel", actor=actor, action="panel.form", now=now, audit_after={
        "members": chosen, "chair": chair_id, "seed": seed,
        **({"groups": {str(pk): groups[pk] for pk in chosen}} if spec.panel.groups else {}),
        "proposed": list(proposal.members), "excluded": {str(k): v for k, v in proposal.excluded.items()},
        # the draw's inputs, so that it can be replayed later, when loads have changed
        "loads": {str(c.expert_id): c.load for c in candidates},
        "scoring_due_at": panel.scoring_due_at})
    return panel


def panel_candidates_for(case: Case) -> list:
    """The experts of the pools a panel for this case is drawn from (the bureau's, then its higher bureaus')."""
    return panel_candidates(pools=_pools(case))


@transaction.atomic
def panel_change_chair(*, actor, case: Case, chair: Expert, reason: str) -> PanelMember:
    """The bureau names another member as chair (e.g. the chair turns out to be conflicted), with a reason."""
    case = Case.objects.select_for_update(of=("self",)).select_related("bureau").get(pk=case.pk)
    require_bureau_staff(actor, case.bureau)
    if case.outcome != Outcome.OPEN or case.stage != Stage.REVIEW:
        raise RuleViolation(Refusal(code="panel.not_under_review", rule=_("Panel"),
                                    message=_("The chair can be changed only while the panel reviews the case.")))
    if not (reason or "").strip():
        raise RuleViolation(Refusal(code="panel.reason_required", rule=_("Panel"), message=_("A reason is required.")))
    members = {m.expert_id: m for m in PanelMember.objects.select_for_update().filter(panel__case=case).active()}
    new = members.get(chair.pk)
    if new is None:
        raise RuleViolation(Refusal(code="panel.chair_not_member", rule=_("Panel"),
                                    message=_("The chair is one of the members.")))
    old = next((m for m in members.values() if m.is_chair), None)
    if old is not None and old.pk == new.pk:
        raise RuleViolation(Refusal(code="panel.same_chair", rule=_("Panel"),
                                    message=_("%(expert)s already chairs the panel.") % {"expert": chair}))
    if old is not None:
        PanelMember.objects.filter(pk=old.pk).update(is_chair=False, updated_at=timezone.now())
    PanelMember.objects.filter(pk=new.pk).update(is_chair=True, updated_at=timezone.now())
    audit_record(actor=actor, action="panel.change_chair", target=case,
                 before={"chair": old.expert_id if old else None}, after={"chair": chair.pk}, reason=reason.strip())
    new.refresh_from_db()
    return new


# --- The recusal declaration (回避声明) --------------------------------------------------------------------------
def _seat(actor, member: PanelMember) -> PanelMember:
    """The member's seat under its row lock, for the member themself, while the panel reviews the case."""
    member = PanelMember.objects.select_for_update(of=("self",)).select_related(
        "panel__case__institution", "expert").get(pk=member.pk)
    if actor is None or member.expert.user_id is None or member.expert.user_id != actor.pk:
        raise RuleViolation(Refusal(code="recusal.not_yours", rule=_("Recusal declaration"),
                                    message=_("Only the member signs their own recusal declaration.")))
    if member.conflict_declared_at is not None or member.archived_at is not None:
        raise RuleViolation(Refusal(code="recusal.conflict_declared", rule=_("Recusal declaration"),
                                    message=_("%(expert)s declared a conflict of interest with this case and left "
                                              "its panel.") % {"expert": member.expert}))
    case = member.panel.case
    if case.outcome != Outcome.OPEN or case.stage != Stage.REVIEW:
        raise RuleViolation(Refusal(code="recusal.not_in_review", rule=_("Recusal declaration"),
                                    message=_("The panel of case %(ref)s is not reviewing it.")
                                    % {"ref": case.reference}))
    return member


@transaction.atomic
def panel_member_sign_recusal(*, actor, member: PanelMember, now: dt.datetime | None = None) -> PanelMember:
    """The member signs online that nothing obliges them to recuse themself from this case (回避声明); only then
    do they see the case's materials and their score sheet. The moment is kept (it is printed on the panel
    roster) and audited. Signing again changes nothing."""
    now = now or timezone.now()
    member = _seat(actor, member)
    if member.recusal_declared_at is not None:
        return member
    member.recusal_declared_at = now
    member.save(update_fields=["recusal_declared_at", "updated_at"])
    audit_record(actor=actor, action="panel.recusal_sign", target=member.panel.case,
                 after={"member": member.pk, "expert": member.expert.name, "signed_at": now})
    return member


@transaction.atomic
def panel_member_declare_conflict(*, actor, member: PanelMember, reason: str,
                                  now: dt.datetime | None = None) -> PanelMember:
    """Instead of signing, the member declares a conflict of interest with the applicant, with a reason: the
    conflict is recorded (the expert is never proposed for this applicant again), the seat is archived (it
    leaves the chair, if it held it) and the bureau must name a replacement (``panel_replace_member``)."""
    now = now or timezone.now()
    member = _seat(actor, member)
    if member.recusal_declared_at is not None:
        raise RuleViolation(Refusal(
            code="recusal.already_signed", rule=_("Recusal declaration"),
            message=_("%(expert)s signed the recusal declaration of this case on %(when)s.")
            % {"expert": member.expert, "when": timezone.localtime(member.recusal_declared_at).strftime(
                "%Y-%m-%d %H:%M")},
            satisfy=_("Ask the bureau that formed the panel.")))
    if not (reason or "").strip():
        raise RuleViolation(Refusal(code="recusal.reason_required", rule=_("Recusal declaration"),
                                    message=_("Give the reason for the conflict of interest.")))
    case = member.panel.case
    was_chair = member.is_chair
    member.conflict_declared_at = member.archived_at = now
    member.is_chair = False
    member.save(update_fields=["conflict_declared_at", "archived_at", "is_chair", "updated_at"])
    ConflictDeclaration.objects.get_or_create(expert=member.expert, institution=case.institution, archived_at=None,
                                              defaults={"reason": reason.strip()})
    audit_record(actor=actor, action="panel.recusal_conflict", target=case, reason=reason.strip(),
                 after={"member": member.pk, "expert": member.expert.name, "was_chair": was_chair})
    return member


@transaction.atomic
def panel_replace_member(*, actor, case: Case, member: PanelMember, expert: Expert,
                         now: dt.datetime | None = None) -> PanelMember:
    """The bureau names the replacement of a member who declared a conflict of interest, or who cannot sign in
    (an expert without an account: the seat's tasks would have no owner). The replacement is
    held to the same rules as the panel's forming (no conflict, the nearer pools first); it takes the seat's
    score sheet (blank: its member never saw it) and scoring task, and the chair if the panel has none."""
    now = now or timezone.now()
    case = Case.objects.select_for_update(of=("self",)).select_related("bureau__parent", "grade", "institution").get(
        pk=case.pk)
    require_bureau_staff(actor, case.bureau)
    if case.outcome != Outcome.OPEN or case.stage != Stage.REVIEW:
        raise RuleViolation(Refusal(code="panel.not_under_review", rule=_("Panel"),
                                    message=_("A member can be replaced only while the panel reviews the case.")))
    old = PanelMember.objects.select_for_update(of=("self",)).select_related("expert", "panel").filter(
        pk=member.pk, panel__case=case).first()
    if old is None or not member_replaceable(old):
        raise RuleViolation(Refusal(code="panel.replace_not_recused", rule=_("Panel"),
                                    message=_("Only a member who declared a conflict of interest, or who has no "
                                              "account to sign in with, is replaced.")))
    if old.replaced_by_id is not None:
        raise RuleViolation(Refusal(code="panel.already_replaced", rule=_("Panel"),
                                    message=_("%(expert)s was already replaced.") % {"expert": old.expert}))
    if PanelMember.objects.filter(panel=old.panel, expert=expert).exists():
        raise RuleViolation(Refusal(code="panel.already_member", rule=_("Panel"),
                                    message=_("%(expert)s sits or sat on this panel.") % {"expert": expert}))
    if expert.user_id is None:
        raise RuleViolation(Refusal(code="panel.no_account", rule=_("Panel"),
                                    message=_("%(expert)s has no account to sign in with.") % {"expert": expert},
                                    satisfy=_("Give the expert an account first.")))
    spec = case.scheme_version.specification()
    facts = panel_case_facts(case)
    today = rules.local_date(now, scheme=spec)
    candidates = panel_candidates(pools=_pools(case))
    seated = list(PanelMember.objects.active().filter(panel=old.panel).values_list("expert_id", flat=True))
    size = len(seated) + 1
    refusals = _refuse_by_hand([*seated, expert.pk], candidates, facts, today=today, spec=spec, low=size, high=size)
    refusals = [r for r in refusals if r.params.get("expert") in (None, expert.pk)]  # the others were admitted
    if refusals:
        raise RuleViolation(*refusals)
    has_chair = PanelMember.objects.active().filter(panel=old.panel, is_chair=True).exists()
    new = PanelMember.objects.create(panel=old.panel, expert=expert, is_chair=not has_chair)
    old.replaced_by = new
    old.save(update_fields=["replaced_by", "updated_at"])
    sheet = ScoreSheet.objects.select_for_update().filter(case=case, kind=SheetKind.MEMBER, expert=old.expert).first()
    if sheet is not None and (sheet.submitted_at is not None or sheet.lines.exists()):
        raise RuleViolation(Refusal(code="panel.sheet_started", rule=_("Panel"),
                                    message=_("The score sheet of %(expert)s is not blank.") % {"expert": old.expert}))
    if sheet is not None:
        sheet.expert = expert
        sheet.save(update_fields=["expert", "updated_at"])
    else:
        ScoreSheet.objects.create(case=case, kind=SheetKind.MEMBER, expert=expert)
    audit_record(actor=actor, action="panel.replace_member", target=case,
                 before={"member": old.pk, "expert": old.expert.name},
                 after={"member": new.pk, "expert": expert.name, "chair": new.is_chair})
    return new


def member_replaceable(member: PanelMember) -> bool:
    """Whether the bureau may replace ``member``: it declared a conflict of interest, or its expert has no
    account (it could never score), and it was not replaced already."""
    return member.replaced_by_id is None and (member.conflict_declared_at is not None or member.expert.user_id is None)


def members_without_account(experts) -> list:
    """The experts among ``experts`` who have no account to sign in with: on a panel, their seat's tasks would
    have no owner (the bureau is warned when it forms the panel, and may replace them)."""
    return [e for e in experts if e.user_id is None]


@transaction.atomic
def panel_member_reassign(*, actor, case: Case, member: PanelMember) -> PanelMember:
    """The bureau gives a seat's open tasks to the account its expert signs in with now (an account linked
    after the panel was formed, or changed): audited; the flow's side is ``workflows.actions``."""
    case = Case.objects.select_for_update(of=("self",)).select_related("bureau").get(pk=case.pk)
    require_bureau_staff(actor, case.bureau)
    if case.outcome != Outcome.OPEN or case.stage != Stage.REVIEW:
        raise RuleViolation(Refusal(code="panel.not_under_review", rule=_("Panel"),
                                    message=_("A member's tasks can be reassigned only while the panel reviews "
                                              "the case.")))
    seat = PanelMember.objects.active().select_related("expert__user").filter(pk=member.pk, panel__case=case).first()
    if seat is None:
        raise RuleViolation(Refusal(code="panel.not_a_member", rule=_("Panel"),
                                    message=_("This member does not sit on the case's panel.")))
    if seat.expert.user_id is None:
        raise RuleViolation(Refusal(code="panel.no_account", rule=_("Panel"),
                                    message=_("%(expert)s has no account to sign in with.") % {"expert": seat.expert},
                                    satisfy=_("Give the expert an account first, or replace the member.")))
    audit_record(actor=actor, action="panel.reassign_tasks", target=case,
                 after={"member": seat.pk, "expert": seat.expert.name, "user": seat.expert.user_id})
    return seat


@transaction.atomic(durable=True)
def panel_member_nudge(*, actor, member: PanelMember, now: dt.datetime | None = None) -> PanelMember:
    """The chair reminds one late member to submit their scores, at most once a day per member (the day
    is kept on the member, checked under its row lock). The member is told through the audit entry."""
    now = now or timezone.now()
    member = PanelMember.objects.select_for_update().select_related("panel__case", "expert").get(pk=member.pk)
    case = member.panel.case
    if not member.panel.memberships.filter(is_chair=True, expert__user=actor).exists():
        raise RuleViolation(Refusal(code="nudge.not_chair", rule=_("Review panel"),
                                    message=_("Only the chair of the panel may remind its members.")))
    if case.outcome != Outcome.OPEN or case.stage != Stage.REVIEW:
        raise RuleViolation(Refusal(code="nudge.not_in_review", rule=_("Review panel"),
                                    message=_("The panel of case %(ref)s is not scoring.") % {"ref": case.reference}))
    if member.expert.user_id is None or member.expert.user_id == actor.pk:
        raise RuleViolation(Refusal(code="nudge.no_one_to_remind", rule=_("Review panel"),
                                    message=_("This member cannot be reminded here.")))
    if case.sheets.filter(kind=SheetKind.MEMBER, expert=member.expert, submitted_at__isnull=False).exists():
        raise RuleViolation(Refusal(code="nudge.submitted", rule=_("Review panel"),
                                    message=_("%(member)s has submitted their scores.") % {"member": member.expert}))
    day = rules.local_date(now, scheme=case.scheme_version.specification())
    if member.last_nudged_on == day:
        raise RuleViolation(Refusal(code="nudge.already_today", rule=_("Review panel"),
                                    message=_("%(member)s was already reminded today.") % {"member": member.expert},
                                    satisfy=_("Try again tomorrow.")))
    member.last_nudged_on = day
    member.save(update_fields=["last_nudged_on", "updated_at"])
    audit_record(actor=actor, action="panel.nudge", target=member, after={"case": case.reference})
    return member
