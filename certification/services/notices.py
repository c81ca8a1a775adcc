"""The public notice (stage 5): publish, extend (never shorten), objections, close, resolve."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules
from ..exceptions import Refusal, RuleViolation
from ..models import Case, Expert, Grade, Notice, Objection, ObjectionVerification, Outcome, Stage
from ..permissions import require_bureau_staff
from ..uploads import upload_refusals
from .audit import audit_record
from .cases import case_may, case_move


def _refuse(code: str, message: str, satisfy: str = "", **params) -> Refusal:
    return Refusal(code=code, rule=_("Public notice"), message=message, satisfy=satisfy, params=params)




@transaction.atomic
def notice_publish(*, actor, bureau, cases: list[Case], title: str, now: dt.datetime | None = None) -> Notice:
    """Publish a notice of the cases that passed the pre-check; it closes by the scheme's rule."""
    now = now or timezone.now()
    require_bureau_staff(actor, bureau)
    if not cases:
        raise RuleViolation(_refuse("notice.empty", _("A notice lists at least one case.")))
    locked = list(Case.objects.select_for_update().filter(pk__in=[c.pk for c in cases]).order_by("pk"))
    refusals = [
        _refuse("notice.case_not_ready", _("Case %(ref)s is not waiting for the public notice.")
                % {"ref": c.reference}, case=c.pk)
        for c in locked
        if c.bureau_id != bureau.pk or c.outcome != Outcome.OPEN or c.stage != Stage.NOTICE
        or c.notices.filter(closed_at__isnull=True).exists()
    ]
    if refusals:
        raise RuleViolation(*refusals)
    closes_at = max(rules.notice_closes_at(now, scheme=c.scheme_version.specification()) for c in locked)
    notice = Notice.objects.create(bureau=bureau, title=title.strip() or _("Public notice"), published_at=now,
                                   closes_at=closes_at)
    notice.cases.set(locked)
    audit_record(actor=actor, action="notice.publish", target=notice,
                 after={"cases": [c.reference for c in locked], "published_at": now, "closes_at": closes_at})
    return notice


@transaction.atomic(durable=True)
def notice_extend(*, actor, notice: Notice, closes_at: dt.datetime, reason: str) -> Notice:
    """Extend an open notice, with a reason. No one can shorten a notice."""
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    require_bureau_staff(actor, notice.bureau)
    if notice.closed_at is not None:
        raise RuleViolation(_refuse("notice.closed", _("This notice is closed.")))
    if closes_at <= notice.closes_at:
        raise RuleViolation(_refuse(
            "notice.extend_only", _("A notice can be extended, never shortened: it closes at %(closes)s.")
            % {"closes": timezone.localtime(notice.closes_at).strftime("%Y-%m-%d %H:%M")},
            _("Choose a later closing time.")))
    if not (reason or "").strip():
        raise RuleViolation(_refuse("notice.reason_required", _("A reason is required.")))
    before = notice.closes_at
    notice.closes_at, notice.extension_reason = closes_at, reason.strip()
    notice.save(update_fields=["closes_at", "extension_reason", "updated_at"])
    audit_record(actor=actor, action="notice.extend", target=notice, before={"closes_at": before},
                 after={"closes_at": closes_at}, reason=notice.extension_reason)
    return notice


@transaction.atomic(durable=True)
def objection_file(*, notice: Notice, case: Case, name: str, contact: str, grounds: str, attachment=None,
                   now: dt.datetime | None = None) -> Objection:
    """A member of the public objects to a case on an open notice; a receipt number is given at once.

    Objections are filed under a real name with a contact (DESIGN §3.6); one without either is still recorded,
    flagged anonymous, and the bureau may set it aside with a reason. Like any objection received before the
    notice closes, it holds the case until the bureau has resolved it. An objection must say what it objects
    to: without grounds there is nothing to record."""
    now = now or timezone.now()
    refusals = []
    if not (notice.published_at <= now < notice.closes_at) or notice.closed_at is not None:
        refusals.append(_refuse("objection.notice_closed", _("This notice is not open for objections.")))
    if not notice.cases.filter(pk=case.pk).exists():
        refusals.append(_refuse("objection.not_on_notice", _("This case is not on this notice.")))
    if not (grounds or "").strip():
        refusals.append(_refuse("objection.grounds_required", _("Please give %(what)s.") % {"what": _("the grounds")},
                                field="grounds"))
    if (contact or "").strip() and rules.contact_kind(contact) is None:
        refusals.append(_refuse("objection.contact", _("Give a phone number (a mobile, or a landline with its "
                                                       "area code) or an e-mail address."), field="contact"))
    if attachment is not None:
        refusals.extend(upload_refusals(attachment, field="attachment"))
    if refusals:
        raise RuleViolation(*refusals)
    name, contact = (name or "").strip(), (contact or "").strip()
    objection = Objection(notice=notice, case=case, name=name, contact=contact, grounds=grounds.strip(),
                          anonymous=not (name and contact), received_at=now)
    if attachment is not None:
        objection.attachment.save(attachment.name, attachment, save=False)
    objection.save()
    audit_record(actor=None, action="objection.file", target=objection, after={
        "case": case.reference, "receipt": objection.receipt, "anonymous": objection.anonymous})
    return objection


def _release(case: Case, *, actor, now) -> bool:
    """After the notice closes, a case without an unresolved objection goes on to the panel."""
    if case.outcome != Outcome.OPEN or case.stage != Stage.NOTICE:
        return False
    if case.objections.filter(status=Objection.Status.RECEIVED).exists():
        return False
    # "without objection" only where none was received: a case whose objections were all resolved says so
    action = "case.notice_cleared" if case.objections.exists() else "case.notice_passed"
    case_move(case, "pass_notice", actor=actor, action=action, now=now)
    return True


@transaction.atomic
def notice_close(*, notice: Notice, now: dt.datetime | None = None) -> int:
    """Close a notice that is due (the timer's action): cases without objections go on to the panel; a case
    with an objection waits until the bureau resolves it. Idempotent. Returns how many cases went on."""
    now = now or timezone.now()
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if notice.closed_at is not None or now < notice.closes_at:
        return 0
    notice.closed_at = now
    notice.save(update_fields=["closed_at", "updated_at"])
    audit_record(actor=None, action="notice.close", target=notice, after={"closed_at": now})
    return sum(_release(case, actor=None, now=now) for case in notice.cases.select_for_update().order_by("pk"))


#: How many experts may verify an objection (DESIGN §3.6: a re-check of two or three experts).
VERIFIERS = (2, 3)


@transaction.atomic
def objection_verify(*, actor, objection: Objection, experts: list, findings: str, verified_on: dt.date,
                     now: dt.datetime | None = None) -> ObjectionVerification:
    """The bureau records that two or three experts of its pool (or of the pools above it) verified an
    objection, with their findings and the day; it then resolves the objection as usual. Once per objection."""
    now = now or timezone.now()
    objection = Objection.objects.select_for_update().select_related("notice__bureau").get(pk=objection.pk)
    bureau = objection.notice.bureau
    require_bureau_staff(actor, bureau)
    if objection.status != Objection.Status.RECEIVED:
        raise RuleViolation(_refuse("objection.resolved", _("This objection was already resolved.")))
    if ObjectionVerification.objects.filter(objection=objection).exists():
        raise RuleViolation(_refuse("objection.verified", _("The verification of this objection is already "
                                                             "recorded.")))
    refusals = []
    chosen = {e.pk for e in experts}
    low, high = VERIFIERS
    if not low <= len(chosen) <= high:
        refusals.append(_refuse("objection.verifiers", _("An objection is verified by two or three experts; "
                                                         "%(n)d were named.") % {"n": len(chosen)},
                                _("Name two or three experts of the pool."), field="experts"))
    pools = []
    node = bureau
    while node is not None:
        pools.append(node.pk)
        node = node.parent
    today = rules.local_date(now, scheme=objection.case.scheme_version.specification())
    eligible = set(Expert.objects.filter(pk__in=chosen, pool__in=pools, term_starts_on__lte=verified_on,
                                         term_ends_on__gte=verified_on).values_list("pk", flat=True))
    for expert in sorted((e for e in experts if e.pk not in eligible), key=lambda e: e.pk):
        refusals.append(_refuse("objection.not_in_pool", _("%(expert)s is not an expert of the pool of %(bureau)s "
                                                           "on that day.") % {"expert": expert.name,
                                                                              "bureau": bureau}, field="experts"))
    findings = (findings or "").strip()
    if not findings:
        refusals.append(_refuse("objection.findings_required", _("Please give %(what)s.")
                                % {"what": _("the experts' findings")}, field="findings"))
    if verified_on > today:
        refusals.append(_refuse("objection.verified_in_future", _("The day of the verification cannot be after "
                                                                  "today."), field="verified_on"))
    if refusals:
        raise RuleViolation(*refusals)
    verification = ObjectionVerification.objects.create(objection=objection, findings=findings,
                                                        verified_on=verified_on, recorded_at=now, recorded_by=actor)
    verification.experts.set(sorted(chosen))
    audit_record(actor=actor, action="objection.verify", target=objection, after={
        "experts": sorted(chosen), "verified_on": verified_on.isoformat(), "findings": findings})
    return verification


@transaction.atomic
def objection_resolve(*, actor, objection: Objection, decision: str, reason: str, grade: str | None = None,
                      set_aside_as: str = "", now: dt.datetime | None = None) -> Objection:
    """The bureau resolves an objection after verifying it: dismiss (the case goes on), set aside an anonymous
    or groundless one (``set_aside_as``; it stays on record and the case goes on), downgrade the proposed
    grade, or uphold (the case ends as not certified)."""
    now = now or timezone.now()
    objection = Objection.objects.select_for_update().select_related("notice__bureau").get(pk=objection.pk)
    require_bureau_staff(actor, objection.notice.bureau)
    if objection.status != Objection.Status.RECEIVED:
        raise RuleViolation(_refuse("objection.resolved", _("This objection was already resolved.")))
    if decision not in (Objection.Status.DISMISSED, Objection.Status.SET_ASIDE, Objection.Status.DOWNGRADED,
                        Objection.Status.UPHELD):
        raise ValueError(f"unknown decision {decision!r}")
    if not (reason or "").strip():
        raise RuleViolation(_refuse("objection.reason_required", _("A reason is required."),
                                    _("Both the objector and the applicant will read it.")))
    if decision != Objection.Status.SET_ASIDE:
        set_aside_as = ""
    elif set_aside_as not in Objection.SetAsideAs.values:
        raise RuleViolation(_refuse("objection.set_aside_as", _("Say whether the objection is set aside as "
                                                                "anonymous or as without grounds."),
                                    field="set_aside_as"))
    elif set_aside_as == Objection.SetAsideAs.ANONYMOUS and not objection.anonymous:
        raise RuleViolation(_refuse("objection.not_anonymous", _("This objection gives a real name and a "
                                                                 "contact: it is not anonymous."),
                                    _("Set it aside as without grounds, or resolve it otherwise."),
                                    field="set_aside_as"))
    case = Case.objects.select_for_update(of=("self",)).select_related("grade", "bureau", "institution").get(
        pk=objection.case_id)
    if decision == Objection.Status.UPHELD:
        case_may(case, "uphold_objection", actor=actor)
    if decision == Objection.Status.DOWNGRADED:
        lower = Grade.objects.filter(version=case.scheme_version, code=grade).first()
        if lower is None or lower.rank >= case.grade.rank:
            raise RuleViolation(_refuse("objection.not_lower", _("Choose a grade below the one declared.")))
        before_grade = case.grade.code
        case.grade = lower
        case.save(update_fields=["grade", "updated_at"])
        objection.downgraded_to = lower
        audit_record(actor=actor, action="case.downgrade", target=case, before={"grade": before_grade},
                     after={"grade": lower.code}, reason=reason)
    objection.status, objection.resolution = decision, reason.strip()
    objection.resolved_at, objection.resolved_by, objection.set_aside_as = now, actor, set_aside_as
    objection.save(update_fields=["status", "resolution", "resolved_at", "resolved_by", "downgraded_to",
                                  "set_aside_as", "updated_at"])
    audit_record(actor=actor, action="objection.resolve", target=objection, reason=objection.resolution,
                 after={"status": decision, **({"set_aside_as": set_aside_as} if set_aside_as else {})})
    if decision == Objection.Status.UPHELD:
        case_move(case, "uphold_objection", actor=actor, action="case.objection_upheld",
                  reason=objection.resolution, now=now)
    elif objection.notice.closed_at is not None:
        _release(case, actor=actor, now=now)
    return objection


def notices_close_due(*, now: dt.datetime | None = None) -> int:
    """Close every notice that is due (the beat sweep); each in its own transaction. Returns how many."""
    now = now or timezone.now()
    closed = 0
    for notice in Notice.objects.filter(closed_at__isnull=True, closes_at__lte=now).order_by("closes_at"):
        with transaction.atomic():
            before = Notice.objects.select_for_update().get(pk=notice.pk).closed_at
            notice_close(notice=notice, now=now)
            closed += before is None
    return closed
