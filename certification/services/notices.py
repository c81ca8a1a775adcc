"""The public notice (stage 5): publish, extend (never shorten), objections, close, resolve."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules
from ..exceptions import Refusal, RuleViolation
from ..models import Case, Grade, Notice, Objection, Outcome, Stage
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
    """A member of the public objects to a case on an open notice; a receipt number is given at once."""
    now = now or timezone.now()
    refusals = []
    if not (notice.published_at <= now < notice.closes_at) or notice.closed_at is not None:
        refusals.append(_refuse("objection.notice_closed", _("This notice is not open for objections.")))
    if not notice.cases.filter(pk=case.pk).exists():
        refusals.append(_refuse("objection.not_on_notice", _("This case is not on this notice.")))
    for field, value, label in (("name", name, _("your real name")), ("contact", contact, _("a contact")),
                                ("grounds", grounds, _("the grounds"))):
        if not (value or "").strip():
            refusals.append(_refuse(f"objection.{field}_required", _("Please give %(what)s.") % {"what": label},
                                    field=field))
    if attachment is not None:
        refusals.extend(upload_refusals(attachment, field="attachment"))
    if refusals:
        raise RuleViolation(*refusals)
    objection = Objection(notice=notice, case=case, name=name.strip(), contact=contact.strip(),
                          grounds=grounds.strip(), received_at=now)
    if attachment is not None:
        objection.attachment.save(attachment.name, attachment, save=False)
    objection.save()
    audit_record(actor=None, action="objection.file", target=objection, after={"case": case.reference,
                                                                                "receipt": objection.receipt})
    return objection


def _release(case: Case, *, actor, now) -> bool:
    """After the notice closes, a case without an unresolved objection goes on to the panel."""
    if case.outcome != Outcome.OPEN or case.stage != Stage.NOTICE:
        return False
    if case.objections.filter(status=Objection.Status.RECEIVED).exists():
        return False
    case_move(case, "pass_notice", actor=actor, action="case.notice_passed", now=now)
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


@transaction.atomic
def objection_resolve(*, actor, objection: Objection, decision: str, reason: str, grade: str | None = None,
                      now: dt.datetime | None = None) -> Objection:
    """The bureau resolves an objection after verifying it: dismiss or set aside (the case goes on),
    downgrade the proposed grade, or uphold (the case ends as not certified)."""
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
    objection.resolved_at, objection.resolved_by = now, actor
    objection.save(update_fields=["status", "resolution", "resolved_at", "resolved_by", "downgraded_to",
                                  "updated_at"])
    audit_record(actor=actor, action="objection.resolve", target=objection, after={"status": decision},
                 reason=objection.resolution)
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
