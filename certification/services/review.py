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
from ..models import (
    Case,
    Grade,
    OnsiteStep,
    Outcome,
    PanelMember,
    Review,
    ScoreLine,
    ScoreSheet,
    SheetKind,
    Stage,
)
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


def review_steps_missing(case: Case) -> list:
    """The on-site steps not yet recorded, in their order (the one place that says what "all six" means)."""
    review = Review.objects.filter(case=case).first()
    recorded = review.steps if review else {}
    return [s for s in OnsiteStep if s.value not in recorded]


def _refuse_missing_steps(case: Case) -> None:
    missing = review_steps_missing(case)
    if missing:
        raise _refuse("review.steps_missing", _("Record the on-site steps first: %(steps)s.")
                      % {"steps": pgettext("list separator", ", ").join(str(m.label) for m in missing)},
                      steps=[m.value for m in missing])


@transaction.atomic
def review_record_step(*, actor, case: Case, step: str, note: str = "") -> Review:
    """The chair records one of the six on-site steps, in their order (第十条 四 (三)): a step is recorded once
    the steps before it are. A step already recorded may be recorded again (its note corrected)."""
    case = _case_in_review(case)
    _need_chair(actor, case)
    if step not in OnsiteStep.values:
        raise _refuse("review.unknown_step", _("There is no such on-site step."), step=step, field="step")
    review, _created = Review.objects.get_or_create(case=case)
    earlier = list(OnsiteStep)[:OnsiteStep.values.index(step)]
    skipped = [s for s in earlier if s.value not in review.steps]
    if skipped:
        raise _refuse("review.steps_out_of_order", _("Record the on-site steps in their order: first %(steps)s.")
                      % {"steps": pgettext("list separator", ", ").join(str(s.label) for s in skipped)},
                      steps=[s.value for s in skipped], field="step")
    review.steps = {**review.steps, step: {"at": timezone.now().isoformat(), "note": note.strip()}}
    review.save(update_fields=["steps", "updated_at"])
    audit_record(actor=actor, action="review.step", target=case, after={"step": step, "note": note.strip()})
    return review


@transaction.atomic
def review_onsite_done(*, actor, case: Case) -> Review:
    """The chair closes the on-site record: refused until the six steps are recorded."""
    case = _case_in_review(case)
    _need_chair(actor, case)
    _refuse_missing_steps(case)
    return Review.objects.get(case=case)


@dataclass(frozen=True)
class Finding:
    """One member's veto or failed key sub-criterion, as the chair sees it: who, and why."""

    member: str
    reason: str


def _member_lines(case: Case):
    """The lines of the submitted member sheets (each member's latest round), with the member's name."""
    return (ScoreLine.objects.filter(sheet__case=case, sheet__kind=SheetKind.MEMBER,
                                     sheet__submitted_at__isnull=False)
            .select_related("sheet__expert").order_by("sheet_id", "pk"))


def member_findings(case: Case) -> tuple[dict[str, list[Finding]], dict[str, list[Finding]]]:
    """What the members recorded that the chair's consolidation starts from: per item with a veto, the members
    who confirmed it and why; per key sub-criterion (``"<item>.<sub>"``), the members who found it failed and
    why. The panel's prefill is their union."""
    rubric = case.scheme_version.specification().rubric_for(case.grade.code)
    items = {item.code: item for _c, item in rubric.items()}
    vetoes: dict[str, list[Finding]] = {}
    keys: dict[str, list[Finding]] = {}
    for line in _member_lines(case):
        item = items.get(line.item_code)
        if item is None:
            continue
        entry = scoring.entry_from_dict(line.entry)
        name = line.sheet.expert.name
        if entry.veto and item.veto is not None:
            vetoes.setdefault(item.code, []).append(Finding(name, entry.veto_reason))
        for sub in scoring.failed_key_sub_criteria(item, entry):
            why = entry.reason or next((d.reason for d in entry.deductions if d.element == sub and d.reason), "")
            keys.setdefault(f"{item.code}.{sub}", []).append(Finding(name, why))
    return vetoes, keys


def _explained_choice(*, chosen: Iterable[str] | None, prefill: Iterable[str], known: Iterable[str],
                      reasons: Mapping[str, str], field: str, code: str, message_drop: str, message_add: str,
                      findings: Mapping[str, list[Finding]]) -> tuple[list[str], dict[str, str], list[Refusal]]:
    """The chair's set against the members' prefill: every addition and every removal needs its reason."""
    prefill = set(prefill)
    chosen_set = set(prefill if chosen is None else chosen)
    order = {c: n for n, c in enumerate(known)}
    stray = sorted(chosen_set - set(order))
    if stray:
        raise _refuse("review.bad_score", _("A score or veto is out of range."), detail=f"unknown: {stray}")
    departures, refusals = {}, []
    for c in sorted(chosen_set ^ prefill, key=order.__getitem__):
        why = (reasons.get(c) or "").strip()
        if why:
            departures[c] = why
            continue
        if c in prefill:
            who = pgettext("list separator", ", ").join(f.member for f in findings.get(c, ()))
            message = message_drop % {"code": c, "members": who}
        else:
            message = message_add % {"code": c}
        refusals.append(Refusal(code=code, rule=_("Review"), message=message,
                                params={"item": c, "field": f"{field}_{c}"}))
    return sorted(chosen_set, key=order.__getitem__), departures, refusals


@transaction.atomic
def panel_consolidate(*, actor, case: Case, scores: Mapping[str, Decimal] | None = None,
                      reasons: Mapping[str, str] | None = None, vetoes: Iterable[str] | None = None,
                      veto_reasons: Mapping[str, str] | None = None, key_failures: Iterable[str] | None = None,
                      key_reasons: Mapping[str, str] | None = None) -> ScoreSheet:
    """The chair records the panel's score per item (合议). Each item is prefilled from the members'
    proposals — their mean, or under the scheme's ``mean`` / ``trimmed_mean`` aggregation that formula, which
    then is the panel's score (the chair does not depart from it); items whose proposals differ by more than
    the scheme's share of the item's maximum are flagged. The panel's vetoes and failed key sub-criteria are
    prefilled with every one a member recorded (``None`` keeps the prefill). Every departure from a prefill
    needs a reason, and is logged. The panel's sheet is then locked."""
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
    groups: dict[str, list[str]] = {}
    group_of = member_groups(case)
    for line in ScoreLine.objects.filter(sheet__in=members).select_related("sheet"):
        proposals.setdefault(line.item_code, []).append(line.points)
        groups.setdefault(line.item_code, []).append(group_of.get(line.sheet.expert_id, ""))
    uncovered = [i.code for _c, i in rubric.items() if i.code not in proposals]
    if uncovered:
        raise _refuse("review.items_uncovered", _("No member scored these items: %(items)s.")
                      % {"items": pgettext("list separator", ", ").join(uncovered)}, items=uncovered)
    formula = spec.panel.aggregation in FORMULAS
    lines, refusals = [], []
    for _category, item in rubric.items():
        try:
            consolidation = scoring.consolidate_item(proposals[item.code], item.max_points, scheme=spec,
                                                     groups=groups[item.code])
        except ValueError as exc:
            raise _refuse("review.groups_incomplete", _("Item %(code)s: every scorer group scores each item under "
                                                        "this scheme's weighted aggregation.") % {"code": item.code},
                          detail=str(exc)) from None
        chosen = scoring.q(Decimal(str(scores.get(item.code, consolidation.prefill))))
        reason = (reasons.get(item.code) or "").strip()
        if chosen != consolidation.prefill:
            if formula:
                refusals.append(Refusal(
                    code="review.formula_aggregation", rule=_("Review"),
                    message=_("Item %(code)s: this scheme sets the panel's score by formula (%(formula)s); it "
                              "cannot be changed.") % {"code": item.code, "formula": aggregation_label(spec)},
                    satisfy=_("To correct a member's proposal, reopen their sheet."),
                    params={"item": item.code, "field": f"score_{item.code}"}))
            elif not reason:
                refusals.append(Refusal(
                    code="review.departure_unexplained", rule=_("Review"),
                    message=_("Give the reason for each score that departs from the members' mean: %(items)s.")
                    % {"items": item.code}, params={"items": [item.code], "field": f"reason_{item.code}"}))
        lines.append((item.code, chosen, {
            "prefill": str(consolidation.prefill), "flagged": consolidation.flagged, "reason": reason,
            "proposals": [str(p) for p in proposals[item.code]]}))
    found_vetoes, found_keys = member_findings(case)
    veto_items = [item.code for _c, item in rubric.items() if item.veto is not None]
    panel_vetoes, veto_departures, more = _explained_choice(
        chosen=vetoes, prefill=found_vetoes, known=veto_items, reasons=veto_reasons or {}, field="veto_reason",
        code="review.veto_departure_unexplained", findings=found_vetoes,
        message_drop=_("Item %(code)s: %(members)s recorded a veto; give the reason for dropping it."),
        message_add=_("Item %(code)s: give the reason for confirming a veto no member recorded."))
    refusals += more
    key_codes = [f"{item.code}.{sub}" for item, sub in scoring.key_sub_criteria(rubric)]
    panel_keys, key_departures, more = _explained_choice(
        chosen=key_failures, prefill=found_keys, known=key_codes, reasons=key_reasons or {}, field="key_reason",
        code="review.key_departure_unexplained", findings=found_keys,
        message_drop=_("Key sub-criterion %(code)s: %(members)s found it failed; give the reason for passing it."),
        message_add=_("Key sub-criterion %(code)s: give the reason for failing it when no member did."))
    refusals += more
    if refusals:
        raise RuleViolation(*refusals)
    try:
        assessment = scoring.assess_points({code: pts for code, pts, _e in lines}, vetoes=panel_vetoes,
                                           failed_key_subs=panel_keys, rubric=rubric_code(spec, case),
                                           scheme=spec)
    except ValueError as exc:
        raise _refuse("review.bad_score", _("A score or veto is out of range."), detail=str(exc)) from None
    sheet = ScoreSheet.objects.create(case=case, kind=SheetKind.PANEL, submitted_at=timezone.now(),
                                      submitted_by=actor, total=assessment.total)
    for code, _pts, entry in lines:
        if code in panel_vetoes:
            entry["veto"] = True
        if code in veto_departures:
            entry["veto_reason"] = veto_departures[code]
        failed_here = [k.partition(".")[2] for k in panel_keys if k.partition(".")[0] == code]
        if failed_here:
            entry["key_failed"] = failed_here
    ScoreLine.objects.bulk_create(ScoreLine(sheet=sheet, item_code=code, points=pts, entry=entry)
                                  for code, pts, entry in lines)
    review, _created = Review.objects.get_or_create(case=case)
    review.vetoes, review.key_failures = panel_vetoes, panel_keys
    review.save(update_fields=["vetoes", "key_failures", "updated_at"])
    audit_record(actor=actor, action="review.consolidate", target=case, after={
        "total": assessment.total, "aggregation": spec.panel.aggregation, "vetoes": review.vetoes,
        "key_failures": review.key_failures,
        "departures": {code: entry["reason"] for code, _p, entry in lines if entry["reason"]},
        "veto_departures": {c: {"confirmed": c in panel_vetoes, "reason": r,
                                "members": [f.member for f in found_vetoes.get(c, ())]}
                            for c, r in veto_departures.items()},
        "key_departures": {c: {"failed": c in panel_keys, "reason": r,
                               "members": [f.member for f in found_keys.get(c, ())]}
                           for c, r in key_departures.items()},
        "flagged": [code for code, _p, entry in lines if entry["flagged"]]})
    return sheet


#: The aggregations whose formula sets the panel's score (the chair does not depart from it).
FORMULAS = ("mean", "trimmed_mean", "weighted_groups")


def member_groups(case: Case) -> dict[int, str]:
    """Each panel member's scorer group (``weighted_groups``), by expert."""
    return dict(PanelMember.objects.filter(panel__case=case).values_list("expert_id", "group"))


def rubric_code(spec, case: Case) -> str:
    return spec.grade(case.grade.code).rubric


def aggregation_label(spec) -> str:
    return {"consensus": _("consensus of the panel, prefilled with the mean"), "mean": _("mean of the proposals"),
            "trimmed_mean": _("mean of the proposals, the highest and lowest dropped when %(n)d or more scored")
            % {"n": spec.panel.trimmed_mean_min_scores},
            "weighted_groups": _("weighted mean of the scorer groups' means (%(groups)s)")
            % {"groups": pgettext("list separator", ", ").join(f"{g.name} {g.weight * 100:g}%"
                                                                for g in spec.panel.groups)},
            }[spec.panel.aggregation]


def reason_text(reason: str, rubric) -> str:
    """A grade's failing reason code (``scoring.GradeResult.reasons``) in words."""
    kind, _sep, code = reason.partition(":")
    if kind == "pass_line":
        return _("Below the pass line")
    if kind == "key_item_zero":
        return _("Key item %(code)s %(name)s scored zero") % {"code": code, "name": rubric.item(code).name}
    if kind == "key_sub_criterion":
        item_code, _dot, sub_code = code.partition(".")
        sub = next(s for s in rubric.item(item_code).sub_criteria if s.code == sub_code)
        return _("Key sub-criterion %(code)s %(text)s not met") % {"code": code, "text": sub.text}
    if kind == "category_floor":
        name = next((c.name for c in rubric.categories if c.code == code), code)
        return _("Category %(code)s %(name)s below its floor") % {"code": code, "name": name}
    if kind == "veto":
        return _("Veto on item %(code)s %(name)s") % {"code": code, "name": rubric.item(code).name}
    return reason


def award_reason_text(spec, award: scoring.Award) -> str:
    """Why a lower grade than declared is awarded, in words: the declared grade's failing reasons."""
    rubric = spec.rubric_for(award.declared)
    return _("%(declared)s not awarded (%(reasons)s); %(awarded)s awarded.") % {
        "declared": spec.grade(award.declared).name, "awarded": spec.grade(award.grade).name,
        "reasons": pgettext("list separator", ", ").join(reason_text(r, rubric) for r in award.reasons)}


@transaction.atomic
def review_conclude(*, actor, case: Case, conclusion: str, votes_for: int | None = None) -> Review:
    """The chair records the conclusion once the six steps are recorded: a score-decided grade passes by
    the scheme's rules on the panel's score; the special grade by the members' vote (two thirds). Where the
    scheme awards a lower tier (``award_lower``) and the score or a veto places the case there, the review
    passes with that grade awarded, and the reason is recorded beside the conclusion."""
    case = _case_in_review(case)
    _need_chair(actor, case)
    spec = case.scheme_version.specification()
    review, _created = Review.objects.get_or_create(case=case)
    _refuse_missing_steps(case)
    if not (conclusion or "").strip():
        raise _refuse("review.conclusion_required", _("Write the panel's conclusion."))
    panel_sheet = case.sheets.filter(kind=SheetKind.PANEL).first()
    grade = spec.grade(case.grade.code)
    awarded, award_reason = None, ""
    if grade.decision == "onsite":
        if votes_for is None:
            raise _refuse("review.vote_required", _("The special grade is decided by the members' vote."))
        passed = scoring.onsite_passes(votes_for, case.panel.memberships.count(), scheme=spec)
    else:
        if panel_sheet is None:
            raise _refuse("review.not_consolidated", _("Record the panel's score first."))
        points = {line.item_code: line.points for line in panel_sheet.lines.all()}
        assessment = scoring.assess_points(points, vetoes=review.vetoes, failed_key_subs=review.key_failures,
                                           rubric=grade.rubric, scheme=spec)
        outcome = scoring.award(assessment, grade.code, scheme=spec)
        passed = outcome.grade is not None
        if outcome.lower:
            awarded = Grade.objects.get(version=case.scheme_version_id, code=outcome.grade)
            award_reason = award_reason_text(spec, outcome)
    review.passed, review.votes_for, review.conclusion = passed, votes_for, conclusion.strip()
    review.awarded_grade, review.award_reason = awarded, award_reason
    review.concluded_at, review.concluded_by = timezone.now(), actor
    review.save(update_fields=["passed", "votes_for", "conclusion", "awarded_grade", "award_reason", "concluded_at",
                               "concluded_by", "updated_at"])
    case_move(case, "pass_review" if passed else "fail_review", actor=actor, action="review.conclude",
              reason=review.conclusion, audit_after={"passed": passed, "votes_for": votes_for,
                                                     "total": panel_sheet.total if panel_sheet else None,
                                                     **({"awarded_grade": awarded.code, "award_reason": award_reason}
                                                        if awarded else {})})
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
    members: tuple[str, ...] = ()  # who proposed, in the order of ``proposals``

    @property
    def proposed_by(self) -> list[tuple[str, Decimal]]:
        return list(zip(self.members, self.proposals, strict=True))


def consolidation_preview(case: Case) -> list[ConsolidationRow]:
    """What the chair sees before consolidating: per item, each member's proposal, the prefill (their mean, or
    the scheme's formula) and whether they differ too much (the same rule as panel_consolidate,
    scoring.consolidate_item)."""
    spec = case.scheme_version.specification()
    proposals: dict[str, list[tuple[str, Decimal, str]]] = {}
    group_of = member_groups(case)
    for line in _member_lines(case):
        proposals.setdefault(line.item_code, []).append((line.sheet.expert.name, line.points,
                                                          group_of.get(line.sheet.expert_id, "")))
    rows = []
    for _category, item in spec.rubric_for(case.grade.code).items():
        found = proposals.get(item.code, [])
        points = [p for _n, p, _g in found]
        try:
            consolidation = scoring.consolidate_item(points, item.max_points, scheme=spec,
                                                     groups=[g for _n, _p, g in found]) if found else None
        except ValueError:  # a scorer group has not scored this item yet
            consolidation = None
        rows.append(ConsolidationRow(item.code, item.name, item.max_points, tuple(points),
                                     consolidation.prefill if consolidation else None,
                                     bool(consolidation and consolidation.flagged), tuple(n for n, _p, _g in found)))
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
