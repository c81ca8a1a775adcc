"""The daily sweeps of the calendar: recheck reminders, rectification reminders, panel scoring deadlines and
the annual summary. (Lapses are certification's own sweep; their notifications follow from its audit.)

Each sweep reads only what may be due (ranges of dates on indexed columns), records each reminder as an
occurrence under its idempotency key, and notifies only for the keys that are new, all in one transaction.
Running a sweep twice, or two at once, sends nothing twice. Queries: a constant per scheme version, never per
certificate or case.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from certification import rules, selectors
from certification.enums import BureauLevel, CertificateStatus
from certification.models import (
    Bureau,
    Case,
    Certificate,
    Institution,
    Outcome,
    Panel,
    SchemeVersion,
    SheetKind,
    Stage,
    SummarySubmission,
)

from .events import APPLICANT, STAFF
from .kinds import Kind
from .selectors import users_holding
from .services import Draft, local_text, notify, occurrences_record


@transaction.atomic
def recheck_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Remind holders to declare their recheck: at the window's opening, and 90, 30 and 7 days before expiry
    (the scheme's numbers). None once the holder has declared (the certificate is then "recheck in
    progress"). Returns how many reminders were new."""
    now = now or timezone.now()
    due: dict[str, tuple[Certificate, str]] = {}
    for version in SchemeVersion.objects.all():
        spec = version.specification()
        today = rules.local_date(now, scheme=spec)
        ranges = rules.recheck_reminder_expiry_ranges(today, scheme=spec)
        window = reduce(or_, (Q(valid_until__range=r) for r in ranges))
        candidates = (Certificate.objects.filter(window, scheme_version=version, status=CertificateStatus.IN_FORCE,
                                                 valid_until__gte=today)
                      .select_related("institution", "grade").only(
                          "pk", "number", "valid_until", "institution_id", "institution__name", "grade__name"))
        for certificate in candidates:
            for key in rules.recheck_reminders_due(certificate.valid_until, today, scheme=spec):
                due[f"recheck:{certificate.pk}:{certificate.valid_until.isoformat()}:{key}"] = (certificate, key)
    new = occurrences_record({key: Kind.RECHECK_REMINDER for key in due}, now=now)
    if not new:
        return 0
    holders = users_holding(APPLICANT, Institution, {due[k][0].institution_id for k in new})
    drafts = []
    for key in sorted(new):
        certificate, _which = due[key]
        params = {"number": certificate.number, "grade": certificate.grade.name,
                  "institution": certificate.institution.name, "due": local_text(certificate.valid_until)}
        drafts += [Draft(f"{key}:u{u}", Kind.RECHECK_REMINDER, u, params=params)
                   for u in holders.get(certificate.institution_id, ())]
    notify(drafts, now=now)
    return len(new)


@transaction.atomic
def rectification_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Remind applicants of an approaching rectification deadline (7 days and 1 day before)."""
    now = now or timezone.now()
    longest = max(rules.RECTIFICATION_REMINDER_DAYS_BEFORE) + 1
    cases = (Case.objects.filter(outcome=Outcome.OPEN, stage=Stage.RECTIFICATION, rectification_due_at__gt=now,
                                 rectification_due_at__lte=now + dt.timedelta(days=longest))
             .select_related("institution", "grade", "scheme_version"))
    due = {}
    for case in cases:
        for key in rules.deadline_reminders_due(case.rectification_due_at, now, rules.RECTIFICATION_REMINDER_DAYS_BEFORE,
                                                scheme=case.scheme_version.specification()):
            due[f"rectification:{case.pk}:{case.rectification_due_at.isoformat()}:{key}"] = case
    new = occurrences_record({key: Kind.RECTIFICATION_REMINDER for key in due}, now=now)
    applicants = users_holding(APPLICANT, Institution, {due[k].institution_id for k in new})
    drafts = []
    for key in sorted(new):
        case = due[key]
        params = {"reference": case.reference, "institution": case.institution.name,
                  "due": local_text(case.rectification_due_at)}
        drafts += [Draft(f"{key}:u{u}", Kind.RECTIFICATION_REMINDER, u, params=params, case_id=case.pk)
                   for u in applicants.get(case.institution_id, ())]
    notify(drafts, now=now)
    return len(new)


@transaction.atomic
def scoring_deadlines_send(*, now: dt.datetime | None = None) -> int:
    """Remind panel members who have not submitted 3 days and 1 day before the scoring deadline (the scheme's
    numbers); once it has passed, tell the chair and the bureau who is late, once."""
    now = now or timezone.now()
    panels = list(
        Panel.objects.filter(case__outcome=Outcome.OPEN, case__stage=Stage.REVIEW)
        .select_related("case__institution", "case__grade", "case__scheme_version")
        .prefetch_related("memberships__expert")
    )
    submitted = set(Case.objects.filter(panel__in=panels).filter(
        sheets__kind=SheetKind.MEMBER, sheets__submitted_at__isnull=False).values_list("pk", "sheets__expert_id"))
    due: dict[str, tuple[Panel, list, str]] = {}
    for panel in panels:
        spec = panel.case.scheme_version.specification()
        late = [m for m in panel.memberships.all() if m.archived_at is None
                and (panel.case_id, m.expert_id) not in submitted]
        if not late:
            continue
        if now >= panel.scoring_due_at:
            due[f"scoring:{panel.pk}:{panel.scoring_due_at.isoformat()}:passed"] = (panel, late, "passed")
            continue
        for key in rules.deadline_reminders_due(panel.scoring_due_at, now, spec.times.panel_reminder_days_before,
                                                scheme=spec):
            for member in late:
                due[f"scoring:{panel.pk}:{panel.scoring_due_at.isoformat()}:{key}:m{member.pk}"] = (panel, [member], key)
    new = occurrences_record({k: Kind.SCORING_OVERDUE if v[2] == "passed" else Kind.SCORING_REMINDER
                              for k, v in due.items()}, now=now)
    staff = users_holding(STAFF, Bureau, {due[k][0].case.bureau_id for k in new if due[k][2] == "passed"})
    drafts = []
    for key in sorted(new):
        panel, late, which = due[key]
        case = panel.case
        params = {"reference": case.reference, "institution": case.institution.name,
                  "due": local_text(panel.scoring_due_at), "members": "、".join(str(m.expert) for m in late)}
        if which == "passed":
            chair = next((m.expert.user_id for m in panel.memberships.all() if m.is_chair and m.expert.user_id), None)
            users = set(staff.get(case.bureau_id, set())) | ({chair} if chair else set())
            drafts += [Draft(f"{key}:u{u}", Kind.SCORING_OVERDUE, u, params=params, case_id=case.pk)
                       for u in sorted(users)]
        elif late[0].expert.user_id:
            drafts.append(Draft(f"{key}:u{late[0].expert.user_id}", Kind.SCORING_REMINDER, late[0].expert.user_id,
                                params=params, case_id=case.pk))
    notify(drafts, now=now)
    return len(new)


@transaction.atomic
def annual_summary_send(*, now: dt.datetime | None = None) -> int:
    """Remind city bureaus on the reminder days of each scheme they run to send the province that scheme's
    approvals summary of the year; from the day after its due day, flag each city bureau that has not sent it to
    the province's staff. A summary counts as sent once the bureau's staff have sent this year's of that scheme
    (a ``SummarySubmission`` that stands; ``summary_submit`` writes it). Each scheme keeps its own calendar."""
    now = now or timezone.now()
    cities = list(Bureau.objects.active().filter(level=BureauLevel.CITY).select_related("parent"))
    runs = selectors.schemes_run_by(cities)
    calendar = {}  # scheme id → (version, its year today, the reminder keys due today, its due day printed)
    for version in {v.scheme_id: v for vs in runs.values() for v in vs}.values():
        spec = version.specification()
        today = rules.local_date(now, scheme=spec)
        year, keys = today.year, rules.annual_summary_reminders_due(today, scheme=spec)
        if keys:
            calendar[version.scheme_id] = (version, year, keys,
                                           local_text(rules.annual_summary_due(year, scheme=spec)))
    if not calendar:
        return 0
    sent = set(SummarySubmission.objects.active().filter(scheme__in=calendar,
                                                         year__in={c[1] for c in calendar.values()})
               .values_list("bureau_id", "scheme_id", "year"))
    due = {f"summary:{version.scheme.code}:{year}:{key}:b{b.pk}": (b, key, version)
           for version, year, keys, _text in calendar.values() for key in keys for b in cities
           if version in runs[b.pk] and (b.pk, version.scheme_id, year) not in sent}
    new = occurrences_record({k: Kind.SUMMARY_OVERDUE if v[1] == "overdue" else Kind.SUMMARY_REMINDER
                              for k, v in due.items()}, now=now)
    targets = {due[k][0].parent_id if due[k][1] == "overdue" else due[k][0].pk for k in new}
    staff = users_holding(STAFF, Bureau, targets)
    drafts = []
    for key in sorted(new):
        bureau, which, version = due[key]
        _version, year, _keys, deadline = calendar[version.scheme_id]
        params = {"bureau": bureau.name, "year": str(year), "due": deadline, "scheme": version.title}
        if which == "overdue":
            drafts += [Draft(f"{key}:u{u}", Kind.SUMMARY_OVERDUE, u, params=params)
                       for u in staff.get(bureau.parent_id, ())]
        else:
            drafts += [Draft(f"{key}:u{u}", Kind.SUMMARY_REMINDER, u, params=params) for u in staff.get(bureau.pk, ())]
    notify(drafts, now=now)
    return len(new)
