"""Score sheets: recording an item (deduction and reason → score) and submitting, which locks the sheet."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .. import scoring
from ..exceptions import Refusal, RuleViolation
from ..models import Case, Outcome, ScoreLine, ScoreSheet, SheetKind, Stage
from ..permissions import ACT_FOR_INSTITUTION, can
from .audit import audit_record

SELF_CHECK_STAGES = (Stage.PLANNED, Stage.RECTIFICATION)


def _refuse(code: str, message: str, satisfy: str = "", **params) -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Score sheet"), message=message, satisfy=satisfy,
                                 params=params))


def _may_write(actor, sheet: ScoreSheet) -> bool:
    if sheet.kind == SheetKind.SELF:
        return can(actor, ACT_FOR_INSTITUTION, sheet.case.institution)
    if sheet.kind == SheetKind.MEMBER:
        return bool(actor and actor.is_authenticated and sheet.expert.user_id == actor.pk)
    return False  # the panel's sheet is the chair's, with the review stage


def _need_signed_declaration(actor, sheet: ScoreSheet) -> None:
    """A member scores only once they have signed the recusal declaration on their seat (回避声明): the pages
    and the API lead them to it first; this is the rule itself, for any caller."""
    from ..selectors import panel_seats_signed

    if sheet.kind == SheetKind.MEMBER and not panel_seats_signed(actor).filter(panel__case=sheet.case_id).exists():
        raise _refuse("sheet.recusal_unsigned", _("Sign the recusal declaration before you score this case."),
                      _("Open the case and sign the declaration, or declare your conflict of interest."))


@transaction.atomic
def self_check_sheet(*, actor, case: Case) -> ScoreSheet:
    """The applicant's self-check sheet for the current round (a new round after each rectification)."""
    case = Case.objects.select_for_update().select_related("institution").get(pk=case.pk)
    if not can(actor, ACT_FOR_INSTITUTION, case.institution):
        raise _refuse("sheet.not_yours", _("Only the applicant fills in its self-check."))
    if case.outcome != Outcome.OPEN or case.stage not in SELF_CHECK_STAGES:
        raise _refuse("sheet.not_open", _("The self-check is open once the declaration is in the plan, and again "
                                          "for a rectification."))
    latest = case.sheets.filter(kind=SheetKind.SELF).order_by("-round").first()
    if latest is not None and not latest.locked:
        return latest
    sheet = ScoreSheet.objects.create(case=case, kind=SheetKind.SELF, round=(latest.round + 1) if latest else 1)
    copied = []
    if latest is not None:  # a rectification starts from the round before: the applicant changes what it fixed
        copied = ScoreLine.objects.bulk_create(
            ScoreLine(sheet=sheet, item_code=line.item_code, entry=line.entry, points=line.points, clamps=line.clamps)
            for line in latest.lines.order_by("pk"))
    audit_record(actor=actor, action="sheet.open", target=sheet,
                 after={"round": sheet.round, "copied_from_round": latest.round if copied else None,
                        "items_copied": len(copied)})
    return sheet


def _locked_sheet(sheet: ScoreSheet) -> ScoreSheet:
    related = ("case__grade", "case__institution", "expert")
    sheet = ScoreSheet.objects.select_for_update(of=("self",)).select_related(*related).get(pk=sheet.pk)
    if sheet.locked:
        raise _refuse("sheet.locked", _("This sheet was submitted on %(day)s and is locked.")
                      % {"day": timezone.localtime(sheet.submitted_at).strftime("%Y-%m-%d %H:%M")},
                      _("Ask the chair to reopen it, with a reason.") if sheet.kind == SheetKind.MEMBER else "")
    return sheet


def sheet_entry_refusals(item, entry: scoring.ItemEntry) -> list[Refusal]:
    """What an entry for ``item`` lacks, whoever records it (the page's form and the API alike): every point
    lost has its reason (a deduction line, or a sub-criterion not met), and a confirmed veto says why. Each
    refusal names the page's field it belongs beside (``field``)."""
    out = []
    unexplained = [d for d in entry.deductions if not (d.reason or "").strip()]
    if unexplained or (entry.unmet and not (entry.reason or "").strip()):
        out.append(Refusal(code="sheet.reason_required", rule=_("Score sheet"),
                           message=_("Every deduction needs its reason."),
                           satisfy=_("Write why the points are deducted."),
                           params={"item": item.code, "field": "reason"}))
    free = sum((Decimal(str(d.points)) for d in entry.deductions if d.points is not None and not d.element
                and not d.occurrence), Decimal(0))
    if item.max_points > 0 and free > item.max_points:
        out.append(Refusal(code="sheet.deduction_above_max", rule=_("Score sheet"),
                           message=_("A deduction of %(points)s is more than the item's %(max)s points.")
                           % {"points": free, "max": item.max_points},
                           satisfy=_("Deduct at most %(max)s.") % {"max": item.max_points},
                           params={"item": item.code, "field": "deduction"}))
    if item.rule.kind == "sub_criteria" and free and entry.unmet:
        out.append(Refusal(code="sheet.deducted_twice", rule=_("Score sheet"),
                           message=_("The sub-criteria not met already take their points: a deduction as well "
                                     "would count the same shortfall twice."),
                           satisfy=_("Either tick the sub-criteria not met, or deduct points for a partial "
                                     "shortfall — not both."),
                           params={"item": item.code, "field": "deduction"}))
    if entry.veto and item.veto is not None and not (entry.veto_reason or "").strip():
        out.append(Refusal(code="sheet.veto_reason_required", rule=_("Score sheet"),
                           message=_("A confirmed veto needs its reason."),
                           satisfy=_("Write what was found that confirms the veto condition."),
                           params={"item": item.code, "field": "veto_reason"}))
    return out


@transaction.atomic
def sheet_record(*, actor, sheet: ScoreSheet, item_code: str, entry: scoring.ItemEntry) -> ScoreLine:
    """Record what was found for one item; the scheme's rule gives the score, clamped and reported."""
    sheet = _locked_sheet(sheet)
    if not _may_write(actor, sheet):
        raise _refuse("sheet.not_yours", _("You may not write on this sheet."))
    _need_signed_declaration(actor, sheet)
    spec = sheet.case.scheme_version.specification()
    rubric = spec.rubric_for(sheet.case.grade.code)
    found = [(c, i) for c, i in rubric.items() if i.code == item_code]
    if not found:
        raise _refuse("sheet.unknown_item", _("There is no item %(code)s in this rubric.") % {"code": item_code})
    category, item = found[0]
    if sheet.kind == SheetKind.MEMBER:
        from .assignments import member_items

        if item_code not in member_items(sheet.case, sheet.expert_id):
            raise _refuse("sheet.not_assigned", _("Item %(code)s is not among the items assigned to you.")
                          % {"code": item_code}, _("Score the items the chair assigned to you."), item=item_code)
    entry_refusals = sheet_entry_refusals(item, entry)
    if entry_refusals:
        raise RuleViolation(*entry_refusals)
    try:
        score = scoring.score_item(item, entry, category=category)
    except (ValueError, TypeError) as exc:
        raise _refuse("sheet.bad_entry", _("Item %(code)s: a recorded value is out of range or unknown.")
                      % {"code": item_code}, _("Check the points, counts and elements entered."),
                      item=item_code, detail=str(exc)) from None
    line = ScoreLine.objects.filter(sheet=sheet, item_code=item_code).first()
    before = None if line is None else {"entry": line.entry, "points": line.points}
    if line is None:
        line = ScoreLine(sheet=sheet, item_code=item_code)
    line.entry = scoring.entry_to_dict(entry)
    line.points = score.points
    line.clamps = [{"kind": c.kind, "limit": str(c.limit), "before": str(c.before)} for c in score.clamps]
    line.save()
    # The sheet shows its lines: a copy kept in sync (``updated_since``) must see it changed.
    ScoreSheet.objects.filter(pk=sheet.pk).update(updated_at=timezone.now())
    audit_record(actor=actor, action="sheet.record", target=sheet, before=before,
                 after={"item": item_code, "entry": line.entry, "points": line.points})
    return line


def sheet_assessment(sheet: ScoreSheet) -> scoring.Assessment:
    """The sheet scored as a whole: category and total, pass or fail per grade."""
    spec = sheet.case.scheme_version.specification()
    entries = {line.item_code: scoring.entry_from_dict(line.entry) for line in sheet.lines.all()}
    return scoring.assess(entries, rubric=spec.grade(sheet.case.grade.code).rubric, scheme=spec)


@transaction.atomic
def sheet_submit(*, actor, sheet: ScoreSheet) -> ScoreSheet:
    """Submit a complete sheet: it is locked, and its total is kept."""
    sheet = _locked_sheet(sheet)
    if not _may_write(actor, sheet):
        raise _refuse("sheet.not_yours", _("You may not submit this sheet."))
    _need_signed_declaration(actor, sheet)
    assessment = sheet_assessment(sheet)
    if sheet.kind == SheetKind.MEMBER:
        # a member scores the items assigned to them (every item while the chair has not split them)
        from .assignments import member_items

        scored = set(sheet.lines.values_list("item_code", flat=True))
        missing = [code for code in member_items(sheet.case, sheet.expert_id) if code not in scored]
        if missing:
            raise _refuse("sheet.incomplete", _("Items not yet scored: %(items)s.") % {
                "items": pgettext("list separator", ", ").join(missing)},
                _("Score every item assigned to you, then submit."), items=missing)
    elif assessment.unscored:
        raise _refuse("sheet.incomplete", _("Items not yet scored: %(items)s.") % {"items": pgettext("list separator", ", ").join(
            assessment.unscored)}, _("Score every item, then submit."), items=list(assessment.unscored))
    sheet.submitted_at, sheet.submitted_by, sheet.total = timezone.now(), actor, assessment.total
    sheet.save(update_fields=["submitted_at", "submitted_by", "total", "updated_at"])
    audit_record(actor=actor, action="sheet.submit", target=sheet, after={"total": sheet.total})
    return sheet
