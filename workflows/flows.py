"""The certification process of a case (DESIGN §4), as one Viewflow flow for promotion and recheck.

The flow holds no business rule: every task's view calls a ``certification`` service, which checks the stage,
the actor and the rules and moves the case through its state machine (``certification.lifecycle.
CaseLifecycle``); the flow's gateways only read that state to choose the next task. Viewflow owns the tasks
and the timers: deadlines are database timers, fired every minute by Celery beat
(``certification.fire_due_timers``). Withdrawal by the applicant and cancellation by the bureau can happen at
any stage: they end the case through the service and cancel the process (``workflows.actions.case_withdraw`` /
``case_cancel``).
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock

from certification.lifecycle import CaseLifecycle, CaseState
from certification.models import Case, PanelMember, SpotCheckRound
from certification.permissions import (
    ACT_FOR_INSTITUTION,
    APPROVE_FOR_BUREAU,
    PRECHECK_FOR_BUREAU,
    WORK_IN_BUREAU,
)

from . import task_views as views
from .models import CaseProcess, SpotCheckProcess
from .nodes import If, SplitEach

BUREAU = WORK_IN_BUREAU
APPLICANT = ACT_FOR_INSTITUTION
PRECHECKER = PRECHECK_FOR_BUREAU
APPROVER = APPROVE_FOR_BUREAU


def _case(activation) -> Case:
    """The case as it is now (a service may just have moved it; the process's cached artifact may be stale),
    read once per node's activation."""
    case = activation.__dict__.get("_fresh_case")
    if case is None:
        case = activation.__dict__["_fresh_case"] = Case.objects.get(pk=activation.process.artifact_object_id)
    return case


def _of_case(field: str, fallback: str | None = None):
    """A node's permission object: the case's ``field`` (its bureau, forwarding bureau or institution), or,
    where that field is empty, its ``fallback``. The fields' names go with it, so that the inbox can ask the
    database, in one query, which open tasks a user may take (``workflows.engine.workable_tasks``) rather
    than ask node by node, task by task."""
    def obj(process):
        value = getattr(process.artifact, field)
        return value if value is not None or fallback is None else getattr(process.artifact, fallback)

    obj.case_field, obj.case_fallback = field, fallback
    return obj


_bureau = _of_case("bureau")
_forwarding_bureau = _of_case("forwarding_bureau")
#: The bureau whose plan lists the case (the assessing bureau unless the scheme names another).
_planning_bureau = _of_case("planning_bureau", fallback="bureau")
#: The bureau that pre-checks (the assessing bureau, or the city bureau it delegated the pre-check to).
_prechecking_bureau = _of_case("precheck_bureau", fallback="bureau")
_institution = _of_case("institution")


def _is(state: CaseState):
    """A gateway's condition: the case's lifecycle (the state machine) is in ``state``."""
    return lambda activation: CaseLifecycle(_case(activation)).state == state


def _open(activation) -> bool:
    return CaseLifecycle(_case(activation)).is_open


def _chair_user(activation):
    member = PanelMember.objects.filter(panel__case=_case(activation), is_chair=True).select_related(
        "expert__user").first()
    return member.expert.user if member else None


def _member_user(activation):
    """The user of the member whose scoring task this is (read with the whole panel by ``_members``)."""
    pk = activation.task.data["member"]
    users = getattr(activation.process, "_member_users", {})
    if pk not in users:
        users[pk] = PanelMember.objects.select_related("expert__user").get(pk=pk).expert.user
    return users[pk]


def _members(activation):
    """One scoring task's data per member of the panel; their users are read in the same query, for the
    tasks' assignment."""
    members = PanelMember.objects.filter(panel__case=_case(activation)).select_related("expert__user").order_by("pk")
    activation.process._member_users = {m.pk: m.expert.user for m in members}
    return [{"member": pk} for pk in activation.process._member_users]


def _notice_closes_at(activation):
    notice = _case(activation).notices.order_by("-published_at").first()
    return notice.closes_at if notice else timezone.now()


def _scoring_due_at(activation):
    return _case(activation).panel.scoring_due_at


def _rectification_due_at(activation):
    return _case(activation).rectification_due_at


class CaseFlow(flow.Flow):
    process_class = CaseProcess
    # Row locks on the process (SELECT ... FOR UPDATE; waits rather than fails behind another holder).
    lock_impl = lock.SelectForUpdateLock(nowait=False)
    process_title = _("Certification case")
    process_description = _("From an institution's declaration to its certificate, or to the case's end.")

    # 1. Declaration (workflows.actions.case_declare calls the service, then starts this, in one transaction)
    start = flow.StartHandle(this.start_case).Annotation(title=_("Declared")).Next(this.needs_forwarding)
    needs_forwarding = (
        If(lambda a: _case(a).forwarding_bureau_id is not None and _case(a).forwarded_at is None)
        .Annotation(title=_("Forwarded by the city bureau?"))
        .Then(this.forward)
        .Else(this.plan)
    )
    forward = (
        flow.View(views.ForwardView.as_view()).Annotation(title=_("Forward the declaration"))
        .Permission(BUREAU, obj=_forwarding_bureau)
        .Next(this.plan)
    )
    # 2. Plan
    plan = (
        flow.View(views.PlanView.as_view()).Annotation(title=_("Include in the assessment plan"))
        .Permission(BUREAU, obj=_planning_bureau)
        .Next(this.planned)
    )
    planned = If(_open).Annotation(title=_("Included?")).Then(this.self_check).Else(this.end_plan_refused)
    # 3. Self-check and acceptance request
    self_check = (
        flow.View(views.SelfCheckView.as_view()).Annotation(title=_("Self-check and acceptance request"))
        .Permission(APPLICANT, obj=_institution)
        .Assign(lambda a: _case(a).declared_by)
        .Next(this.accepted)
    )
    accepted = (
        flow.Switch().Annotation(title=_("After the acceptance request"))
        .Case(this.await_notice, _is(CaseState.NOTICE))  # a scheme without a pre-check
        .Case(this.form_panel, _is(CaseState.PANEL))  # nor a public notice
        .Default(this.designate)
    )
    # The assessing bureau designates its pre-checker, or (a special promotion) delegates the pre-check to the
    # city bureau, whose staff then take this same task and designate the city's pre-checker.
    designate = (
        flow.View(views.DesignateView.as_view()).Annotation(title=_("Designate the pre-checker"))
        .Permission(BUREAU, obj=_prechecking_bureau)
        .Next(this.precheck)
    )
    # 4. Pre-check, with rectification rounds. A delegated pre-check ends in the city's written result, on
    # which the assessing bureau decides.
    precheck = (
        flow.View(views.PrecheckView.as_view()).Annotation(title=_("Pre-check"))
        .Permission(PRECHECKER, obj=_prechecking_bureau)
        .Assign(lambda a: _case(a).prechecker)
        .Next(this.prechecked)
    )
    prechecked = (
        flow.Switch().Annotation(title=_("After the pre-check"))
        .Case(this.rectify, _is(CaseState.RECTIFICATION))
        .Case(this.await_notice, _is(CaseState.NOTICE))
        .Case(this.form_panel, _is(CaseState.PANEL))  # a scheme without a public notice
        .Default(this.decide_precheck)
    )
    decide_precheck = (
        flow.View(views.DelegatedPrecheckView.as_view())
        .Annotation(title=_("Decide on the delegated pre-check's written result"))
        .Permission(BUREAU, obj=_bureau)
        .Next(this.prechecked)
    )
    rectify = (
        flow.View(views.RectifyView.as_view()).Annotation(title=_("Rectify and submit again"))
        .Permission(APPLICANT, obj=_institution)
        .Assign(lambda a: _case(a).declared_by)
        .OnTimeout(_rectification_due_at, this.rectification_missed, title=_("Rectification deadline"))
        .Next(this.precheck)
    )
    rectification_missed = (
        flow.Function(this.withdraw_missed_rectification).Annotation(title=_("Withdraw the case"))
        .Next(this.end_rectification_missed)
    )
    # 5. Public notice (one notice lists many cases; the bureau publishes it from its notice page)
    await_notice = (
        flow.ConditionalCatch(lambda a: _case(a).notices.exists())
        .Annotation(title=_("Published in a public notice"))
        .Next(this.notice_open)
    )
    notice_open = flow.Timer(_notice_closes_at).Annotation(title=_("Notice closes")).Next(this.close_notice)
    close_notice = flow.Function(this.close_due_notice).Annotation(title=_("Close the notice")).Next(
        this.after_notice)
    after_notice = (
        flow.Switch().Annotation(title=_("After the notice"))
        .Case(this.end_objection_upheld, lambda a: not _open(a))
        .Case(this.form_panel, _is(CaseState.PANEL))
        .Case(this.notice_open, lambda a: not _case(a).notices.filter(closed_at__isnull=False).exists())
        .Default(this.resolve_objections)
    )
    resolve_objections = (
        flow.View(views.ResolveObjectionsView.as_view()).Annotation(title=_("Resolve the objections"))
        .Permission(BUREAU, obj=_bureau)
        .Next(this.after_notice)
    )
    # 6. Panel
    form_panel = (
        flow.View(views.FormPanelView.as_view()).Annotation(title=_("Form the review panel"))
        .Permission(BUREAU, obj=_bureau)
        .Next(this.review)
    )
    # 7. Review: one scoring task per member, the chair's on-site record beside them, then the conclusion
    review = (
        SplitEach().Annotation(title=_("Panel review"))
        .Each(this.score, _members)
        .Always(this.onsite)
    )
    score = (
        flow.View(views.ScoreView.as_view()).Annotation(title=_("Score the case"))
        .Permission(auto_create=True, help_text=_("Only the panel member the sheet belongs to scores it."))
        .Assign(_member_user)
        .OnTimeout(_scoring_due_at, this.scoring_overdue, interrupting=False, title=_("Scoring deadline"))
        .Next(this.review_done)
    )
    scoring_overdue = (
        flow.Function(this.record_scoring_overdue).Annotation(title=_("Tell the member, chair and bureau"))
        .Next(this.reminded)
    )
    reminded = flow.End()
    onsite = (
        flow.View(views.OnsiteView.as_view()).Annotation(title=_("Record the on-site steps"))
        .Permission(auto_create=True, help_text=_("Only the chair of the panel records the on-site steps."))
        .Assign(_chair_user)
        .Next(this.review_done)
    )
    review_done = flow.Join().Annotation(title=_("All sheets in")).Next(this.conclude)
    conclude = (
        flow.View(views.ConcludeView.as_view()).Annotation(title=_("Consolidate and conclude"))
        .Permission(auto_create=True, help_text=_("Only the chair of the panel concludes the review."))
        .Assign(_chair_user)
        .Next(this.concluded)
    )
    concluded = If(_open).Annotation(title=_("Passed?")).Then(this.approve).Else(this.end_panel_failed)
    # 8. Approval
    approve = (
        flow.View(views.ApproveView.as_view()).Annotation(title=_("Approve"))
        .Permission(APPROVER, obj=_bureau)
        .Next(this.approved)
    )
    approved = If(_open).Annotation(title=_("Approved?")).Then(this.await_certificate).Else(
        this.end_refused)
    # 9. Certificate: the province's officer issues it from the queue (singly or in a batch)
    await_certificate = (
        flow.ConditionalCatch(_is(CaseState.CERTIFIED))
        .Annotation(title=_("Certificate issued"))
        .Next(this.end_certified)
    )
    end_certified = flow.End().Annotation(title=_("Certified"))
    # Failure branches
    end_plan_refused = flow.End().Annotation(title=_("Not included in the plan"))
    end_rectification_missed = flow.End().Annotation(title=_("Withdrawn: rectification deadline missed"))
    end_objection_upheld = flow.End().Annotation(title=_("Objection upheld"))
    end_panel_failed = flow.End().Annotation(title=_("The panel's assessment failed"))
    end_refused = flow.End().Annotation(title=_("Approval refused"))

    def start_case(self, activation, case):
        activation.process.artifact = case
        activation.process.save()
        return activation.process

    def withdraw_missed_rectification(self, activation):
        from certification.services.cases import case_rectification_missed

        case_rectification_missed(case=_case(activation))

    def close_due_notice(self, activation):
        from certification.services.notices import notice_close

        for notice in _case(activation).notices.filter(closed_at__isnull=True):
            notice_close(notice=notice)

    def record_scoring_overdue(self, activation):
        from certification.services.review import sheet_overdue

        timer = activation.task.previous.get()  # the boundary timer; before it, the member's scoring task
        host = timer.previous.get()
        sheet_overdue(member=PanelMember.objects.get(pk=host.data["member"]))

    def has_view_permission(self, user, obj=None):
        """Viewflow's own views (the chart): signed-in users; which processes they see is checked per case."""
        return bool(user and user.is_authenticated)


# --- Oversight: a spot-check round (第九条, 第十二条; DESIGN §4.1) ------------------------------------------------

def _round(activation):
    """The round, read once per process object (the nodes activated in one go share it; a condition fired
    later reads the process, and so the round, afresh)."""
    found = activation.process.__dict__.get("_fresh_round")
    if found is None:
        found = activation.process.__dict__["_fresh_round"] = SpotCheckRound.objects.get(
            pk=activation.process.artifact_object_id)
    return found


def _round_is(status: str):
    return lambda activation: _round(activation).status == status


def _orders(activation):
    """One deadline timer per rectification order of the round."""
    from certification.models import BureauConclusion

    found = activation.process.__dict__.get("_orders")
    if found is None:
        found = activation.process.__dict__["_orders"] = [{"order": pk} for pk in BureauConclusion.objects.filter(
            round_id=activation.process.artifact_object_id, result=BureauConclusion.Result.RECTIFY)
            .order_by("pk").values_list("pk", flat=True)]
    return found


def _order_due_at(activation):
    from certification.models import BureauConclusion

    return BureauConclusion.objects.filter(pk=activation.task.data["order"]).values_list("due_at", flat=True)[0]


class SpotCheckFlow(flow.Flow):
    """A higher bureau's spot-check round: planned (the start), drawn, inspected and concluded per bureau on the
    oversight pages (each through ``workflows.actions``, which fires the conditions below at once); then a
    database timer on each rectification order's deadline marks it overdue if it is still unanswered. The
    answer, the decision and a suspension happen on the order's page, before or after the timer."""

    process_class = SpotCheckProcess
    lock_impl = lock.SelectForUpdateLock(nowait=False)
    process_title = _("Spot-check round")
    process_description = _("A higher bureau checks the assessments of the bureaus below it.")

    start = flow.StartHandle(this.start_round).Annotation(title=_("Round planned")).Next(this.drawn)
    drawn = (flow.ConditionalCatch(lambda a: _round(a).status != SpotCheckRound.Status.PLANNED)
             .Annotation(title=_("Cases drawn")).Next(this.concluded))
    concluded = (flow.ConditionalCatch(_round_is(SpotCheckRound.Status.CONCLUDED))
                 .Annotation(title=_("Concluded on every bureau")).Next(this.any_orders))
    any_orders = (flow.If(lambda a: bool(_orders(a))).Annotation(title=_("Rectification ordered?"))
                  .Then(this.orders).Else(this.end_compliant))
    orders = SplitEach().Annotation(title=_("Rectification orders")).Each(this.order_due, _orders)
    order_due = flow.Timer(_order_due_at).Annotation(title=_("Rectification deadline")).Next(this.order_deadline)
    order_deadline = (flow.Function(this.mark_overdue).Annotation(title=_("Unanswered orders overdue"))
                      .Next(this.orders_done))
    orders_done = flow.Join().Annotation(title=_("Every deadline passed")).Next(this.end_round)
    end_round = flow.End().Annotation(title=_("Round closed"))
    end_compliant = flow.End().Annotation(title=_("Every bureau compliant"))

    def start_round(self, activation, round_):
        activation.process.artifact = round_
        activation.process.save()
        return activation.process

    def mark_overdue(self, activation):
        from certification.services.oversight import orders_overdue

        orders_overdue()

    def has_view_permission(self, user, obj=None):
        return bool(user and user.is_authenticated)
