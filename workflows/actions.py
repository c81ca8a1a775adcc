"""One write path per case action: the domain service and the process step in ONE transaction.

Each function here is what a page, the API, a management command or a Celery task calls to act on a case. It
opens the outermost transaction (``transaction.atomic(durable=True)``), takes the process's row lock where a
task is completed or the process changed, calls the ``certification`` service and then the process-side helper
of ``workflows.engine`` — so that both halves happen, or neither. No caller composes a service with a process
step by hand, and no view holds a transaction of its own.

The services stay plain ``@transaction.atomic`` (a durable block cannot nest inside another); a refusal
(``RuleViolation``) raised by a service rolls the whole action back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from certification.exceptions import RuleViolation
from certification.models import Case, Certificate, Expert, Institution, Notice, Objection, PanelMember
from certification.services import cases as case_services
from certification.services import notices as notice_services
from certification.services import panels as panel_services

from . import engine


def _lock(case: Case):
    """The row lock on the case's process (``CaseFlow.lock``), or nothing if the case has no process."""
    process = engine.process_for(case)
    return engine._flow().lock(process.pk) if process is not None else nullcontext()


def _complete(task: Task, user) -> None:
    """Finish an open human task whose service has just been called, so that the flow goes on (under the lock,
    inside the action's transaction)."""
    activation = task.flow_task.activation_class(task)
    if task.owner_id is None:
        activation.assign(user)
    activation.start(None)
    activation.execute()


# --- Declaration, withdrawal, cancellation --------------------------------------------------------------------
def case_declare(*, actor, institution: Institution, grade: str, kind: str, answers: Mapping[str, str],
                 evidence: Mapping, scheme: str, gates: Mapping[str, bool] | None = None,
                 now: dt.datetime | None = None) -> Case:
    """Declare (``certification.services.cases.case_declare``) under ``scheme`` and start the case's process.
    A refused declaration leaves neither a case nor a process."""
    with transaction.atomic(durable=True):
        case = case_services.case_declare(actor=actor, institution=institution, grade=grade, kind=kind,
                                          answers=answers, evidence=evidence, gates=gates, scheme=scheme, now=now)
        engine.case_start_process(case)
    return case


def case_withdraw(*, actor, case: Case, reason: str) -> Case:
    """The applicant withdraws its case, with a reason: the case closes and its process is cancelled."""
    return _case_end(case_services.case_withdraw, actor=actor, case=case, reason=reason)


def case_cancel(*, actor, case: Case, reason: str) -> Case:
    """The bureau cancels a case, with a reason: the case closes and its process is cancelled."""
    return _case_end(case_services.case_cancel, actor=actor, case=case, reason=reason)


def _case_end(service: Callable[..., Case], *, actor, case: Case, reason: str) -> Case:
    with transaction.atomic(durable=True), _lock(case):
        case = service(actor=actor, case=case, reason=reason)
        engine.case_end_process(case)
    return case


# --- Tasks ----------------------------------------------------------------------------------------------------
class TaskActionUnknown(ValueError):
    """The posted action is not one of the task's, or the posted rubric item not one of the case's."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class TaskOutcome:
    """What came of acting on a task. ``closed`` says why nothing was done (the task is done, cancelled or
    someone else's); otherwise ``form`` is the bound form of the action, ``done`` whether the task was
    completed, and ``refusal`` the service's ``RuleViolation`` if it refused (then nothing was changed)."""

    form: forms.Form | None = None
    done: bool = False
    refusal: RuleViolation | None = None
    closed: str = ""

    @property
    def ok(self) -> bool:
        return not self.closed and self.refusal is None and self.form is not None and self.form.is_valid()


def _posting(user, data: QueryDict, files: MultiValueDict | None, task: Task | None) -> HttpRequest:
    """A request as the task's page would receive it: the task views read the user and the posted form
    from it (and nothing else), so that the page and the API validate alike."""
    request = HttpRequest()
    request.method = "POST"
    request.user = user
    request.POST = data
    request.FILES = files if files is not None else MultiValueDict()
    if task is not None:
        request.activation = task.flow_task.activation_class(task)
    return request


def _perform(view, action: str) -> TaskOutcome:
    """Run the view's form and service for ``action``; a refusal or an invalid form rolls everything back."""
    if action not in view.actions:
        raise TaskActionUnknown("action", _("Unknown action."))
    if action == "item" and view.item(str(view.request.POST.get("item", ""))) is None:
        raise TaskActionUnknown("item", _("There is no such item in this rubric."))
    form, done, refusal = view.perform(action)
    if refusal is not None or not form.is_valid():
        transaction.set_rollback(True)  # a refusal changes nothing, whatever the service had begun
    return TaskOutcome(form=form, done=done, refusal=refusal)


def task_act(*, user, case: Case, task: Task, action: str, data: QueryDict,
             files: MultiValueDict | None = None) -> TaskOutcome:
    """Act on one human task of ``case``, as its page's form ``action`` posts ``data`` (fields prefixed by the
    action, as the page names them): validate the form, call the task's service and, when the service has
    moved the case, complete the task — all under the process's row lock, in one transaction. The page and
    the API both come here. A task that is no longer open, or not the user's, changes nothing and says why.

    Raises :class:`TaskActionUnknown` for an action the task does not have (or an unknown rubric item)."""
    from .views import task_closed_message

    with transaction.atomic(durable=True), engine._flow().lock(task.process_id):
        task.refresh_from_db()
        message = task_closed_message(user, task)
        if message:
            return TaskOutcome(closed=message)
        node = task.flow_task
        view = node.view.view_class(**node.view.view_initkwargs)
        request = _posting(user, data, files, task)
        case.refresh_from_db()  # as it stands under the lock
        request.case = case
        view.setup(request, pk=case.pk, task_pk=task.pk)
        return _perform(view, action)


def reopened_sheet_act(*, user, case: Case, action: str, data: QueryDict) -> TaskOutcome:
    """A panel member saves an item of, or submits, the sheet the chair reopened after the member's scoring
    task was done (outside the flow: there is no task to complete), in one transaction."""
    from .task_views import ReopenedSheetView

    with transaction.atomic(durable=True):
        view = ReopenedSheetView()
        view.setup(_posting(user, data, None, None), pk=case.pk)
        return _perform(view, action)


def task_complete(*, user, case: Case, node: str, work: Callable[[], object]) -> None:
    """Run ``work`` (the services of a step, called as a script would: the demo cases) and complete the open
    task of ``node``, under the process's row lock, in one transaction."""
    flow = engine._flow()
    with transaction.atomic(durable=True), _lock(case):
        work()
        task = engine.open_tasks(case).get(flow_task=getattr(flow, node))
        _complete(task, user)


# --- The notice and its objections ----------------------------------------------------------------------------
def notice_publish(*, actor, bureau, cases: list[Case], title: str, now: dt.datetime | None = None) -> Notice:
    """Publish one public notice listing ``cases`` and fire each case's "published in a notice" event at
    once, so that the cases' processes wait for the notice to close."""
    with transaction.atomic(durable=True):
        notice = notice_services.notice_publish(actor=actor, bureau=bureau, cases=cases, title=title, now=now)
        for case in cases:
            engine.fire_conditions(case)
    return notice


def objection_resolve(*, actor, objection: Objection, decision: str, reason: str,
                      grade: str | None = None, set_aside_as: str = "") -> Objection:
    """Resolve an objection (dismiss, set aside, downgrade, uphold) and, when no objection of the case is left
    pending, complete the bureau's "resolve the objections" task — exactly as that task's page does."""
    case = Case.objects.get(pk=objection.case_id)
    with transaction.atomic(durable=True), _lock(case):
        objection = notice_services.objection_resolve(actor=actor, objection=objection, decision=decision,
                                                      reason=reason, grade=grade, set_aside_as=set_aside_as)
        if not case.objections.filter(status=Objection.Status.RECEIVED).exists():
            flow = engine._flow()
            for task in engine.open_tasks(case).filter(flow_task=flow.resolve_objections):
                if engine.may_work_on(actor, task):
                    _complete(task, actor)
    return objection


def objection_verify(*, actor, objection: Objection, experts: list, findings: str, verified_on: dt.date):
    """Record that two or three experts verified an objection (the page and the API), in one transaction."""
    with transaction.atomic(durable=True):
        return notice_services.objection_verify(actor=actor, objection=objection, experts=experts,
                                                findings=findings, verified_on=verified_on)


# --- The panel ------------------------------------------------------------------------------------------------
def panel_change_chair(*, actor, case: Case, chair: Expert, reason: str) -> PanelMember:
    """Name another member of the panel as chair, with a reason; the chair's open tasks (on-site record,
    conclusion) go to the new chair."""
    with transaction.atomic(durable=True), _lock(case):
        member = panel_services.panel_change_chair(actor=actor, case=case, chair=chair, reason=reason)
        engine.chair_tasks_follow(case, member.expert.user)
    return member


def panel_sign_recusal(*, actor, member: PanelMember) -> PanelMember:
    """A member signs the recusal declaration of their seat (nothing of the process changes)."""
    with transaction.atomic(durable=True):
        return panel_services.panel_member_sign_recusal(actor=actor, member=member)


def panel_declare_conflict(*, actor, member: PanelMember, reason: str) -> PanelMember:
    """A member declares a conflict of interest instead of signing: the seat is given up; its scoring task
    waits, out of the member's inbox, for the replacement the bureau names."""
    case = member.panel.case
    with transaction.atomic(durable=True), _lock(case):
        return panel_services.panel_member_declare_conflict(actor=actor, member=member, reason=reason)


def panel_replace_member(*, actor, case: Case, member: PanelMember, expert: Expert) -> PanelMember:
    """The bureau names the replacement of a member who declared a conflict; the seat's scoring task (and the
    chair's tasks, if the replacement takes the chair) go to the replacement."""
    with transaction.atomic(durable=True), _lock(case):
        new = panel_services.panel_replace_member(actor=actor, case=case, member=member, expert=expert)
        engine.seat_tasks_follow(case, old_member=member.pk, new_member=new)
        if new.is_chair:
            engine.chair_tasks_follow(case, expert.user)
    return new


def panel_member_reassign(*, actor, case: Case, member: PanelMember) -> PanelMember:
    """The bureau gives a seat's open scoring task (and the chair's tasks, for the chair) to the account its
    expert signs in with now."""
    with transaction.atomic(durable=True), _lock(case):
        seat = panel_services.panel_member_reassign(actor=actor, case=case, member=member)
        engine.seat_tasks_follow(case, old_member=seat.pk, new_member=seat)
        if seat.is_chair:
            engine.chair_tasks_follow(case, seat.expert.user)
    return seat


def case_designate_prechecker(*, actor, case: Case, prechecker) -> Case:
    """The pre-checking bureau designates (again) the case's pre-checker outside the designation task: after the
    case passed up from a suspended bureau, whose pre-checker it lost. The open pre-check task goes to them."""
    with transaction.atomic(durable=True), _lock(case):
        case = case_services.case_designate_prechecker(actor=actor, case=case, prechecker=prechecker)
        engine.tasks_follow(case, prechecker, nodes=("precheck",))
    return case


# --- The certificate ------------------------------------------------------------------------------------------
def case_issue_certificate(*, actor, case: Case, issued_on: dt.date | None = None) -> Certificate:
    """Issue the approved case's certificate and fire its "certificate issued" event, so that the case's
    process ends now rather than at the next minute's sweep."""
    with transaction.atomic(durable=True):
        certificate = case_services.case_issue_certificate(actor=actor, case=case, issued_on=issued_on)
        engine.fire_conditions(case)
    return certificate


# --- Oversight: spot-check rounds, orders, suspensions (第九条, 第十二条) ----------------------------------------
def _round_conditions(round_) -> None:
    """Fire the round process's conditions that now hold (drawn, concluded), at once rather than at the next
    minute's sweep."""
    from django.contrib.contenttypes.models import ContentType
    from viewflow.workflow.status import STATUS

    from certification.models import SpotCheckRound

    from .models import SpotCheckProcess

    process = SpotCheckProcess.objects.filter(
        artifact_content_type=ContentType.objects.get_for_model(SpotCheckRound), artifact_object_id=round_.pk).first()
    if process is None:
        return
    for task in Task.objects.filter(process=process, flow_task_type="CONDITION", status=STATUS.NEW):
        with task.activation() as activation:
            if activation.start.can_proceed() and activation.condition_met():
                activation.start()
                activation.execute()


def _spot_check_flow():
    from .flows import SpotCheckFlow

    return SpotCheckFlow


def spot_check_plan(*, actor, **fields):
    """Plan a round (``certification.services.oversight.round_plan``) and start its process."""
    from certification.services import oversight

    with transaction.atomic(durable=True):
        round_ = oversight.round_plan(actor=actor, **fields)
        _spot_check_flow().start.run(round_=round_)
    return round_


def _on_round(service, round_of):
    """An oversight service, then the round's process conditions, in one transaction."""
    def action(**kwargs):
        with transaction.atomic(durable=True):
            result = service(**kwargs)
            _round_conditions(round_of(result))
        return result
    return action


def _oversight(name: str):
    from certification.services import oversight

    return getattr(oversight, name)


def spot_check_draw(**kwargs):
    return _on_round(_oversight("round_draw"), lambda r: r)(**kwargs)


def spot_check_conclude(**kwargs):
    return _on_round(_oversight("round_conclude_bureau"), lambda c: c.round)(**kwargs)


def spot_check_finding(**kwargs):
    with transaction.atomic(durable=True):
        return _oversight("finding_record")(**kwargs)


def spot_check_inspected(**kwargs):
    with transaction.atomic(durable=True):
        return _oversight("item_inspected")(**kwargs)


def order_answer(**kwargs):
    with transaction.atomic(durable=True):
        return _oversight("order_answer")(**kwargs)


def order_decide(**kwargs):
    with transaction.atomic(durable=True):
        return _oversight("order_decide")(**kwargs)


def bureau_suspend(**kwargs):
    """Suspend a bureau's authority: its running cases pass to the higher bureau, and their open tasks that
    the bureau's own people held are released for the higher bureau to take."""
    with transaction.atomic(durable=True):
        suspension = _oversight("bureau_suspend")(**kwargs)
        engine.tasks_release(suspension.cases_moved, bureau=suspension.bureau)
    return suspension


def bureau_reinstate(**kwargs):
    with transaction.atomic(durable=True):
        return _oversight("bureau_reinstate")(**kwargs)
