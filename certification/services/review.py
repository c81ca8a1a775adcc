"""The panel's review (stage 7): members score in parallel, the chair records the six on-site steps,
consolidates the proposals (合议) and concludes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .. import scoring
from ..exceptions import Refusal, RuleViolation
from ..models import Case, OnsiteStep, Outcome, PanelMember, Review, ScoreLine, ScoreSheet, SheetKind, Stage
from .audit import audit_record
from .cases import case_move


def _refuse(code: str, message: str, satisfy: str = "", **params) -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Review"), message=message, satisfy=satisfy, params=params))


def _case_in_review(case: Case) -> Case:
    case = Case.objects.select_for_update(of=("self",)).select_related("grade", "panel").get(pk=case.pk)
    if case.outcome != Outcome.OPEN or case.stage != Stage.REVIEW:
        raise _refuse("review.not_at_this_stage", _("This case is not under review."))
    return case


def _need_chair(actor, case: Case) -> PanelMember:
    chair = PanelMember.objects.filter(panel__case=case, is_chair=True, expert__user=actor).first()
    if actor is None or chair is None:
        raise _refuse("review.not_the_chair", _("Only the chair of the panel may do this."))
    return chair


def member_sheets_visible(user, case: Case) -> list[ScoreSheet]:
    """What a member may see: their own sheet, and the others' only once their own is submitted."""
    sheets = list(case.sheets.filter(kind=SheetKind.MEMBER).select_related("expert").order_by("pk"))
    own = [s for s in sheets if s.expert.user_id == getattr(user, "pk", None)]
    if not own:
        return []
    if not own[0].locked:
        return own
    return [s for s in sheets if s.locked or s is own[0]]


@transaction.atomic
def sheet_reopen(*, actor, sheet: ScoreSheet, reason: str) -> ScoreSheet:
    """The chair reopens a member's submitted sheet, with a reason that is kept."""
    sheet = ScoreSheet.objects.select_for_update(of=("self",)).select_related("case").get(pk=sheet.pk)
    case = _case_in_review(sheet.case)
    _need_chair(actor, case)
    if sheet.kind != SheetKind.MEMBER or not sheet.locked:
        raise _refuse("review.not_submitted", _("Only a submitted member's sheet can be reopened."))
    if not (reason or "").strip():
        raise _refuse("review.reason_required", _("A reason is required."))
    before = {"submitted_at": sheet.submitted_at, "total": sheet.total}
    sheet.submitted_at = sheet.submitted_by = sheet.total = None
    sheet.save(update_fields=["submitted_at", "submitted_by", "total", "updated_at"])
    audit_record(actor=actor, action="sheet.reopen", target=sheet, before=before, after={"submitted_at": None},
                 reason=reason.strip())
    return sheet


@transaction.atomic
def review_record_step(*, actor, case: Case, step: str, note: str = "") -> Review:
    """The chair records one of the six on-site steps."""
    case = _case_in_review(case)
    _need_chair(actor, case)
    if step not in OnsiteStep.values:
        raise ValueError(f"unknown step {step!r}")
    review, _created = Review.objects.get_or_create(case=case)
    review.steps = {**review.steps, step: {"at": timezone.now().isoformat(), "note": note.strip()}}
    review.save(update_fields=["steps", "updated_at"])
    audit_record(actor=actor, action="review.step", target=case, after={"step": step, "note": note.strip()})
    return review


@transaction.atomic
def panel_consolidate(*, actor, case: Case, scores: Mapping[str, Decimal] | None = None,
                      reasons: Mapping[str, str] | None = None, vetoes: Iterable[str] = ()) -> ScoreSheet:
    """The chair records the panel's score per item (合议). Each item is prefilled with the mean of the
    members' proposals; items whose proposals differ by more than the scheme's share of the item's maximum
    are flagged; every departure from the prefill needs a reason. The panel's sheet is then locked."""
    scores, reasons = dict(scores or {}), dict(reasons or {})
    case = _case_in_review(case)
    _need_chair(actor, case)
    spec = case.scheme_version.specification()
    rubric = spec.rubric_for(case.grade.code)
    members = list(case.sheets.filter(kind=SheetKind.MEMBER))
    if not members or any(not s.locked for s in members):
        raise _refuse("review.sheets_pending", _("Every member submits their sheet before the consolidation."))
    if case.sheets.filter(kind=SheetKind.PANEL).exists():
        raise _refuse("review.already_consolidated", _("The panel's score is already recorded."))
    proposals: dict[str, list[Decimal]] = {}
    for line in ScoreLine.objects.filter(sheet__in=members):
        proposals.setdefault(line.item_code, []).append(line.points)
    uncovered = [i.code for _c, i in rubric.items() if i.code not in proposals]
    if uncovered:
        raise _refuse("review.items_uncovered", _("No member scored these items: %(items)s.")
                      % {"items": pgettext("list separator", ", ").join(uncovered)}, items=uncovered)
    lines, unexplained = [], []
    for _category, item in rubric.items():
        consolidation = scoring.consolidate_item(proposals[item.code], item.max_points, scheme=spec)
        chosen = scoring.q(Decimal(str(scores.get(item.code, consolidation.prefill))))
        reason = (reasons.get(item.code) or "").strip()
        if chosen != consolidation.prefill and not reason:
            unexplained.append(item.code)
        lines.append((item.code, chosen, {
            "prefill": str(consolidation.prefill), "flagged": consolidation.flagged, "reason": reason,
            "proposals": [str(p) for p in proposals[item.code]]}))
    if unexplained:
        raise _refuse("review.departure_unexplained", _("Give the reason for each score that departs from the "
                                                        "members' mean: %(items)s.")
                      % {"items": pgettext("list separator", ", ").join(unexplained)}, items=unexplained)
    try:
        assessment = scoring.assess_points({code: pts for code, pts, _e in lines}, vetoes=vetoes,
                                           rubric=spec.grade(case.grade.code).rubric, scheme=spec)
    except ValueError as exc:
        raise _refuse("review.bad_score", _("A score or veto is out of range."), detail=str(exc)) from None
    sheet = ScoreSheet.objects.create(case=case, kind=SheetKind.PANEL, submitted_at=timezone.now(),
                                      submitted_by=actor, total=assessment.total)
    ScoreLine.objects.bulk_create(ScoreLine(sheet=sheet, item_code=code, points=pts, entry=entry)
                                  for code, pts, entry in lines)
    review, _created = Review.objects.get_or_create(case=case)
    review.vetoes = sorted(set(vetoes))
    review.save(update_fields=["vetoes", "updated_at"])
    audit_record(actor=actor, action="review.consolidate", target=case, after={
        "total": assessment.total, "vetoes": review.vetoes,
        "departures": {code: entry["reason"] for code, _p, entry in lines if entry["reason"]},
        "flagged": [code for code, _p, entry in lines if entry["flagged"]]})
    return sheet


@transaction.atomic
def review_conclude(*, actor, case: Case, conclusion: str, votes_for: int | None = None) -> Review:
    """The chair records the conclusion once the six steps are recorded: a score-decided grade passes by
    the scheme's rules on the panel's score; the special grade by the members' vote (two thirds)."""
    case = _case_in_review(case)
    _need_chair(actor, case)
    spec = case.scheme_version.specification()
    review, _created = Review.objects.get_or_create(case=case)
    missing = [s.label for s in OnsiteStep if s.value not in review.steps]
    if missing:
        raise _refuse("review.steps_missing", _("Record the on-site steps first: %(steps)s.")
                      % {"steps": pgettext("list separator", ", ").join(str(m) for m in missing)})
    if not (conclusion or "").strip():
        raise _refuse("review.conclusion_required", _("Write the panel's conclusion."))
    panel_sheet = case.sheets.filter(kind=SheetKind.PANEL).first()
    grade = spec.grade(case.grade.code)
    if grade.decision == "onsite":
        if votes_for is None:
            raise _refuse("review.vote_required", _("The special grade is decided by the members' vote."))
        passed = scoring.onsite_passes(votes_for, case.panel.memberships.count(), scheme=spec)
    else:
        if panel_sheet is None:
            raise _refuse("review.not_consolidated", _("Record the panel's score first."))
        points = {line.item_code: line.points for line in panel_sheet.lines.all()}
        passed = scoring.assess_points(points, vetoes=review.vetoes, rubric=grade.rubric,
                                       scheme=spec).passes(grade.code)
    review.passed, review.votes_for, review.conclusion = passed, votes_for, conclusion.strip()
    review.concluded_at, review.concluded_by = timezone.now(), actor
    review.save(update_fields=["passed", "votes_for", "conclusion", "concluded_at", "concluded_by", "updated_at"])
    case_move(case, "pass_review" if passed else "fail_review", actor=actor, action="review.conclude",
              reason=review.conclusion, audit_after={"passed": passed, "votes_for": votes_for,
                                                     "total": panel_sheet.total if panel_sheet else None})
    return review


@transaction.atomic
def sheet_overdue(*, member: PanelMember, now=None) -> bool:
    """The scoring deadline passed and this member's sheet is not in (the timer's action): recorded, so that
    the member, the chair and the bureau are told. Idempotent: a submitted sheet, or one already recorded as
    overdue, is left alone. Returns whether it recorded anything."""
    now = now or timezone.now()
    sheet = (ScoreSheet.objects.select_for_update(of=("self",)).select_related("case__panel")
             .filter(case=member.panel.case_id, kind=SheetKind.MEMBER, expert=member.expert_id)
             .order_by("-round").first())
    if sheet is None or sheet.locked or sheet.overdue_at is not None or now < sheet.case.panel.scoring_due_at:
        return False
    sheet.overdue_at = now
    sheet.save(update_fields=["overdue_at", "updated_at"])
    audit_record(actor=None, action="sheet.overdue", target=sheet,
                 after={"scoring_due_at": sheet.case.panel.scoring_due_at, "expert": member.expert_id})
    return True


@dataclass(frozen=True)
class ConsolidationRow:
    code: str
    name: str
    max_points: Decimal
    proposals: tuple[Decimal, ...]
    prefill: Decimal | None
    flagged: bool


def consolidation_preview(case: Case) -> list[ConsolidationRow]:
    """What the chair sees before consolidating: per item, the members' proposals, the prefill (their mean)
    and whether they differ too much (the same rule as panel_consolidate, scoring.consolidate_item)."""
    spec = case.scheme_version.specification()
    proposals: dict[str, list[Decimal]] = {}
    for line in ScoreLine.objects.filter(sheet__case=case, sheet__kind=SheetKind.MEMBER,
                                         sheet__submitted_at__isnull=False).order_by("sheet_id"):
        proposals.setdefault(line.item_code, []).append(line.points)
    rows = []
    for _category, item in spec.rubric_for(case.grade.code).items():
        found = proposals.get(item.code, [])
        consolidation = scoring.consolidate_item(found, item.max_points, scheme=spec) if found else None
        rows.append(ConsolidationRow(item.code, item.name, item.max_points, tuple(found),
                                     consolidation.prefill if consolidation else None,
                                     bool(consolidation and consolidation.flagged)))
    return rows


@transaction.atomic
def review_draw_units(*, actor, case: Case, seed: int | None = None) -> list:
    """For a grade decided on site (special), the chair draws at random the subordinate units the panel
    visits (the scheme's ``onsite_sample_units``, or all of them when fewer). The seed and the units drawn from
    are recorded, so that the draw can be replayed. Drawn once."""
    import random
    import secrets

    from ..models import Institution

    case = _case_in_review(case)
    _need_chair(actor, case)
    spec = case.scheme_version.specification()
    if spec.grade(case.grade.code).decision != "onsite":
        raise _refuse("review.no_unit_draw", _("Only a grade decided on site visits subordinate units."))
    review, _created = Review.objects.get_or_create(case=case)
    if review.units_drawn:
        raise _refuse("review.units_already_drawn", _("The subordinate units to visit are already drawn."))
    pool = list(Institution.objects.active().filter(parent=case.institution).order_by("pk")
                .values_list("pk", flat=True))
    if not pool:
        raise _refuse("review.no_subordinate_units", _("The institution has no subordinate unit on record."))
    seed = secrets.randbits(48) if seed is None else seed
    drawn = sorted(random.Random(seed).sample(pool, min(spec.panel.onsite_sample_units, len(pool))))
    review.units_drawn = {"seed": seed, "units": drawn, "pool": pool, "at": timezone.now().isoformat()}
    review.save(update_fields=["units_drawn", "updated_at"])
    audit_record(actor=actor, action="review.draw_units", target=case, after=review.units_drawn)
    return list(Institution.objects.filter(pk__in=drawn).order_by("pk"))
