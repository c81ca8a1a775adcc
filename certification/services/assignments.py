"""Which rubric items each panel member scores (DESIGN §3.5): the system proposes a split by category,
balanced by points (``scoring.propose_assignment``); the chair confirms or changes it. Until the chair
confirms a split, every member scores every item; a scheme with ``panel.every_member_scores_every_item``
admits no other split."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .. import scoring
from ..exceptions import Refusal, RuleViolation
from ..models import Case, Expert, ItemAssignment, PanelMember, ScoreLine, ScoreSheet, SheetKind
from .audit import audit_record
from .review import _case_in_review, _need_chair


def _refuse(code: str, message: str, satisfy: str = "", **params) -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Item assignment"), message=message, satisfy=satisfy,
                                 params=params))


def _join(codes: Iterable[str]) -> str:
    return pgettext("list separator", ", ").join(codes)


def rubric_codes(case: Case) -> list[str]:
    spec = case.scheme_version.specification()
    return [item.code for _c, item in spec.rubric_for(case.grade.code).items()]


def assignment_proposal(case: Case) -> dict[int, list[str]]:
    """The system's split for the case's panel: expert id → item codes (members in the order they joined)."""
    spec = case.scheme_version.specification()
    experts = list(PanelMember.objects.filter(panel__case=case).order_by("pk").values_list("expert_id", flat=True))
    return scoring.propose_assignment(spec.rubric_for(case.grade.code), experts,
                                      every_member_scores_every_item=spec.panel.every_member_scores_every_item)


def assignment_stored(case: Case) -> ItemAssignment | None:
    return ItemAssignment.objects.filter(panel__case=case).first()


def assignment_current(case: Case) -> dict[int, list[str]]:
    """Expert id → the items that member scores: the chair's split, or every item while there is none."""
    stored = assignment_stored(case)
    experts = PanelMember.objects.filter(panel__case=case).order_by("pk").values_list("expert_id", flat=True)
    if stored is None:
        codes = rubric_codes(case)
        return {pk: list(codes) for pk in experts}
    return {pk: list(stored.items.get(str(pk), ())) for pk in experts}


def member_items(case: Case, expert: Expert | int) -> list[str]:
    """The item codes ``expert`` scores on this case's panel (rubric order)."""
    pk = expert if isinstance(expert, int) else expert.pk
    stored = assignment_stored(case)
    return rubric_codes(case) if stored is None else list(stored.items.get(str(pk), ()))


@transaction.atomic
def assignment_set(*, actor, case: Case, items: Mapping[int, Iterable[str]] | None = None) -> ItemAssignment:
    """The chair confirms the system's split (``items`` None) or sets another: expert id → item codes. Every
    item is scored by at least one member; where the scheme says so, every member scores every item. A
    member's share cannot change once their sheet is submitted (the chair reopens it first), nor drop an
    item they have already scored. Audited with the proposal and the split before."""
    case = _case_in_review(case)
    _need_chair(actor, case)
    if case.sheets.filter(kind=SheetKind.PANEL).exists():
        raise _refuse("assignment.consolidated", _("The panel's score is already recorded."))
    spec = case.scheme_version.specification()
    codes = rubric_codes(case)
    proposal = assignment_proposal(case)
    members = list(proposal)
    chosen = {pk: list(v) for pk, v in proposal.items()} if items is None else {
        int(pk): [str(c) for c in v] for pk, v in items.items()}
    strangers = sorted(set(chosen) - set(members))
    if strangers:
        raise _refuse("assignment.not_a_member", _("Only the panel's members are assigned items."),
                      experts=strangers)
    order = {code: n for n, code in enumerate(codes)}
    unknown = sorted({c for v in chosen.values() for c in v} - set(codes))
    if unknown:
        raise _refuse("assignment.unknown_item", _("There is no item %(code)s in this rubric.")
                      % {"code": _join(unknown)}, items=unknown)
    chosen = {pk: sorted(set(chosen.get(pk, ())), key=order.__getitem__) for pk in members}
    refusals = []
    uncovered = [c for c in codes if not any(c in v for v in chosen.values())]
    if uncovered:
        refusals.append(Refusal(code="assignment.items_uncovered", rule=_("Item assignment"),
                                message=_("No member scores these items: %(items)s.") % {"items": _join(uncovered)},
                                satisfy=_("Give each item to at least one member."), params={"items": uncovered}))
    names = dict(Expert.objects.filter(pk__in=members).values_list("pk", "name"))
    if spec.panel.every_member_scores_every_item:
        short = [pk for pk in members if chosen[pk] != codes]
        if short:
            refusals.append(Refusal(
                code="assignment.every_member_every_item", rule=_("Item assignment"),
                message=_("This scheme has every member score every item: %(members)s would not.")
                % {"members": _join(names[pk] for pk in short)}, params={"experts": short,
                                                                          "field": f"items_{short[0]}"}))
    before = assignment_current(case)
    sheets = {s.expert_id: s for s in ScoreSheet.objects.filter(case=case, kind=SheetKind.MEMBER)
              .order_by("round")}  # the latest round of each member's sheet
    scored: dict[int, set[str]] = {}
    for expert_id, code in ScoreLine.objects.filter(sheet__in=list(sheets.values())).values_list(
            "sheet__expert_id", "item_code"):
        scored.setdefault(expert_id, set()).add(code)
    for pk in members:
        sheet = sheets.get(pk)
        if sheet is not None and sheet.locked and chosen[pk] != before.get(pk, []):
            refusals.append(Refusal(
                code="assignment.sheet_submitted", rule=_("Item assignment"),
                message=_("%(member)s has submitted their sheet: their items cannot change.") % {"member": names[pk]},
                satisfy=_("Reopen the sheet first, with a reason."), params={"expert": pk, "field": f"items_{pk}"}))
            continue
        dropped = sorted(scored.get(pk, set()) - set(chosen[pk]), key=order.__getitem__)
        if dropped:
            refusals.append(Refusal(
                code="assignment.already_scored", rule=_("Item assignment"),
                message=_("%(member)s has already scored items %(items)s: they stay with that member.")
                % {"member": names[pk], "items": _join(dropped)}, params={"expert": pk, "items": dropped,
                                                                         "field": f"items_{pk}"}))
    if refusals:
        raise RuleViolation(*refusals)
    stored = ItemAssignment.objects.select_for_update().filter(panel=case.panel).first()
    payload = {str(pk): v for pk, v in chosen.items()}
    if stored is None:
        stored = ItemAssignment.objects.create(panel=case.panel, items=payload,
                                               proposed={str(pk): v for pk, v in proposal.items()},
                                               assigned_at=timezone.now(), assigned_by=actor)
    else:
        stored.items, stored.assigned_at, stored.assigned_by = payload, timezone.now(), actor
        stored.save(update_fields=["items", "assigned_at", "assigned_by", "updated_at"])
    audit_record(actor=actor, action="review.assign", target=case,
                 before={str(pk): v for pk, v in before.items()},
                 after={"items": payload, "proposal": {str(pk): v for pk, v in proposal.items()},
                        "as_proposed": chosen == proposal})
    return stored
