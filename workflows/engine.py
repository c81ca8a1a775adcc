"""The glue between a case and its process: start it, find the tasks a user may work on, fire the conditions
a service has just made true, end the process when the case ends outside the flow. No business rule here."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from certification.models import Case
from certification.selectors import cases_for_user

from .models import CaseProcess

OPEN = (STATUS.NEW, STATUS.ASSIGNED)


def _flow():
    from .flows import CaseFlow

    return CaseFlow


def process_for(case: Case) -> CaseProcess | None:
    return CaseProcess.objects.filter(artifact_content_type=ContentType.objects.get_for_model(Case),
                                      artifact_object_id=case.pk).order_by("-pk").first()


def case_start_process(case: Case) -> CaseProcess:
    """Start the case's process (call it in the declaration's transaction)."""
    return _flow().start.run(case=case)


def open_tasks(case: Case):
    """The human tasks of the case waiting for someone."""
    process = process_for(case)
    if process is None:
        return Task.objects.none()
    return (Task.objects.filter(process=process, flow_task_type="HUMAN", status__in=OPEN)
            .select_related("owner").order_by("created"))


def may_work_on(user, task: Task) -> bool:
    """The task's owner, or, for a task nobody has taken, a user the node's permission admits."""
    if not (user and user.is_authenticated) or task.status not in OPEN:
        return False
    if task.owner_id is not None:
        return task.owner_id == user.pk
    return task.flow_task.can_assign(user, task)


def inbox(user) -> list[tuple[Task, Case]]:
    """Every open task, of the cases the user may see, that the user may work on."""
    cases = {c.pk: c for c in cases_for_user(user).select_related("institution", "grade", "bureau")}
    if not cases:
        return []
    ct = ContentType.objects.get_for_model(Case)
    tasks = (Task.objects.filter(flow_task_type="HUMAN", status__in=OPEN, process__artifact_content_type=ct,
                                 process__artifact_object_id__in=list(cases))
             .select_related("process", "owner").order_by("created"))
    return [(task, cases[task.process.artifact_object_id]) for task in tasks if may_work_on(user, task)]


def fire_conditions(case: Case) -> int:
    """Fire the case's armed conditional events whose condition now holds (e.g. the case was just published
    in a notice, or its certificate issued), at once rather than at the next minute's sweep."""
    process = process_for(case)
    if process is None:
        return 0
    fired = 0
    for task in Task.objects.filter(process=process, flow_task_type="CONDITION", status=STATUS.NEW):
        try:
            with task.activation() as activation:
                if activation.start.can_proceed() and activation.condition_met():
                    activation.start()
                    activation.execute()
                    fired += 1
        except FlowLockFailed:  # another dispatcher holds it; the sweep fires it
            continue
    return fired


def case_end_process(case: Case) -> None:
    """The case ended outside the flow (withdrawn, cancelled): cancel whatever of its process is open."""
    process = process_for(case)
    if process is None or process.finished is not None:
        return
    with transaction.atomic():
        _flow().instance.cancel(process)


def chair_tasks_follow(case: Case, user) -> int:
    """After the bureau names another chair, the chair's open tasks (on-site record, conclusion) go to them."""
    process = process_for(case)
    if process is None:
        return 0
    moved = 0
    for task in Task.objects.filter(process=process, flow_task_type="HUMAN", status__in=OPEN):
        if task.flow_task.name in ("onsite", "conclude") and task.owner_id != user.pk:
            task.flow_task.activation_class(task).reassign(user=user)
            moved += 1
    return moved
