"""Late declarations: the bureau includes an institution's declaration in its year's plan by hand, with a
reason, after the declaration window has closed (DESIGN §3.6; 第十条 sets the window, the bureau answers for
the exception). The inclusion lets the institution declare once, until the day the bureau sets; every other
rule of the declaration still applies, and only a declaration this bureau assesses may use it."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules
from ..exceptions import NotEligible, Refusal, RuleViolation
from ..models import Bureau, Institution, LateInclusion, LateInclusionRequest, Scheme
from ..permissions import ACT_FOR_INSTITUTION, WORK_IN_BUREAU, objects_for, require, require_bureau_staff
from ..selectors import assessing_bureau, planning_bureau
from .audit import audit_record

#: How long the institution has to declare when the bureau gives no day (the plan's own days).
DEFAULT_DAYS = 30


def _refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Late declaration (article 10)"), message=message,
                                 satisfy=satisfy))


def _reason(reason: str | None, message: str, satisfy: str = "") -> str:
    """The reason given, stripped; refused (``late.reason_required``) when there is none."""
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("late.reason_required", message, satisfy)
    return reason


def institutions_of(*bureaus: Bureau) -> QuerySet[Institution]:
    """The institutions in the bureaus' territory: each bureau's region and every region below it."""
    territory = Q(pk__in=[])
    for bureau in bureaus:
        region = bureau.region_id
        territory |= (Q(region=region) | Q(region__parent=region) | Q(region__parent__parent=region)
                      | Q(region__parent__parent__parent=region))
    return Institution.objects.active().filter(territory).order_by("name")


def default_declare_by(today: dt.date) -> dt.date:
    """Thirty days on, within the plan's year."""
    return min(today + dt.timedelta(days=DEFAULT_DAYS), dt.date(today.year, 12, 31))


@transaction.atomic(durable=True)
def late_inclusion_grant(*, actor, bureau: Bureau, institution: Institution, reason: str,
                         scheme: str, declare_by: dt.date | None = None,
                         now: dt.datetime | None = None) -> LateInclusion:
    """The bureau's staff include an institution's late declaration in this year's plan, with a reason the
    applicant reads. The institution may declare until ``declare_by`` (within the year), once."""
    require_bureau_staff(actor, bureau)
    reason = _reason(reason, _("A reason is required to include a late declaration."),
                     _("Give the reason, as the applicant and the auditors will read it."))
    version = Scheme.objects.get(code=scheme).current_version()
    spec = version.specification()
    now = now or timezone.now()
    today = rules.local_date(now, scheme=spec)
    if not institutions_of(bureau).filter(pk=institution.pk).exists():
        raise _refuse("late.not_in_territory", _("%(institution)s is not in the territory of %(bureau)s.")
                      % {"institution": institution, "bureau": bureau})
    declare_by = declare_by or default_declare_by(today)
    if not today <= declare_by <= dt.date(today.year, 12, 31):
        raise _refuse("late.declare_by", _("The last day to declare must be between today and the end of "
                                           "the year (%(start)s to %(end)s).")
                      % {"start": today.isoformat(), "end": f"{today.year}-12-31"})
    Institution.objects.select_for_update().get(pk=institution.pk)  # one grant at a time per institution
    if LateInclusion.objects.active().filter(bureau=bureau, scheme=version.scheme, institution=institution,
                                             year=today.year, case__isnull=True).exists():
        raise _refuse("late.already", _("A late declaration of %(institution)s is already included in this "
                                        "year's plan and not yet used.") % {"institution": institution},
                      _("Withdraw it first to set another day or reason."))
    inclusion = LateInclusion.objects.create(
        bureau=bureau, scheme=version.scheme, institution=institution, year=today.year, reason=reason,
        declare_by=declare_by, granted_at=now, granted_by=actor)
    asked = list(LateInclusionRequest.objects.select_for_update().filter(
        bureau=bureau, scheme=version.scheme, institution=institution, year=today.year,
        status=LateInclusionRequest.Status.OPEN))
    for request in asked:  # the institution's own request, answered by this inclusion
        request.status, request.inclusion = LateInclusionRequest.Status.GRANTED, inclusion
        request.answer, request.answered_at, request.answered_by = reason, now, actor
        request.save(update_fields=["status", "inclusion", "answer", "answered_at", "answered_by", "updated_at"])
    audit_record(actor=actor, action="late_inclusion.grant", target=inclusion, reason=reason, after={
        "institution": institution.pk, "year": today.year, "declare_by": declare_by.isoformat(),
        "requests": [r.pk for r in asked]})
    return inclusion


@transaction.atomic(durable=True)
def late_inclusion_ask(*, actor, institution: Institution, scheme: str, grade: str, reason: str,
                       now: dt.datetime | None = None) -> LateInclusionRequest:
    """The institution asks, after the declaration window closed, the bureau that plans ``grade`` for it to
    include a late declaration in this year's plan, with its reason. The bureau's staff are told; they
    include it on their late declarations page, or refuse it with a reason."""
    require(actor, ACT_FOR_INSTITUTION, institution,
            message=_("Only the institution's own people may ask for it."))
    reason = _reason(reason, _("Say why the declaration is late."),
                     _("The bureau reads the reason before it decides."))
    version = Scheme.objects.get(code=scheme).current_version()
    spec = version.specification()
    now = now or timezone.now()
    today = rules.local_date(now, scheme=spec)
    opens, closes = rules.declaration_window(today.year, scheme=spec)
    if opens <= today <= closes:
        raise _refuse("late.window_open", _("The declaration window is open: declare now, without asking."))
    grade_row = version.grades.filter(code=grade).first()
    if grade_row is None:
        raise _refuse("late.grade", _("There is no grade %(grade)s in this scheme.") % {"grade": grade})
    bureau = planning_bureau(institution, grade=grade, kind="promotion", version=version)  # or NotEligible
    Institution.objects.select_for_update().get(pk=institution.pk)  # one request at a time per institution
    if LateInclusion.objects.active().filter(bureau=bureau, scheme=version.scheme, institution=institution,
                                             year=today.year, case__isnull=True, declare_by__gte=today).exists():
        raise _refuse("late.already", _("%(bureau)s has already included a late declaration of %(institution)s "
                                        "in its plan: declare now.") % {"bureau": bureau, "institution": institution})
    if LateInclusionRequest.objects.active().filter(bureau=bureau, scheme=version.scheme, institution=institution,
                                                    year=today.year,
                                                    status=LateInclusionRequest.Status.OPEN).exists():
        raise _refuse("late.asked", _("%(institution)s has already asked %(bureau)s; the bureau has not answered "
                                      "yet.") % {"bureau": bureau, "institution": institution})
    request = LateInclusionRequest.objects.create(
        bureau=bureau, scheme=version.scheme, institution=institution, grade=grade_row, year=today.year,
        reason=reason, requested_at=now, requested_by=actor)
    audit_record(actor=actor, action="late_inclusion.ask", target=request, reason=reason,
                 after={"bureau": bureau.pk, "grade": grade, "year": today.year})
    return request


@transaction.atomic(durable=True)
def late_inclusion_refuse(*, actor, request: LateInclusionRequest, reason: str,
                          now: dt.datetime | None = None) -> LateInclusionRequest:
    """The bureau's staff refuse an institution's request to include its late declaration, with a reason the
    applicant reads."""
    request = LateInclusionRequest.objects.select_for_update().select_related("bureau").get(pk=request.pk)
    require_bureau_staff(actor, request.bureau)
    reason = _reason(reason, _("A reason is required to refuse the request."),
                     _("Give the reason, as the applicant will read it."))
    if request.status != LateInclusionRequest.Status.OPEN:
        raise _refuse("late.answered", _("This request is already answered; nothing was changed."))
    request.status, request.answer = LateInclusionRequest.Status.REFUSED, reason
    request.answered_at, request.answered_by = now or timezone.now(), actor
    request.save(update_fields=["status", "answer", "answered_at", "answered_by", "updated_at"])
    audit_record(actor=actor, action="late_inclusion.refuse", target=request, reason=reason,
                 before={"status": "open"}, after={"status": "refused"})
    return request


def late_requests_for_user(user) -> QuerySet[LateInclusionRequest]:
    """The requests to include a late declaration sent to the bureaus ``user`` works in."""
    bureaus = objects_for(user, WORK_IN_BUREAU, Bureau.objects.all())
    return (LateInclusionRequest.objects.active().filter(bureau__in=bureaus)
            .select_related("bureau", "institution", "grade", "requested_by").order_by("-requested_at"))


@transaction.atomic(durable=True)
def late_inclusion_withdraw(*, actor, inclusion: LateInclusion, reason: str) -> LateInclusion:
    """The bureau withdraws an inclusion not yet used, with a reason; it is archived, never deleted."""
    inclusion = LateInclusion.objects.select_for_update().select_related("bureau").get(pk=inclusion.pk)
    require_bureau_staff(actor, inclusion.bureau)
    reason = _reason(reason, _("A reason is required to withdraw the inclusion."))
    if inclusion.case_id is not None or inclusion.archived_at is not None:
        raise _refuse("late.not_open", _("This inclusion was already used or withdrawn; nothing was changed."))
    inclusion.archived_at = timezone.now()
    inclusion.save(update_fields=["archived_at", "updated_at"])
    audit_record(actor=actor, action="late_inclusion.withdraw", target=inclusion, reason=reason)
    return inclusion


def late_inclusion_for(institution: Institution, *, version, grade: str, kind: str,
                       today: dt.date) -> LateInclusion | None:
    """The inclusion a declaration made today may use, locked, or None: unused, not withdrawn, of this year
    and scheme, not past its day, and granted by the bureau that assesses this declaration. Only a promotion
    is held to the window; a declaration inside the window needs none."""
    if kind != "promotion":
        return None
    opens, closes = rules.declaration_window(today.year, scheme=version.specification())
    if opens <= today <= closes:
        return None
    try:
        bureau = assessing_bureau(institution, grade=grade, kind=kind, version=version)
    except (NotEligible, Bureau.DoesNotExist):
        return None  # the declaration's own refusals say why
    return (LateInclusion.objects.active().select_for_update()
            .filter(institution=institution, bureau=bureau, scheme=version.scheme_id, year=today.year,
                    case__isnull=True, declare_by__gte=today)
            .order_by("granted_at").first())


def late_inclusions_for_user(user) -> QuerySet[LateInclusion]:
    """The inclusions of the bureaus ``user`` works in."""
    bureaus = objects_for(user, WORK_IN_BUREAU, Bureau.objects.all())
    return (LateInclusion.objects.filter(bureau__in=bureaus)
            .select_related("bureau", "institution", "granted_by", "case").order_by("-granted_at"))
