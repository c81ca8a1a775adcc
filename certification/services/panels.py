"""Forming the review panel (stage 6), changing its chair, and the chair's reminder to a late member."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules
from ..exceptions import Refusal, RuleViolation
from ..models import Case, Expert, Outcome, Panel, PanelMember, ScoreSheet, SheetKind, Stage
from ..permissions import require_bureau_staff
from ..selectors import panel_candidates, system_head
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
    head = system_head(case.institution)
    return rules.PanelCase(institution_id=case.institution_id, system_id=head.pk if head else None,
                           grade=case.grade.code, prechecker_user_id=case.prechecker_id)


@transaction.atomic
def panel_form(*, actor, case: Case, members: list[Expert] | None = None, chair: Expert | None = None,
               size: int | None = None, seed: int | None = None, now: dt.datetime | None = None) -> Panel:
    """Form the panel: the system proposes members by a recorded draw (least loaded first, no conflict); the
    bureau may choose others within the rules. The chair is a member; the scoring deadline is set and every
    member gets a score sheet."""
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
        by_id = {c.expert_id: c for c in candidates}
        refusals = [r for pk in chosen for r in (
            rules.expert_conflicts(by_id[pk], facts, today=today, scheme=spec) if pk in by_id else [Refusal(
                code="panel.not_in_pool", rule=_("Panel"), message=_("This expert is not in the pools of the "
                                                                     "assessing bureau or its higher bureaus."),
                params={"expert": pk})])]
        if not low <= len(set(chosen)) <= high:
            refusals.append(Refusal(code="panel.size", rule=_("Panel size (article 10)"),
                                    message=_("A panel for this case has %(min)d to %(max)d members.")
                                    % {"min": low, "max": high}, params={"min": low, "max": high}))
        if refusals:
            raise RuleViolation(*refusals)
    chair_id = chair.pk if chair is not None else chosen[0]
    if chair_id not in chosen:
        raise RuleViolation(Refusal(code="panel.chair_not_member", rule=_("Panel"),
                                    message=_("The chair is one of the members.")))
    panel = Panel.objects.create(case=case, seed=seed, proposed=list(proposal.members), formed_at=now,
                                 formed_by=actor, scoring_due_at=rules.panel_scoring_deadline(now, scheme=spec))
    for pk in chosen:
        PanelMember.objects.create(panel=panel, expert_id=pk, is_chair=pk == chair_id)
        ScoreSheet.objects.create(case=case, kind=SheetKind.MEMBER, expert_id=pk)
    case_move(case, "form_panel", actor=actor, action="panel.form", now=now, audit_after={
        "members": chosen, "chair": chair_id, "seed": seed,
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
    members = {m.expert_id: m for m in PanelMember.objects.select_for_update().filter(panel__case=case)}
    new = members.get(chair.pk)
    if new is None:
        raise RuleViolation(Refusal(code="panel.chair_not_member", rule=_("Panel"),
                                    message=_("The chair is one of the members.")))
    old = next((m for m in members.values() if m.is_chair), None)
    if old is not None and old.pk == new.pk:
        raise RuleViolation(Refusal(code="panel.same_chair", rule=_("Panel"),
                                    message=_("%(expert)s already chairs the panel.") % {"expert": chair}))
    if old is not None:
        PanelMember.objects.filter(pk=old.pk).update(is_chair=False)
    PanelMember.objects.filter(pk=new.pk).update(is_chair=True)
    audit_record(actor=actor, action="panel.change_chair", target=case,
                 before={"chair": old.expert_id if old else None}, after={"chair": chair.pk}, reason=reason.strip())
    new.refresh_from_db()
    return new


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
