"""From what happened to who is told: the receiver of ``certification.signals.audited``.

Every state change of the domain is audited; each audited action below maps to a kind of notification and
its recipients. The notifications are written in the same transaction as the change (an outbox) and keyed
by the audit entry, so one entry tells each recipient once. Entries are handled per action, in a constant
number of queries per action, so that a sweep lapsing thousands of certificates stays set-based.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from certification.models import (
    Bureau,
    Case,
    Certificate,
    Filing,
    Institution,
    LateInclusion,
    LateInclusionRequest,
    Notice,
    Objection,
    PanelMember,
    Scheme,
    ScoreSheet,
)
from certification.permissions import ACT_FOR_INSTITUTION, WORK_IN_BUREAU
from certification.services.summaries import SUMMARY_SENT_ACTION

from .kinds import Kind
from .selectors import users_holding
from .services import Draft, as_email, local_text, notify, occurrences_record

APPLICANT = ACT_FOR_INSTITUTION
STAFF = WORK_IN_BUREAU

# action → (kind for the applicant, kind for the bureau's staff); None where that side is not told.
CASE_ACTIONS: dict[str, tuple[str | None, str | None]] = {
    "case.declare": (None, Kind.CASE_DECLARED),
    "case.forward": (None, Kind.CASE_FORWARDED),
    "case.plan_include": (Kind.PLAN_INCLUDED, None),
    "case.plan_return": (Kind.PLAN_RETURNED, None),
    "case.request_acceptance": (None, Kind.ACCEPTANCE_REQUESTED),
    "case.precheck_pass": (Kind.PRECHECK_PASSED, None),
    "case.precheck_return": (Kind.RECTIFICATION_REQUIRED, None),
    "case.rectification_missed": (Kind.RECTIFICATION_MISSED, Kind.RECTIFICATION_MISSED),
    "case.notice_passed": (Kind.NOTICE_PASSED, None),
    "case.notice_cleared": (Kind.NOTICE_PASSED, None),
    "panel.form": (Kind.PANEL_FORMED, None),
    "review.conclude": (Kind.REVIEW_CONCLUDED, Kind.REVIEW_CONCLUDED),
    "case.approve": (Kind.APPROVED, None),
    "case.refuse": (Kind.APPROVAL_REFUSED, None),
    "case.certified": (Kind.CERTIFIED, None),
    "case.withdraw": (None, Kind.CASE_WITHDRAWN),
    "case.cancel": (Kind.CASE_CANCELLED, None),
}


def _case_params(case: Case, entry) -> dict:
    after = entry.after if isinstance(entry.after, dict) else {}
    return {"reference": case.reference, "institution": case.institution.name, "grade": case.grade.name,
            "reason": entry.reason, "number": after.get("certificate", ""),
            "due": local_text(after.get("rectification_due_at") or after.get("scoring_due_at"))}


def _key(entry, kind: str, user_id: int | None = None, email: str = "") -> str:
    return f"audit:{entry.pk}:{kind}:" + (f"u{user_id}" if user_id else f"e:{email}")


def _for_cases(action: str, entries: list) -> list[Draft]:
    applicant_kind, staff_kind = CASE_ACTIONS[action]
    ids = {int(e.target_id) for e in entries}
    cases = Case.objects.select_related("institution", "grade", "prechecker").in_bulk(ids)
    applicants = users_holding(APPLICANT, Institution, {c.institution_id for c in cases.values()}) if applicant_kind else {}
    bureau_ids = {c.bureau_id for c in cases.values()} | {c.forwarding_bureau_id for c in cases.values()
                                                          if action == "case.declare" and c.forwarding_bureau_id}
    staff = users_holding(STAFF, Bureau, bureau_ids) if staff_kind else {}
    drafts = []
    for entry in entries:
        case = cases[int(entry.target_id)]
        params = _case_params(case, entry)
        if applicant_kind:
            drafts += [Draft(_key(entry, applicant_kind, u), applicant_kind, u, params=params, case_id=case.pk)
                       for u in applicants.get(case.institution_id, ())]
        if staff_kind:
            # a special-grade declaration goes first to the city bureau that forwards it
            bureau = case.forwarding_bureau_id if action == "case.declare" and case.forwarding_bureau_id \
                else case.bureau_id
            drafts += [Draft(_key(entry, staff_kind, u), staff_kind, u, params=params, case_id=case.pk)
                       for u in staff.get(bureau, ())]
        if action == "panel.form":
            drafts += _panel_appointed(entry, case, params)
    return drafts


def _panel_appointed(entry, case: Case, params: dict) -> list[Draft]:
    members = PanelMember.objects.filter(panel__case=case, expert__user__isnull=False).values_list(
        "expert__user_id", flat=True)
    return [Draft(_key(entry, Kind.PANEL_APPOINTED, u), Kind.PANEL_APPOINTED, u, params=params, case_id=case.pk)
            for u in members]


def _designated(entries: list) -> list[Draft]:
    drafts = []
    for entry in entries:
        case = Case.objects.select_related("institution", "grade").get(pk=entry.target_id)
        if case.prechecker_id:
            drafts.append(Draft(_key(entry, Kind.PRECHECK_ASSIGNED, case.prechecker_id), Kind.PRECHECK_ASSIGNED,
                                case.prechecker_id, params=_case_params(case, entry), case_id=case.pk))
    return drafts


def _notice_published(entries: list) -> list[Draft]:
    drafts = []
    for entry in entries:
        notice = Notice.objects.get(pk=entry.target_id)
        cases = list(notice.cases.select_related("institution", "grade"))
        applicants = users_holding(APPLICANT, Institution, {c.institution_id for c in cases})
        for case in cases:
            params = {**_case_params(case, entry), "title": notice.title, "due": local_text(notice.closes_at)}
            drafts += [Draft(_key(entry, Kind.NOTICE_PUBLISHED, u), Kind.NOTICE_PUBLISHED, u, params=params,
                             case_id=case.pk) for u in applicants.get(case.institution_id, ())]
    return drafts


def _objection(action: str, entries: list) -> list[Draft]:
    """An objection filed or resolved is told to both sides: the applicant, and the objector by e-mail where
    the contact given is an address. The bureau's staff hear of a new one."""
    kind = Kind.OBJECTION_FILED if action == "objection.file" else Kind.OBJECTION_RESOLVED
    drafts = []
    for entry in entries:
        objection = Objection.objects.select_related("case__institution", "case__grade", "notice").get(
            pk=entry.target_id)
        case = objection.case
        params = {**_case_params(case, entry), "receipt": objection.receipt,
                  "decision": objection.get_status_display(), "reason": objection.resolution}
        users = set(users_holding(APPLICANT, Institution, {case.institution_id}).get(case.institution_id, ()))
        if action == "objection.file":
            users |= users_holding(STAFF, Bureau, {objection.notice.bureau_id}).get(objection.notice.bureau_id, set())
        drafts += [Draft(_key(entry, kind, u), kind, u, params=params, case_id=case.pk) for u in sorted(users)]
        address = as_email(objection.contact)
        if address:
            drafts.append(Draft(_key(entry, kind, email=address), kind, email=address, params=params))
    return drafts


def _to_member(kind: str, entries: list, *, model) -> list[Draft]:
    drafts = []
    for entry in entries:
        if model is ScoreSheet:
            sheet = ScoreSheet.objects.select_related("expert", "case__institution", "case__grade").get(
                pk=entry.target_id)
            user_id, case = sheet.expert.user_id if sheet.expert_id else None, sheet.case
        else:
            member = PanelMember.objects.select_related("expert", "panel__case__institution",
                                                        "panel__case__grade").get(pk=entry.target_id)
            user_id, case = member.expert.user_id, member.panel.case
        params = {**_case_params(case, entry), "due": local_text(getattr(getattr(case, "panel", None),
                                                                          "scoring_due_at", None))}
        if user_id:
            drafts.append(Draft(_key(entry, kind, user_id), kind, user_id, params=params, case_id=case.pk))
    return drafts


def _lapsed(entries: list, kind: str = Kind.CERTIFICATE_LAPSED) -> list[Draft]:
    """Holder and approving bureau are told of a lapse (each lapse is recorded once in the ledger), or of a
    recheck that ended without a new certificate, the grade in force again until its expiry."""
    certificates = Certificate.objects.select_related("institution", "grade").in_bulk(
        {int(e.target_id) for e in entries})
    if kind == Kind.CERTIFICATE_LAPSED:
        occurrences_record({f"lapse:{c.pk}:{c.valid_until.isoformat()}": Kind.CERTIFICATE_LAPSED
                            for c in certificates.values()})
    holders = users_holding(APPLICANT, Institution, {c.institution_id for c in certificates.values()})
    staff = users_holding(STAFF, Bureau, {c.approved_by_id for c in certificates.values()})
    drafts = []
    for entry in entries:
        c = certificates[int(entry.target_id)]
        params = {"number": c.number, "institution": c.institution.name, "grade": c.grade.name,
                  "reason": entry.reason, "due": local_text(c.valid_until)}
        for u in holders.get(c.institution_id, set()) | staff.get(c.approved_by_id, set()):
            drafts.append(Draft(_key(entry, kind, u), kind, u, params=params))
    return drafts


# The issuing bureau's decisions on a certificate, each told to the holder and the approving bureau's staff.
CERTIFICATE_STATUS_ACTIONS = {
    "certificate.suspend": Kind.CERTIFICATE_SUSPENDED,
    "certificate.reinstate": Kind.CERTIFICATE_REINSTATED,
    "certificate.revoke": Kind.CERTIFICATE_REVOKED,
}


def _certificate_status(action: str, entries: list) -> list[Draft]:
    """A certificate suspended, reinstated or revoked (by the issuing bureau's officer, with a reason): the
    holder institution's users and the staff of the bureau that approved it are told, with the reason, and
    by e-mail whatever their preferences. The officer who acted is not told of their own act."""
    kind = CERTIFICATE_STATUS_ACTIONS[action]
    certificates = Certificate.objects.select_related("institution", "grade", "issued_by").in_bulk(
        {int(e.target_id) for e in entries})
    holders = users_holding(APPLICANT, Institution, {c.institution_id for c in certificates.values()})
    staff = users_holding(STAFF, Bureau, {c.approved_by_id for c in certificates.values()})
    drafts = []
    for entry in entries:
        c = certificates[int(entry.target_id)]
        params = {"number": c.number, "institution": c.institution.name, "grade": c.grade.name,
                  "bureau": c.issued_by.name, "reason": entry.reason}
        told = (holders.get(c.institution_id, set()) | staff.get(c.approved_by_id, set())) - {entry.actor_id}
        drafts += [Draft(_key(entry, kind, u), kind, u, params=params) for u in sorted(told)]
    return drafts


def _filed(entries: list) -> list[Draft]:
    """An approved recheck was filed with a higher bureau (备案): that bureau's staff are told, with the
    filing record's link on their filings page."""
    filings = {f.case_id: f for f in Filing.objects.select_related(
        "case__institution", "case__grade", "case__bureau").filter(case__in={int(e.target_id) for e in entries})}
    staff = users_holding(STAFF, Bureau, {f.bureau_id for f in filings.values()})
    drafts = []
    for entry in entries:
        filing = filings.get(int(entry.target_id))
        if filing is None:
            continue
        case = filing.case
        params = {**_case_params(case, entry), "bureau": case.bureau.name, "documents": len(filing.documents)}
        drafts += [Draft(_key(entry, Kind.CASE_FILED, u), Kind.CASE_FILED, u, params=params, case_id=case.pk)
                   for u in sorted(staff.get(filing.bureau_id, ()))]
    return drafts


def _summary_sent(entries: list) -> list[Draft]:
    """A city bureau sent its annual summary: the province's staff (the bureau's parent) are told."""
    bureaus = Bureau.objects.in_bulk({int(e.target_id) for e in entries})
    staff = users_holding(STAFF, Bureau, {b.parent_id for b in bureaus.values() if b.parent_id})
    titles = dict(Scheme.objects.filter(code__in={(e.after or {}).get("scheme") for e in entries
                                                  if isinstance(e.after, dict)}).values_list("code", "title"))
    drafts = []
    for entry in entries:
        bureau = bureaus[int(entry.target_id)]
        after = entry.after if isinstance(entry.after, dict) else {}
        kind = Kind.SUMMARY_CORRECTED if entry.before else Kind.SUMMARY_RECEIVED
        params = {"bureau": bureau.name, "year": str(after.get("year", "")),
                  "scheme": titles.get(after.get("scheme"), ""),
                  "approvals": str(after.get("approvals", "")), "reason": entry.reason}
        drafts += [Draft(_key(entry, kind, u), kind, u, params=params) for u in staff.get(bureau.parent_id, ())]
    return drafts


def _late_included(entries: list) -> list[Draft]:
    """The bureau included an institution's late declaration in its plan: the applicant is told by when to
    declare, and why (a deadline: always e-mailed)."""
    inclusions = LateInclusion.objects.select_related("bureau", "institution").in_bulk(
        {int(e.target_id) for e in entries})
    applicants = users_holding(APPLICANT, Institution, {i.institution_id for i in inclusions.values()})
    drafts = []
    for entry in entries:
        inclusion = inclusions[int(entry.target_id)]
        params = {"bureau": inclusion.bureau.name, "institution": inclusion.institution.name,
                  "due": local_text(inclusion.declare_by), "reason": inclusion.reason}
        drafts += [Draft(_key(entry, Kind.LATE_INCLUDED, u), Kind.LATE_INCLUDED, u, params=params)
                   for u in applicants.get(inclusion.institution_id, ())]
    return drafts


def _late_asked(action: str, entries: list) -> list[Draft]:
    """An institution asked a bureau to include its late declaration: the bureau's staff are told; the bureau
    refused: the applicant is told why."""
    asked = LateInclusionRequest.objects.select_related("bureau", "institution", "grade").in_bulk(
        {int(e.target_id) for e in entries})
    if action == "late_inclusion.ask":
        kind, people = Kind.LATE_REQUESTED, users_holding(STAFF, Bureau, {r.bureau_id for r in asked.values()})
    else:
        kind, people = Kind.LATE_REFUSED, users_holding(APPLICANT, Institution,
                                                        {r.institution_id for r in asked.values()})
    drafts = []
    for entry in entries:
        request = asked[int(entry.target_id)]
        params = {"bureau": request.bureau.name, "institution": request.institution.name,
                  "grade": request.grade.name,
                  "reason": request.reason if action == "late_inclusion.ask" else request.answer}
        whom = request.bureau_id if action == "late_inclusion.ask" else request.institution_id
        drafts += [Draft(_key(entry, kind, u), kind, u, params=params) for u in people.get(whom, ())]
    return drafts


def _oversight(action: str, entries: list) -> list[Draft]:
    """Spot checks (第十二条): an order and its reminders, decision and lapse are told to the bureau checked, an
    answer and a lapse to the checking bureau's staff; a suspension and a reinstatement to every person of the
    bureau (staff, pre-checkers, approvers, auditors) and to the checking bureau's staff."""
    from certification.models import BureauConclusion
    from certification.permissions import BUREAU_ROLE_PERMISSIONS

    drafts: list[Draft] = []
    if action in ("oversight.suspend", "oversight.reinstate"):
        kind = Kind.AUTHORITY_SUSPENDED if action == "oversight.suspend" else Kind.AUTHORITY_REINSTATED
        bureaus = Bureau.objects.select_related("parent").in_bulk({int(e.target_id) for e in entries})
        people: dict[int, set[int]] = defaultdict(set)
        for perm in BUREAU_ROLE_PERMISSIONS:
            for pk, users in users_holding(perm, Bureau, bureaus).items():
                people[pk] |= users
        for entry in entries:
            bureau = bureaus[int(entry.target_id)]
            after = entry.after if isinstance(entry.after, dict) else {}
            holder = Bureau.objects.filter(pk=after.get("to")).first()
            checkers = set(users_holding(STAFF, Bureau, {bureau.parent_id}).get(bureau.parent_id, ()))
            params = {"bureau": bureau.name, "checking": bureau.parent.name if bureau.parent else "",
                      "holder": holder.name if holder else "", "reason": entry.reason}
            told = (people.get(bureau.pk, set()) | checkers) - {entry.actor_id}
            drafts += [Draft(_key(entry, kind, u), kind, u, params=params) for u in sorted(told)]
        return drafts
    kind, to_checked = {
        "oversight.order": (Kind.ORDER_ISSUED, True), "oversight.remind": (Kind.ORDER_REMINDER, True),
        "oversight.answer": (Kind.ORDER_ANSWERED, False), "oversight.decide": (Kind.ORDER_DECIDED, True),
        "oversight.overdue": (Kind.ORDER_OVERDUE, None)}[action]
    orders = BureauConclusion.objects.select_related("bureau", "round__bureau").in_bulk(
        {int(e.target_id) for e in entries})
    staff = users_holding(STAFF, Bureau, {o.bureau_id for o in orders.values()}
                          | {o.round.bureau_id for o in orders.values()})
    for entry in entries:
        order = orders[int(entry.target_id)]
        params = {"bureau": order.bureau.name, "checking": order.round.bureau.name, "due": local_text(order.due_at),
                  "reason": entry.reason, "decision": order.get_status_display()}
        told = set()
        if to_checked in (True, None):
            told |= staff.get(order.bureau_id, set())
        if to_checked in (False, None):
            told |= staff.get(order.round.bureau_id, set())
        drafts += [Draft(_key(entry, kind, u), kind, u, params=params) for u in sorted(told - {entry.actor_id})]
    return drafts


OVERSIGHT_ACTIONS = ("oversight.suspend", "oversight.reinstate", "oversight.order", "oversight.remind",
                     "oversight.answer", "oversight.decide", "oversight.overdue")


def on_audited(sender, entries, targets, **kwargs) -> None:
    """Receiver of ``audited``: runs inside the change's transaction."""
    if not transaction.get_connection().in_atomic_block:
        return
    by_action: dict[str, list] = defaultdict(list)
    for entry in entries:
        by_action[entry.action].append(entry)
    drafts: list[Draft] = []
    for action, group in by_action.items():
        if action in CASE_ACTIONS:
            drafts += _for_cases(action, group)
        elif action == "case.designate_prechecker":
            drafts += _designated(group)
        elif action == "notice.publish":
            drafts += _notice_published(group)
        elif action in ("objection.file", "objection.resolve"):
            drafts += _objection(action, group)
        elif action == "sheet.reopen":
            drafts += _to_member(Kind.SHEET_REOPENED, group, model=ScoreSheet)
        elif action == "sheet.overdue":  # the member's own scoring task timed out (a Viewflow timer)
            drafts += _to_member(Kind.SCORING_REMINDER, group, model=ScoreSheet)
        elif action == "panel.nudge":
            drafts += _to_member(Kind.SCORING_NUDGE, group, model=PanelMember)
        elif action == "certificate.lapse":
            drafts += _lapsed(group)
        elif action == "certificate.recheck_ended":
            drafts += _lapsed(group, kind=Kind.RECHECK_ENDED)
        elif action == SUMMARY_SENT_ACTION:
            drafts += _summary_sent(group)
        elif action in CERTIFICATE_STATUS_ACTIONS:
            drafts += _certificate_status(action, group)
        elif action == "case.file":
            drafts += _filed(group)
        elif action == "late_inclusion.grant":
            drafts += _late_included(group)
        elif action in ("late_inclusion.ask", "late_inclusion.refuse"):
            drafts += _late_asked(action, group)
        elif action in OVERSIGHT_ACTIONS:
            drafts += _oversight(action, group)
    notify(drafts)
