"""Reads: what a user may see, what a page lists, what the rules read from the records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, Model, OuterRef, Prefetch, Q
from django.utils.translation import gettext_lazy

from . import rules
from .enums import (
    CERTIFICATE_STATUSES_CONFERRING_GRADE,
    CERTIFICATE_STATUSES_CURRENT,
    REGION_DEPTH,
    BureauLevel,
    Role,
)
from .models import (
    Bureau,
    Certificate,
    ConflictDeclaration,
    Expert,
    ExpertEmployment,
    Institution,
    SchemeVersion,
    Stage,
    SummarySubmission,
)
from .permissions import (
    ACT_FOR_INSTITUTION,
    APPROVE_FOR_BUREAU,
    AUDIT_BUREAU,
    ISSUE_FOR_BUREAU,
    PRECHECK_FOR_BUREAU,
    ROLE_OBJECT_PERMISSION,
    WORK_IN_BUREAU,
    granted,
    grants_of,
    has_role,
    objects_for,
)


def prechecker_candidates(bureau: Bureau):
    """The active users who pre-check for ``bureau`` (the people its staff may designate to pre-check a case)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(
        userobjectpermission__permission__codename=PRECHECK_FOR_BUREAU.partition(".")[2],
        userobjectpermission__object_pk=str(bureau.pk), is_active=True).distinct().order_by("pk")


@dataclass(frozen=True)
class Workplace:
    role: Role
    obj: Model


def workplaces_for(user) -> list[Workplace]:
    """Each role the user holds, with the bureau or institution it works for (experts: their pool)."""
    if not (user and user.is_authenticated):
        return []
    places: list[Workplace] = []
    for role in Role:
        if not has_role(user, role):
            continue
        perm = ROLE_OBJECT_PERMISSION.get(role)
        if role == Role.EXPERT:
            places += [Workplace(role, e.pool) for e in Expert.objects.filter(user=user).select_related("pool")]
        elif perm is not None:
            model = Institution if role == Role.APPLICANT else Bureau
            places += [Workplace(role, obj) for obj in objects_for(user, perm, model.objects.order_by("pk"))]
    return places


def declarant_for(institution: Institution, *, version: SchemeVersion) -> rules.Declarant:
    """What the eligibility rules need to know of ``institution``, read from the system's own records.

    Its current certificate under the scheme, its archives-safety incidents, and its subordinate units with
    how many of them hold the special-grade gate's minimum grade or above — computed from certificate
    records, never declared.
    """
    spec = version.specification()
    current = (
        Certificate.objects.filter(institution=institution, scheme=version.scheme_id,
                                   status__in=CERTIFICATE_STATUSES_CURRENT)
        .select_related("grade")
        .first()
    )
    held = None
    if current is not None:
        held = rules.HeldCertificate(current.grade.code, current.issued_on, current.valid_until, current.status)
    incidents = tuple(institution.incidents.active().values_list("occurred_on", flat=True))
    subordinates = Institution.objects.active().filter(parent=institution)
    gate = next((g for g in spec.gates if g.check == "subordinate_share"), None)
    graded = 0
    if gate is not None:
        codes = [g.code for g in spec.grades if g.rank >= spec.grade(gate.min_grade).rank]
        graded = (
            Certificate.objects.filter(institution__in=subordinates, scheme=version.scheme_id,
                                       status__in=CERTIFICATE_STATUSES_CONFERRING_GRADE, grade__code__in=codes)
            .values("institution")
            .distinct()
            .count()
        )
    return rules.Declarant(
        level=institution.level,
        has_system_guidance=institution.has_system_guidance,
        certificate=held,
        incident_dates=incidents,
        subordinate_units=subordinates.count(),
        subordinate_units_graded=graded,
    )


def system_head(institution: Institution) -> Institution | None:
    """The head institution of the system ``institution`` belongs to (itself if it heads one), or None."""
    node = institution
    while node.parent_id is not None:
        node = node.parent
    if node.pk != institution.pk or institution.has_system_guidance:
        return node
    return None


def institution_system(institution: Institution) -> dict[int, rules.SystemUnit]:
    """Every institution of ``institution``'s system — the tree of ``Institution.parent`` from the top of its
    chain down — with how it stands to ``institution``: itself, a parent unit (an ancestor), a subordinate
    unit (a descendant), or another unit of the same system. One query per level of the tree."""
    chain = [institution]
    while chain[-1].parent_id is not None:
        chain.append(Institution.objects.only("pk", "name", "parent_id").get(pk=chain[-1].parent_id))
    units = {node.pk: rules.SystemUnit(rules.PARENT, node.name) for node in chain[1:]}
    units[institution.pk] = rules.SystemUnit(rules.SELF, institution.name)
    # down from the top; a unit is a subordinate of the applicant when its parent is the applicant or one
    units_below = {institution.pk}
    level = [chain[-1].pk]
    seen = {chain[-1].pk}
    while level:
        children = [row for row in Institution.objects.filter(parent_id__in=level).values_list(
            "pk", "name", "parent_id") if row[0] not in seen]
        for pk, name, parent_id in children:
            seen.add(pk)
            if pk in units:  # the applicant, or one of its parents: already placed
                continue
            if parent_id in units_below:
                units_below.add(pk)
                units[pk] = rules.SystemUnit(rules.SUBORDINATE, name)
            else:
                units[pk] = rules.SystemUnit(rules.SYSTEM, name)
        level = [pk for pk, _name, _parent in children]
    return units


def panel_candidates(*, pools: list[Bureau]) -> list[rules.Candidate]:
    """The experts of these pools, as the panel rules see them, in a fixed number of queries. ``pools`` are
    in the order they are drawn from (the assessing bureau's first): each expert's ``tier`` is its pool's
    place in that order."""
    open_panels = Count("panel_memberships", filter=Q(panel_memberships__panel__case__outcome="open",
                                                      panel_memberships__archived_at__isnull=True), distinct=True)
    tiers = {bureau.pk: n for n, bureau in enumerate(pools)}
    experts = (
        Expert.objects.active()
        .filter(pool__in=pools)
        .annotate(open_panels=open_panels)
        .prefetch_related(
            Prefetch("employments", queryset=ExpertEmployment.objects.active(), to_attr="past"),
            Prefetch("conflicts", queryset=ConflictDeclaration.objects.active(), to_attr="declared"),
        )
        .order_by("pk")
    )
    return [
        rules.Candidate(
            expert_id=e.pk,
            user_id=e.user_id,
            employer_id=e.employer_id,
            system_id=e.system_id,
            past_employers=tuple((p.institution_id, p.ended_on) for p in e.past),
            declared_conflicts=frozenset(c.institution_id for c in e.declared),
            term=(e.term_starts_on, e.term_ends_on),
            grades=tuple(e.grades or ()),
            schemes=tuple(e.schemes or ()),
            load=e.open_panels,
            name=e.name,
            tier=tiers[e.pool_id],
        )
        for e in experts
    ]


def bureau_at(institution: Institution, level: str) -> Bureau:
    """The bureau over the institution's region at ``level`` (authority suspensions not applied)."""
    region = institution.region.ancestor_at(level)
    if region is None:
        raise Bureau.DoesNotExist(f"no region at level {level} above {institution.region}")
    return Bureau.objects.select_related("parent").get(region=region)


def schemes_open_to(institution: Institution) -> list[SchemeVersion]:
    """The current versions of the schemes an institution may declare under: those its nearest bureau (up its
    region's chain) runs, or every loaded scheme where that bureau names none."""
    return schemes_open_to_any([institution])


def schemes_open_to_any(institutions) -> list[SchemeVersion]:
    """The schemes any of ``institutions`` may declare under (:func:`schemes_open_to`), in three queries
    however many institutions: their regions' chains (four levels at most), the bureaus of those regions, the
    versions."""
    from .models import Region

    versions = SchemeVersion.objects.filter(is_current=True).select_related("scheme").order_by("scheme__code")
    regions = {r.pk: r for r in Region.objects.select_related("parent__parent__parent").filter(
        pk__in={i.region_id for i in institutions})}
    chains = {}
    for pk, region in regions.items():
        chain = []
        while region is not None:
            chain.append(region.pk)
            region = region.parent
        chains[pk] = chain
    bureaus = {b.region_id: b for b in Bureau.objects.filter(region__in={p for c in chains.values() for p in c})}
    allowed: set[str] = set()
    for institution in institutions:
        chain = chains.get(institution.region_id, [])
        bureau = next((bureaus[pk] for pk in chain if pk in bureaus), None)
        if bureau is None or not bureau.schemes:
            return list(versions)  # one of them may declare under every loaded scheme
        allowed |= set(bureau.schemes)
    return list(versions.filter(scheme__code__in=sorted(allowed)))


def schemes_run_by(bureaus) -> dict[int, list[SchemeVersion]]:
    """The current versions of the schemes each of ``bureaus`` runs, by bureau id: those it names, or every
    loaded scheme where it names none (as :func:`schemes_open_to` reads a bureau). One query."""
    versions = list(SchemeVersion.objects.filter(is_current=True).select_related("scheme").order_by("scheme__code"))
    return {b.pk: [v for v in versions if not b.schemes or v.scheme.code in b.schemes] for b in bureaus}


def scheme_run_by(bureau: Bureau, code: str) -> SchemeVersion | None:
    """The current version of the scheme ``code`` if ``bureau`` runs it (:func:`schemes_run_by`), else None."""
    return next((v for v in schemes_run_by([bureau])[bureau.pk] if v.scheme.code == code), None)


def _with_authority(bureau: Bureau) -> Bureau:
    """A bureau whose authority is suspended loses it to its parent until reinstated (第十二条)."""
    while bureau.authority_suspended and bureau.parent_id is not None:
        bureau = bureau.parent
    return bureau


def assessing_bureau(institution: Institution, *, grade: str, kind: str, version: SchemeVersion) -> Bureau:
    """The bureau that assesses this declaration: computed, never chosen by the applicant (§3.3)."""
    level = rules.assessing_level(institution.level, grade, kind, scheme=version.specification())
    return _with_authority(bureau_at(institution, level))


def forwarding_bureau(institution: Institution, *, grade: str, kind: str, version: SchemeVersion) -> Bureau | None:
    """The bureau that gathers this declaration and forwards it to the assessing bureau, or None."""
    level = rules.forwarding_level(institution.level, grade, kind, scheme=version.specification())
    return None if level is None else _with_authority(bureau_at(institution, level))


def planning_bureau(institution: Institution, *, grade: str, kind: str, version: SchemeVersion) -> Bureau:
    """The bureau whose assessment plan lists this declaration (the assessing bureau unless the scheme names
    another)."""
    level = rules.planning_level(institution.level, grade, kind, scheme=version.specification())
    return _with_authority(bureau_at(institution, level))


def precheck_delegate(institution: Institution, *, level: str) -> Bureau | None:
    """The bureau at ``level`` over the institution's region, to which the assessing bureau may delegate a
    pre-check (第十条: 委托市州级档案局对辖区内所属机关…进行预检), or None where there is none, or its
    authority is suspended."""
    try:
        city = bureau_at(institution, level)
    except Bureau.DoesNotExist:
        return None
    return None if city.authority_suspended else city


def filing_bureau(institution: Institution, *, grade: str, kind: str, version: SchemeVersion) -> Bureau | None:
    """The bureau an approved recheck assessed below the province is filed with, or None."""
    level = rules.filing_level(institution.level, grade, kind, scheme=version.specification())
    return None if level is None else _with_authority(bureau_at(institution, level))


#: The bureau roles' object permissions: a bureau's staff, pre-checkers, approvers, officers and auditors.
BUREAU_PERMISSIONS = tuple(perm for role, perm in ROLE_OBJECT_PERMISSION.items() if role != Role.APPLICANT)


#: The bureau roles that read (never write) the cases, documents and certificates of the bureaus below their own
#: (第九条, 第十二条: the higher bureau answers for the assessments below it).
READ_DOWN_PERMISSIONS = (WORK_IN_BUREAU, APPROVE_FOR_BUREAU, AUDIT_BUREAU)
_BELOW = "_certification_bureaus_below"


def bureaus_below(ids) -> list[int]:
    """The keys of every bureau below the bureaus ``ids`` (their children and grandchildren: bureaus are three
    levels deep), sorted; one query."""
    ids = sorted(ids)
    if not ids:
        return []
    return sorted(Bureau.objects.filter(Q(parent__in=ids) | Q(parent__parent__in=ids)).values_list("pk", flat=True))


def bureaus_read(user) -> list[int]:
    """The bureaus whose cases ``user`` may see in a bureau role: those it works for, and, as staff, approver or
    auditor, every bureau below them (read-only). Read once per request and kept on the user, like
    ``permissions.grants``."""
    if not (user and user.is_authenticated and user.is_active):
        return []
    found = getattr(user, _BELOW, None)
    if found is None or found[0] is not grants_of(user):
        own = granted(user, *BUREAU_PERMISSIONS)
        found = (grants_of(user), sorted(own | set(bureaus_below(granted(user, *READ_DOWN_PERMISSIONS)))))
        setattr(user, _BELOW, found)
    return found[1]


def bureau_cases(bureaus) -> Q:
    """The cases of ``bureaus`` (keys): those they assess, those filed with them, those they forward or plan,
    and those whose pre-check was delegated to them."""
    return (Q(bureau_id__in=bureaus) | Q(filing_bureau_id__in=bureaus) | Q(forwarding_bureau_id__in=bureaus)
            | Q(planning_bureau_id__in=bureaus) | Q(precheck_bureau_id__in=bureaus))


def panel_seats_signed(user):
    """The user's seats on panels (as an expert) whose recusal declaration they have signed: only these open
    the case to them. A seat not signed yet shows its member the declaration alone; a seat given up for a
    declared conflict (archived) shows nothing."""
    from .models import PanelMember

    return PanelMember.objects.active().filter(expert__user=user, recusal_declared_at__isnull=False)


def panel_seats_for_user(user):
    """The user's seats on panels (as an expert), signed or not; not those given up for a declared conflict."""
    from .models import PanelMember

    if not (user and user.is_authenticated and user.is_active):
        return PanelMember.objects.none()
    return PanelMember.objects.active().filter(expert__user=user)


def _unsigned_seats(user, case_pk):
    """The user's seats on the panel of case ``case_pk`` whose recusal declaration they have not signed yet."""
    from .models import PanelMember

    if not (user and user.is_authenticated and user.is_active):
        return PanelMember.objects.none()
    return PanelMember.objects.active().filter(panel__case_id=case_pk, expert__user=user,
                                               recusal_declared_at__isnull=True)


def awaits_declaration(user, case_pk) -> bool:
    """Whether the user must sign the recusal declaration of case ``case_pk`` before seeing it (asked on every
    opening of a case and its tasks: one light query, no joins to the case)."""
    return _unsigned_seats(user, case_pk).exists()


def panel_seat_awaiting_declaration(user, case_pk):
    """The user's seat on the panel of case ``case_pk`` whose recusal declaration they have not signed yet,
    with its case, or None (the declaration page)."""
    return _unsigned_seats(user, case_pk).select_related(
        "panel__case__institution", "panel__case__grade", "panel__case__scheme_version", "expert").first()


def case_visibility(user, *, unsigned_seats: bool = False) -> Q:
    """The condition a case meets when ``user`` may see it: its institutions' cases (applicant), its
    bureaus' (staff, pre-checker, approver, officer, auditor: assessed, filed with, or forwarded by the
    bureau), and the cases of the panels the user sits on and has signed the recusal declaration of
    (expert).

    Built from the user's grants (one query) and panel seats (one query) as lists of keys, so that the
    database answers it from the indexes on each column (a bitmap OR) without a join or a DISTINCT,
    however many cases there are. A user who may see nothing gets a condition no case meets.

    Staff, approvers and auditors also read the cases of every bureau below theirs (:func:`bureaus_read`).

    ``unsigned_seats``: also the cases of the seats whose declaration the user has not signed yet (for the
    inbox, which lists the member's task; its page shows the declaration alone)."""
    from .models import PanelMember

    if not (user and user.is_authenticated and user.is_active):
        return Q(pk__in=[])
    institutions = sorted(granted(user, ACT_FOR_INSTITUTION))
    bureaus = bureaus_read(user)
    seats = PanelMember.objects.active().filter(expert__user=user) if unsigned_seats else panel_seats_signed(user)
    panels = sorted(seats.values_list("panel__case_id", flat=True))
    query = Q(pk__in=[])
    if institutions:
        query |= Q(institution_id__in=institutions)
    if bureaus:
        query |= bureau_cases(bureaus)
    if panels:
        query |= Q(pk__in=panels)
    return query


def cases_for_user(user):
    """The cases ``user`` may see (see :func:`case_visibility`)."""
    from .models import Case

    return Case.objects.filter(case_visibility(user))


def case_get_for_user_or_404(user, pk):
    """One case the user may see, or 404 — alike for a missing case and another's."""
    from django.http import Http404

    # Not "late_inclusion__bureau": a second, nullable join to the bureaus makes PostgreSQL's planner weigh
    # several times more join orders (about 9 ms of planning for a 1 ms query); the few cases included late read
    # that bureau when they show it.
    case = cases_for_user(user).filter(pk=pk).select_related(
        "institution", "grade", "bureau", "filing_bureau", "panel", "late_inclusion", "certificate",
        "scheme_version").first()
    if case is None:
        raise Http404
    case._visible_to = user.pk  # read through the user's visibility: what this request reads of it need not ask again
    return case


def _visible(user, case) -> bool:
    """Whether ``user`` may see ``case``: known without a query when this request read the case through the
    user's visibility (:func:`case_get_for_user_or_404`), else asked of the database."""
    seen_by = getattr(case, "_visible_to", None)
    if seen_by is not None and seen_by == getattr(user, "pk", None) and user.is_active:
        return True
    return cases_for_user(user).filter(pk=case.pk).exists()


@dataclass(frozen=True)
class NextStep:
    who: str  # the role expected to act
    what: str
    due: object = None  # an aware datetime, where the step has a deadline


def _scoring_due(case):
    panel = getattr(case, "panel", None)
    return panel.scoring_due_at if panel else None


#: Each stage's next step: who acts, what is expected, and where the rules set one, by when.
_NEXT_STEPS = {
    Stage.DECLARED: (Role.BUREAU_STAFF, gettext_lazy("The bureau decides whether to include the declaration in this "
                                                 "year's assessment plan."), None),
    Stage.PLANNED: (Role.APPLICANT, gettext_lazy("Do the self-check item by item, upload the narrative report, "
                                             "acknowledge the integrity notice and submit the acceptance request."),
                None),
    Stage.PRECHECK: (Role.PRECHECKER, gettext_lazy("The designated pre-checker checks the case against the rubric."),
                 None),
    Stage.RECTIFICATION: (Role.APPLICANT, gettext_lazy("Rectify what the pre-check found and submit again before the "
                                                   "deadline, or the declaration is withdrawn."),
                      lambda case: case.rectification_due_at),
    Stage.NOTICE: (Role.BUREAU_STAFF, gettext_lazy("The bureau publishes the public notice; objections are received "
                                               "until it closes."), None),
    Stage.PANEL: (Role.BUREAU_STAFF, gettext_lazy("The bureau forms the review panel."), None),
    Stage.REVIEW: (Role.EXPERT, gettext_lazy("The panel scores online and the chair records the conclusion."),
               _scoring_due),
    Stage.APPROVAL: (Role.APPROVER, gettext_lazy("The bureau's approver decides on the five-document basis."), None),
    Stage.CERTIFICATE: (Role.CERTIFICATE_OFFICER, gettext_lazy("The province issues the certificate."), None),
}


def case_next_step(case) -> NextStep | None:
    """Where the case stands and what is expected next, of whom and by when (None once it has ended)."""
    from django.utils.translation import gettext as _

    from .models import Outcome, Stage

    if case.outcome != Outcome.OPEN:
        return None
    if case.stage == Stage.DECLARED and case.forwarding_bureau_id is not None and case.forwarded_at is None:
        spec = case.scheme_version.specification()
        last = rules.forward_by(case.year, scheme=spec)
        role, what, due = (Role.BUREAU_STAFF, _(
            "%(city)s gathers the declaration and forwards it to %(planner)s by %(last)s; after that day only "
            "%(planner)s can include it, by hand.") % {"city": case.forwarding_bureau, "planner": case.planner,
                                                       "last": last.isoformat()},
            rules.start_of_local_day(last + dt.timedelta(days=1), scheme=spec))
    elif case.stage == Stage.PRECHECK and case.precheck_bureau_id is not None:
        role, what, due = (Role.PRECHECKER, _(
            "A pre-checker of %(city)s, to which %(bureau)s delegated the pre-check, sends its written result; "
            "%(bureau)s then decides on it.") % {"city": case.precheck_bureau, "bureau": case.bureau}, None)
    else:
        # only the step the case is at is worded and dated (a list of cases asks this of every row)
        role, text, due_of = _NEXT_STEPS[case.stage]
        what, due = str(text), due_of(case) if due_of else None
    return NextStep(who=str(role.label), what=what, due=due)


def awarded_grade(case):
    """The grade the case is awarded: the declared one, or the lower one the panel awarded as the scheme
    allows (``Review.awarded_grade``, with its reason beside the conclusion)."""
    review = getattr(case, "review", None)
    return review.awarded_grade if review is not None and review.awarded_grade_id else case.grade


@dataclass(frozen=True)
class ProgressStep:
    label: str
    state: str  # "done", "current", "ended" (the case ended at this step), or "todo"


def case_progress(case) -> list[ProgressStep]:
    """The case's way through the stages of DESIGN §4 (rectification is a turn of the pre-check): each step
    done, current or to come; an ended case shows where it ended (a withdrawn or cancelled one: at its end)."""
    from django.utils.translation import gettext_lazy as _

    from .models import Outcome, Stage

    line = [Stage.DECLARED, Stage.PLANNED, Stage.PRECHECK, Stage.NOTICE, Stage.PANEL, Stage.REVIEW,
            Stage.APPROVAL, Stage.CERTIFICATE]
    ended_at = {Outcome.PLAN_REFUSED: Stage.DECLARED, Outcome.RECTIFICATION_MISSED: Stage.PRECHECK,
                Outcome.OBJECTION_UPHELD: Stage.NOTICE, Outcome.PANEL_FAILED: Stage.REVIEW,
                Outcome.APPROVAL_REFUSED: Stage.APPROVAL}
    labels = {Stage.DECLARED: _("Declaration"), Stage.PLANNED: _("Self-check"), Stage.PRECHECK: _("Pre-check"),
              Stage.NOTICE: _("Public notice"), Stage.PANEL: _("Review panel"), Stage.REVIEW: _("Panel review"),
              Stage.APPROVAL: _("Approval"), Stage.CERTIFICATE: _("Certificate")}
    labels = {stage: str(label) for stage, label in labels.items()}
    if case.outcome == Outcome.OPEN:
        current = Stage.PRECHECK if case.stage == Stage.RECTIFICATION else Stage(case.stage)
        if case.stage == Stage.RECTIFICATION:
            labels[Stage.PRECHECK] = str(Stage.RECTIFICATION.label)  # the pre-check's turn back to the applicant
        at = line.index(current)
        return [ProgressStep(labels[s], "done" if i < at else "current" if i == at else "todo")
                for i, s in enumerate(line)]
    if case.outcome == Outcome.CERTIFIED:
        return [ProgressStep(labels[s], "done") for s in line] + [ProgressStep(str(Outcome.CERTIFIED.label), "done")]
    stop = ended_at.get(case.outcome)
    if stop is None:  # withdrawn or cancelled: the step it left from is not kept on the case
        return [ProgressStep(labels[s], "todo") for s in line] + [ProgressStep(str(case.get_outcome_display()),
                                                                                "ended")]
    at = line.index(stop)
    return [ProgressStep(labels[s], "done" if i < at else "ended" if i == at else "todo")
            for i, s in enumerate(line)]


@dataclass
class CaseMatter:
    """Everything the matter page shows of one case, gathered in a fixed number of queries."""

    notices: list
    objections: list
    members: list
    sheets: list
    review: object
    documents: list
    certificate: object
    certificate_visible: bool
    notice_ids: list  # every notice the case was published on, archived ones too (for its timeline)


def case_matter(case, user) -> CaseMatter:
    """What ``user`` may read of ``case`` on its matter page: its notices (with the public link's dates), the
    objections received, the panel, the score sheets the user may see, the review's conclusion, the documents
    issued and the certificate (the uploads are :func:`case_evidence`'s). Each part is one query, whatever the
    size of the case."""
    from .models import IssuedDocument, PanelMember, Review

    published_on = list(case.notices.select_related("bureau").order_by("published_at"))  # archived ones too
    notices = [notice for notice in published_on if notice.archived_at is None]
    objections = list(case.objections.select_related("verification", "notice").prefetch_related(
        "verification__experts").order_by("received_at"))
    members = list(PanelMember.objects.filter(panel__case=case).select_related("expert").order_by(
        "-is_chair", "pk")) if getattr(case, "panel", None) is not None else []
    sheets = list(sheets_for_user(user).filter(case=case, submitted_at__isnull=False).select_related("expert")
                  .order_by("kind", "round", "pk"))
    review = Review.objects.filter(case=case).first()
    documents = list(IssuedDocument.objects.filter(case=case, certificate__isnull=True).order_by("issued_at", "pk"))
    certificate = case.certificate
    visible = certificate is not None and certificates_for_user(user).filter(pk=certificate.pk).exists()
    return CaseMatter(notices=notices, objections=objections, members=members, sheets=sheets, review=review,
                      documents=documents, certificate=certificate, certificate_visible=visible,
                      notice_ids=[notice.pk for notice in published_on])


def case_timeline(case, *, objections=None, notices=None):
    """Every audited event of the case (who, when, what, why), oldest first: the case's own, and those of the
    public notices it was published on and of the objections to it, so that the record tells the whole story
    (a notice published, an objection received, verified and resolved).

    ``objections``, ``notices``: the keys of the case's objections and of every notice it was published on
    (archived ones too), where the caller has already read them (:class:`CaseMatter` has)."""
    from .models import AuditEntry

    objections = [str(pk) for pk in (case.objections.values_list("pk", flat=True) if objections is None
                                     else objections)]
    notices = [str(pk) for pk in (case.notices.values_list("pk", flat=True) if notices is None else notices)]
    return (AuditEntry.objects.filter(
        Q(target_type="certification.case", target_id=str(case.pk))
        | Q(target_type="certification.objection", target_id__in=objections)
        | Q(target_type="certification.notice", target_id__in=notices, action__in=NOTICE_TIMELINE_ACTIONS))
        .select_related("actor").order_by("id"))


#: A notice's events shown on the timeline of each case it lists.
NOTICE_TIMELINE_ACTIONS = ("notice.publish", "notice.extend", "notice.close")


def _action_labels() -> dict:
    from django.utils.translation import gettext_lazy as _

    return {
        "case.declare": _("Declared"),
        "case.forward": _("Forwarded by the city bureau"),
        "case.precheck_delegate": _("Pre-check delegated to the city bureau"),
        "case.precheck_report": _("Written pre-check result sent to the assessing bureau"),
        "case.plan_include": _("Included in the assessment plan"),
        "case.plan_return": _("Not included in the plan"),
        "case.report": _("Narrative report attached"),
        "case.integrity_acknowledged": _("Integrity notice acknowledged"),
        "case.request_acceptance": _("Acceptance requested"),
        "case.designate_prechecker": _("Pre-checker designated"),
        "case.precheck_pass": _("Pre-check passed"),
        "case.precheck_return": _("Returned for rectification"),
        "case.rectification_missed": _("Withdrawn: rectification deadline missed"),
        "case.notice_passed": _("Public notice closed without objection"),
        "case.notice_cleared": _("Public notice closed; every objection resolved"),
        "notice.publish": _("Public notice published"),
        "notice.extend": _("Public notice extended"),
        "notice.close": _("Public notice closed"),
        "objection.file": _("Objection received"),
        "objection.verify": _("Objection verified by experts"),
        "objection.resolve": _("Objection resolved"),
        "document.issue": _("Document issued"),
        "case.downgrade": _("Grade lowered after an objection"),
        "case.objection_upheld": _("Objection upheld"),
        "panel.form": _("Review panel formed"),
        "panel.change_chair": _("Another chair named"),
        "panel.recusal_sign": _("Recusal declaration signed"),
        "panel.recusal_conflict": _("A member declared a conflict of interest"),
        "panel.replace_member": _("A member replaced"),
        "panel.reassign_tasks": _("A member's tasks given to their account"),
        "review.step": _("On-site step recorded"),
        "review.assign": _("Items assigned to the members"),
        "review.consolidate": _("Panel score consolidated"),
        "review.conclude": _("Review concluded"),
        "review.draw_units": _("Subordinate units drawn for a visit"),
        "case.approve": _("Approved"),
        "case.refuse": _("Approval refused"),
        "case.file": _("Filed with the higher bureau"),
        "case.certified": _("Certificate issued"),
        "case.withdraw": _("Withdrawn by the applicant"),
        "case.cancel": _("Cancelled by the bureau"),
        "case.authority_passed": _("Passed to the higher bureau: the assessing bureau's authority is suspended"),
        "case.prechecker_released": _("Pre-checker released: the case passed to a bureau they do not pre-check for"),
        "signing_key.create": _("Signing key created"),
        "signing_key.rotate": _("Signing key rotated"),
        "document.draw": _("Document's PDF drawn"),
        "late_inclusion.grant": _("Late declaration included by hand"),
        "late_inclusion.withdraw": _("Late inclusion withdrawn"),
        "panel.nudge": _("The chair reminded a member"),
        "sheet.open": _("Score sheet opened"),
        "sheet.record": _("Scores recorded"),
        "sheet.submit": _("Score sheet submitted"),
        "sheet.reopen": _("Score sheet reopened"),
        "sheet.overdue": _("Score sheet overdue"),
        "certificate.issue": _("Certificate issued"),
    }


def _certificate_action_labels() -> dict:
    from django.utils.translation import gettext_lazy as _

    return {
        "certificate.issue": _("Certificate issued"),
        "certificate.supersede": _("Superseded"),
        "certificate.recheck_declared": _("Recheck declared"),
        "certificate.recheck_ended": _("Recheck ended without a new certificate"),
        "certificate.recheck_failed": _("Lapsed"),
        "certificate.lapse": _("Lapsed"),
        "certificate.suspend": _("Suspended"),
        "certificate.reinstate": _("Reinstated"),
        "certificate.revoke": _("Revoked"),
        "certificate.import": _("Registered from the paper register"),
        "certificate.register_withdrawn": _("Revoked: its register import was withdrawn"),
        "document.issue": _("Document issued"),
    }


def certificate_history(certificate) -> list:
    """Every audited event of the certificate, oldest first, with its label in the reader's language:
    [(entry, label)]."""
    from .models import AuditEntry

    labels = _certificate_action_labels()
    entries = (AuditEntry.objects.filter(target_type="certification.certificate", target_id=str(certificate.pk))
               .select_related("actor").order_by("id"))
    return [(entry, str(labels[entry.action]) if entry.action in labels else action_label(entry.action))
            for entry in entries]


def action_label(action: str) -> str:
    """An audited action in the reader's language; an action without a label reads as a generic event, never
    as its code."""
    from django.utils.translation import gettext as _

    label = _action_labels().get(action) or _certificate_action_labels().get(action)
    return str(label) if label is not None else _("Recorded")


def certificate_public(*, token: str | None = None, number: str | None = None):
    """A certificate as the public may see it, by its QR token or its number, or None."""
    from .models import Certificate, SchemeVersion

    query = Certificate.objects.select_related("institution", "grade", "issued_by", "register_batch__bureau")
    if token:
        return query.filter(verification_token=token).first()
    if number:
        formats = SchemeVersion.objects.values_list("spec__documents__certificate_number", flat=True).distinct()
        return query.filter(number=Certificate.normalise_number(number, [f for f in formats if f])).first()
    return None


def import_bureaus_for(user) -> list[Bureau]:
    """The bureaus the user imports spreadsheets for: as their staff, or (the register of certificates) as a
    certificate officer. Each import's service checks the permission its kind needs."""
    ids = bureau_ids_for_user(user, (WORK_IN_BUREAU, ISSUE_FOR_BUREAU)) if user and user.is_authenticated else set()
    return list(Bureau.objects.filter(pk__in=ids).select_related("region").order_by("region__code"))


def register_batches_for(user):
    """The register imports (certificates already held) of the bureaus the user is a certificate officer of,
    newest first, each with how many certificates it brought in."""
    from .models import RegisterBatch

    bureaus = sorted(granted(user, ISSUE_FOR_BUREAU)) if user and user.is_authenticated else []
    return (RegisterBatch.objects.filter(bureau__in=bureaus).select_related("bureau", "imported_by", "withdrawn_by")
            .annotate(certificates_count=Count("certificates")).order_by("-created_at", "-pk"))


def bureau_ids_for_user(user, perms=None) -> set[int]:
    """The bureaus the user works for in any bureau role (or only through ``perms``)."""
    return set(granted(user, *(perms or BUREAU_PERMISSIONS)))


def _in_regions(region_ids, prefix: str = "") -> Q:
    """Rows whose region is one of ``region_ids`` or lies below one of them (regions are four levels deep)."""
    query = Q()
    for depth in range(len(REGION_DEPTH)):
        query |= Q(**{f"{prefix}region{'__parent' * depth}__in": region_ids})
    return query


def institutions_for_user(user):
    """The institutions the user may see: its own (applicant), those in its bureaus' regions, and the
    applicants of the cases it may see."""
    if not (user and user.is_authenticated and user.is_active):
        return Institution.objects.none()
    own = sorted(granted(user, ACT_FOR_INSTITUTION))
    regions = list(Bureau.objects.filter(pk__in=bureau_ids_for_user(user)).values_list("region_id", flat=True))
    cases = cases_for_user(user).values("institution_id")
    query = Q(pk__in=own) | Q(pk__in=cases)
    if regions:
        query |= _in_regions(regions)
    return Institution.objects.filter(query)


def certificates_for_user(user):
    """The certificates the user may see: its institutions' (holder), and those its bureaus issued or
    approved."""
    if not (user and user.is_authenticated and user.is_active):
        return Certificate.objects.none()
    own = sorted(granted(user, ACT_FOR_INSTITUTION))
    bureaus = bureaus_read(user)
    return Certificate.objects.filter(Q(institution__in=own) | Q(issued_by__in=bureaus)
                                      | Q(approved_by__in=bureaus))


def sheets_for_user(user):
    """The score sheets the user may see. The applicant: its self-checks and, once submitted, the panel's
    score. The bureau: every submitted sheet of its cases. A panel member: their own sheet, and the others'
    submitted sheets once their own is submitted (as ``member_sheets_visible``); the chair: the panel's."""
    from .models import Case, ScoreSheet, SheetKind

    if not (user and user.is_authenticated and user.is_active):
        return ScoreSheet.objects.none()
    own = sorted(granted(user, ACT_FOR_INSTITUTION))
    bureaus = bureaus_read(user)
    sheets = ScoreSheet.objects.order_by()
    submitted = Q(submitted_at__isnull=False)
    # One part per reason to see a sheet, each answered from its own index, and their union: an OR of them
    # across joins made the database scan every sheet of the province for an applicant's three. A bureau's
    # sheets (tens of thousands) stay a condition, which the database checks as it walks the list's order.
    seats = panel_seats_signed(user)  # a member sees nothing of a case before signing its declaration
    parts = [
        sheets.filter(kind=SheetKind.MEMBER, expert__user=user, case__in=seats.values("panel__case_id")),
        sheets.filter(submitted, kind=SheetKind.MEMBER, case__in=ScoreSheet.objects.filter(
            submitted, kind=SheetKind.MEMBER, expert__user=user, case__in=seats.values("panel__case_id"))
            .values("case_id")),
        sheets.filter(kind=SheetKind.PANEL, case__in=seats.filter(is_chair=True).values("panel__case_id")),
    ]
    if own:
        own_cases = Case.objects.filter(institution_id__in=own).values("pk")
        parts += [sheets.filter(kind=SheetKind.SELF, case__in=own_cases),
                  sheets.filter(submitted, kind=SheetKind.PANEL, case__in=own_cases)]
    first, *rest = [part.values("pk") for part in parts]
    visible = Q(pk__in=first.union(*rest))
    if bureaus:
        # Asked of each sheet the query reaches (its case, by primary key), not as the list of every case of the
        # bureaus: PostgreSQL built that list (a scan of the bureaus' cases, growing with the years) even for
        # the sheets of one case.
        visible |= submitted & Exists(Case.objects.filter(bureau_cases(bureaus), pk=OuterRef("case_id")))
    return ScoreSheet.objects.filter(visible)


def objections_for_user(user):
    """Objections, with the objector's name and contact: only for the staff and auditors of the bureau that
    published the notice."""
    from .models import Objection

    bureaus = bureau_ids_for_user(user, [WORK_IN_BUREAU, AUDIT_BUREAU])
    return Objection.objects.filter(notice__bureau__in=bureaus)


def notices_public(*, now=None, state: str | None = None):
    """Published notices as the public sees them: ``open`` (still receiving objections), ``closed``, or all."""
    from django.utils import timezone

    from .models import Notice

    now = now or timezone.now()
    notices = Notice.objects.active().filter(published_at__lte=now).select_related("bureau")
    is_open = Q(closed_at__isnull=True, closes_at__gt=now)
    if state == "open":
        notices = notices.filter(is_open)
    elif state == "closed":
        notices = notices.exclude(is_open)
    return notices


def certificate_get_for_user_or_404(user, pk):
    """One certificate the user may see, or 404 — alike for a missing certificate and another's."""
    from django.http import Http404

    certificate = (certificates_for_user(user).filter(pk=pk)
                   .select_related("institution", "grade", "issued_by", "approved_by",
                                   "register_batch__imported_by").first())
    if certificate is None:
        raise Http404
    return certificate


def may_keep_case_file(user, case) -> bool:
    """Whether ``user`` keeps the case file for a bureau's records: the staff, approvers and auditors of the
    bureau that assessed the case or the one it is filed with."""
    held = granted(user, WORK_IN_BUREAU, APPROVE_FOR_BUREAU, AUDIT_BUREAU)
    return any(pk in held for pk in (case.bureau_id, case.filing_bureau_id) if pk is not None)


# --- The annual approvals summary (DESIGN §3.6) ------------------------------------------------------------

#: The bureau roles that read a bureau's annual summaries (and, at a higher bureau, those sent to it).
SUMMARY_READERS = (WORK_IN_BUREAU, APPROVE_FOR_BUREAU, ISSUE_FOR_BUREAU, AUDIT_BUREAU)


def summary_submissions_for_user(user):
    """The annual summaries sent (and the copies a correction archived) that ``user`` may read: those of the
    bureaus it works for, and those sent to them by the bureaus below."""
    ids = bureau_ids_for_user(user, SUMMARY_READERS)
    return SummarySubmission.objects.filter(Q(bureau__in=ids) | Q(bureau__parent__in=ids))


def summary_submission_get_for_user_or_404(user, pk):
    """One summary sent that the user may read, or 404 — alike for a missing one and another's."""
    from django.http import Http404

    found = summary_submissions_for_user(user).filter(pk=pk).select_related("bureau", "scheme", "sent_by").first()
    if found is None:
        raise Http404
    return found


@dataclass(frozen=True)
class SummaryYear:
    year: int
    sent: SummarySubmission | None  # the copy that stands, if sent
    open: bool  # may be sent (again) now
    overdue: bool  # not sent and past its due day
    due: dt.date  # the day it is due by


@dataclass(frozen=True)
class SummaryRow:
    bureau: Bureau
    scheme: SchemeVersion  # the scheme summarised (its current version: its title, due day and words)
    years: list[SummaryYear]
    may_send: bool = False  # the user is the bureau's staff


def summaries_overview(user, *, years: list[int], today) -> dict[str, list]:
    """What the summaries page shows ``user`` for ``years``: ``sending``, one row per city bureau it works
    for and scheme that bureau runs (each year sent or not, and whether it may be sent now); ``received``, per
    higher bureau it works for, one row per city bureau below it and scheme; ``printable``, each bureau it
    works for with each scheme it runs, whose summary it may print from the records. A constant number of
    queries, whatever the number of bureaus."""
    readable = bureau_ids_for_user(user, SUMMARY_READERS)
    staff_of = bureau_ids_for_user(user, [WORK_IN_BUREAU])
    bureaus = list(Bureau.objects.filter(pk__in=readable).order_by("region__code"))
    below = list(Bureau.objects.active().filter(parent__in=readable, level=BureauLevel.CITY).order_by("region__code"))
    cities = [b for b in bureaus if b.level == BureauLevel.CITY]
    runs = schemes_run_by(bureaus + below)
    sent = {(s.bureau_id, s.scheme_id, s.year): s for s in SummarySubmission.objects.active()
            .filter(bureau__in=[b.pk for b in cities + below], year__in=years).select_related("sent_by")}

    open_years = rules.annual_summary_years_open(today)

    def rows(bureau: Bureau) -> list[SummaryRow]:
        out = []
        for version in runs[bureau.pk]:
            spec = version.specification()
            cells = [SummaryYear(year=y, sent=sent.get((bureau.pk, version.scheme_id, y)), open=y in open_years,
                                 overdue=((bureau.pk, version.scheme_id, y) not in sent
                                          and rules.annual_summary_overdue(y, today, scheme=spec)),
                                 due=rules.annual_summary_due(y, scheme=spec)) for y in years]
            out.append(SummaryRow(bureau=bureau, scheme=version, years=cells, may_send=bureau.pk in staff_of))
        return out

    received = [{"bureau": higher, "cities": [r for b in below if b.parent_id == higher.pk for r in rows(b)]}
                for higher in bureaus if any(b.parent_id == higher.pk for b in below)]
    return {"sending": [r for b in cities for r in rows(b)], "received": received,
            "printable": [(b, version) for b in bureaus for version in runs[b.pk]]}


# --- Certificates to issue, and their batches ------------------------------------------------------------

def certificate_queue(user):
    """Approved cases waiting for their certificate, for a provincial certificate officer."""
    from .models import Case, Outcome, Stage

    held = sorted(granted(user, ISSUE_FOR_BUREAU))
    if not held:
        return Case.objects.none()
    provinces = Bureau.objects.filter(pk__in=held, level=BureauLevel.PROVINCE).values("pk")
    return (Case.objects.filter(stage=Stage.CERTIFICATE, outcome=Outcome.OPEN)
            .filter(Q(bureau__in=provinces) | Q(bureau__parent__in=provinces)
                    | Q(bureau__parent__parent__in=provinces))
            .select_related("institution", "grade", "bureau").order_by("updated_at"))


def issue_batch_progress(batch) -> dict:
    """Done, failed and total of a batch (counted by the database, one query however large the batch), and
    each failure with its reason. The items themselves are ``batch.items``, for the page to show a page at
    a time."""
    from .models import IssueBatchItem

    Status = IssueBatchItem.Status
    counts = batch.items.aggregate(total=Count("id"), issued=Count("id", filter=Q(status=Status.ISSUED)),
                                   failed=Count("id", filter=Q(status=Status.FAILED)))
    total, issued, failed = counts["total"], counts["issued"], counts["failed"]
    done = issued + failed
    failures = list(batch.items.filter(status=Status.FAILED).select_related("case__institution").order_by("id"))
    return {"total": total, "issued": issued, "failed": failed, "pending": total - done, "done": done,
            "finished": done == total, "failures": failures,
            "percent": 100 if not total else (100 * done) // total}


# --- Public notices (the bureau's side) ------------------------------------------------------------------

def notice_candidates(user):
    """Cases that passed the pre-check and wait for a public notice, in bureaus where the user works."""
    from .models import Case, Outcome, Stage

    bureaus = sorted(granted(user, WORK_IN_BUREAU))
    return (Case.objects.filter(bureau__in=bureaus, stage=Stage.NOTICE, outcome=Outcome.OPEN, notices__isnull=True)
            .select_related("institution", "grade", "bureau").order_by("updated_at"))


# --- The review panel --------------------------------------------------------------------------------------

def member_for_chair_or_404(user, pk):
    """A panel member whom ``user`` chairs the panel of (another member, on an open panel), or 404."""
    from django.http import Http404

    from .models import PanelMember

    member = (PanelMember.objects.active()
              .filter(pk=pk, panel__memberships__is_chair=True, panel__memberships__expert__user=user,
                      panel__memberships__archived_at__isnull=True)
              .select_related("panel__case", "expert").first()) if user and user.is_authenticated else None
    if member is None:
        raise Http404
    return member


# --- Filings (备案) ------------------------------------------------------------------------------------------

#: The bureau roles that read a bureau's filings (and, at a higher bureau, those of the bureaus below it).
FILING_READERS = SUMMARY_READERS


def filing_bureaus_for_user(user):
    """The bureaus whose filings ``user`` may read: those it works for (staff, approver, certificate officer,
    auditor) and the bureaus below them (regions are four levels deep)."""
    ids = sorted(bureau_ids_for_user(user, FILING_READERS))
    if not ids:
        return Bureau.objects.none()
    return Bureau.objects.filter(Q(pk__in=ids) | Q(parent__in=ids) | Q(parent__parent__in=ids)
                                 | Q(parent__parent__parent__in=ids))


def filings_for_user(user):
    """The filings ``user`` may read: those filed with its bureaus or with a bureau below them."""
    from .models import Filing

    ids = sorted(bureau_ids_for_user(user, FILING_READERS))
    if not ids:
        return Filing.objects.none()
    return Filing.objects.filter(Q(bureau__in=ids) | Q(bureau__parent__in=ids) | Q(bureau__parent__parent__in=ids)
                                 | Q(bureau__parent__parent__parent__in=ids))


# --- Oversight (第九条, 第十二条) ------------------------------------------------------------------------------

def oversight_candidates(scope, *, year: int) -> list[tuple[int, int]]:
    """The closed cases of ``year`` assessed by the bureaus of ``scope``, as (case key, bureau key), by key:
    what a spot-check round draws from."""
    from .models import Case, Outcome

    return list(Case.objects.filter(bureau__in=[b.pk for b in scope], year=year).exclude(outcome=Outcome.OPEN)
                .order_by("pk").values_list("pk", "bureau_id"))


def oversight_checkers(user) -> list[Bureau]:
    """The bureaus whose staff ``user`` is and that have bureaus below them: those that may plan a round."""
    ids = sorted(granted(user, WORK_IN_BUREAU))
    return list(Bureau.objects.filter(pk__in=ids, children__isnull=False).distinct().order_by("region__code"))


def oversight_work(user) -> dict[str, int]:
    """What oversight waits on in the bureaus ``user`` works for, as three counts: rectification orders its own
    bureau has to answer, orders of its rounds to decide on (answered, not accepted or overdue), and its rounds
    still to draw or inspect."""
    from .models import BureauConclusion, SpotCheckRound

    own = sorted(granted(user, WORK_IN_BUREAU))
    if not own:
        return {}
    Status = BureauConclusion.Status
    return {
        "to_answer": BureauConclusion.objects.filter(bureau__in=own, status=Status.OPEN).count(),
        "to_decide": BureauConclusion.objects.filter(
            round__bureau__in=own, status__in=(Status.ANSWERED, Status.REJECTED, Status.OVERDUE)).count(),
        "rounds": SpotCheckRound.objects.filter(bureau__in=own, status__in=(
            SpotCheckRound.Status.PLANNED, SpotCheckRound.Status.DRAWN)).count(),
    }


def spot_check_rounds_for_user(user):
    """The rounds ``user`` may read: those planned by a bureau it works for or one below it."""
    from .models import SpotCheckRound

    return SpotCheckRound.objects.filter(bureau__in=bureaus_read(user))


def spot_check_round_get_for_user_or_404(user, pk):
    from django.http import Http404

    found = spot_check_rounds_for_user(user).filter(pk=pk).select_related("bureau", "planned_by").first()
    if found is None:
        raise Http404
    return found


def spot_check_items_for_user(user):
    from .models import SpotCheckItem

    return SpotCheckItem.objects.filter(round__bureau__in=bureaus_read(user))


def findings_for_user(user):
    """Findings: for the checking bureau (and those above it), and for the bureau whose case they concern."""
    from .models import Finding

    return Finding.objects.filter(Q(item__round__bureau__in=bureaus_read(user)) | Q(item__bureau__in=bureaus_read(user)))


def orders_for_user(user):
    """Conclusions and rectification orders: for the checking bureau, the bureau checked, and those above."""
    from .models import BureauConclusion

    read = bureaus_read(user)
    return BureauConclusion.objects.filter(Q(round__bureau__in=read) | Q(bureau__in=read))


def order_get_for_user_or_404(user, pk):
    from django.http import Http404

    found = orders_for_user(user).filter(pk=pk).select_related("round__bureau", "bureau").first()
    if found is None:
        raise Http404
    return found


def suspensions_for_user(user):
    """Suspensions of authority: of the bureaus ``user`` works for and those below them."""
    from .models import Suspension

    return Suspension.objects.filter(bureau__in=bureaus_read(user))
# --- The evidence of a case, for those who judge it -----------------------------------------------------------
@dataclass(frozen=True)
class EvidenceFile:
    label: str  # what it is, in the reader's language
    name: str  # the file's own name, as uploaded
    kind: str  # condition | report | precheck | objection: the download's route
    pk: int  # the row holding the file
    inline: bool  # a PDF or an image: the browser shows it in place
    note: str = ""  # text that goes with it (a rectification explanation)


@dataclass(frozen=True)
class EvidenceRound:
    title: str
    files: list


INLINE_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".gif", ".webp")


def _evidence_file(label: str, field, kind: str, pk: int, note: str = "") -> EvidenceFile:
    import os

    name = os.path.basename(field.name)
    return EvidenceFile(label=label, name=name, kind=kind, pk=pk, note=note,
                        inline=name.lower().endswith(INLINE_SUFFIXES))


def case_evidence(user, case, *, prechecks=None, objections=None) -> list[EvidenceRound]:
    """Everything uploaded for ``case`` that ``user`` may open, grouped by round: the declaration's evidence of
    each condition; for each round of the acceptance request, its narrative report, its rectification
    explanation and the written result of its pre-check; and, for the bureau's staff, the objections'
    attachments. A user who may not see the case gets nothing (the downloads answer 404 alike). At most four
    queries; ``prechecks`` and ``objections``, the case's rows where the caller has already read them, spare
    two of them."""
    from django.utils.translation import gettext as _

    if not _visible(user, case):
        return []
    texts = {p.code: p.text for p in case.scheme_version.specification().prerequisites}
    rounds = [EvidenceRound(_("Declaration"), [
        _evidence_file(texts.get(row.code, row.code), row.evidence, "condition", row.pk)
        for row in case.prerequisites.order_by("pk") if row.evidence])]
    reports = {r.round: r for r in case.reports.order_by("round")}
    prechecks = {p.round: p for p in (case.prechecks.order_by("round") if prechecks is None else prechecks)}
    if not reports and case.report:  # a case from before the rounds were kept: its one report
        reports = {1: None}
    for n in sorted(set(reports) | {p for p, row in prechecks.items() if row.attachment}):
        files = []
        report = reports.get(n)
        if report is None and n in reports and case.report:
            files.append(_evidence_file(_("Narrative report"), case.report, "report", 0))
        elif report is not None and (report.file or report.explanation):
            files.append(_evidence_file(_("Narrative report"), report.file, "report", report.pk,
                                        note=report.explanation) if report.file else
                         EvidenceFile(_("Rectification explanation"), "", "", 0, False, report.explanation))
        precheck = prechecks.get(n)
        if precheck is not None and precheck.attachment:
            files.append(_evidence_file(_("Written pre-check result"), precheck.attachment, "precheck", precheck.pk))
        if files:
            rounds.append(EvidenceRound(_("Round %(n)d") % {"n": n}, files))
    if case.bureau_id in granted(user, WORK_IN_BUREAU):
        objections = [o for o in (case.objections.order_by("received_at") if objections is None else objections)
                      if o.attachment]
        if objections:
            rounds.append(EvidenceRound(_("Objections"), [
                _evidence_file(_("Objection %(receipt)s") % {"receipt": o.receipt}, o.attachment, "objection", o.pk)
                for o in objections]))
    return [r for r in rounds if r.files]


def case_evidence_file(user, case, kind: str, pk: int):
    """The stored file of one piece of ``case``'s evidence that ``user`` may open (see :func:`case_evidence`),
    or ``None``."""
    for evidence_round in case_evidence(user, case):
        for item in evidence_round.files:
            if item.kind == kind and item.pk == pk:
                break
        else:
            continue
        break
    else:
        return None
    if kind == "condition":
        return case.prerequisites.get(pk=pk).evidence
    if kind == "report":
        return case.reports.get(pk=pk).file if pk else case.report
    if kind == "precheck":
        return case.prechecks.get(pk=pk).attachment
    return case.objections.get(pk=pk).attachment
