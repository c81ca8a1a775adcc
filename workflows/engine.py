"""The glue between a case and its process: start it, find the tasks a user may work on, fire the conditions
a service has just made true, end the process when the case ends outside the flow. No business rule here."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from certification.models import Case, Outcome
from certification.permissions import granted
from certification.selectors import case_visibility

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


def open_tasks(case: Case, *, process: CaseProcess | None = None):
    """The human tasks of the case waiting for someone (``process``: the case's, when the caller has it)."""
    process = process or process_for(case)
    if process is None:
        return Task.objects.none()
    return (Task.objects.filter(process=process, flow_task_type="HUMAN", status__in=OPEN)
            .select_related("owner").order_by("created"))


def _claim_rules() -> dict[tuple[str, str, str | None], list]:
    """The flow's human nodes that a user may take while nobody owns them, grouped by what the node's
    ``.Permission(perm, obj=...)`` asks: ``(permission, the case's field, the field read where it is empty)``
    -> nodes. Read from the flow's own declarations, so that the inbox's query and the task page's check are
    the same rule."""
    rules: dict[tuple[str, str, str | None], list] = {}
    for node in _flow().instance.nodes():
        obj = getattr(node, "_owner_permission_obj", None)
        field = getattr(obj, "case_field", None)
        perm = getattr(node, "_owner_permission", None)
        if field and isinstance(perm, str):
            rules.setdefault((perm, field, getattr(obj, "case_fallback", None)), []).append(node)
    return rules


def _of_bureaus(field: str, fallback: str | None, ids) -> Q:
    """The cases whose ``field`` (or, where it is empty, ``fallback``) is one of ``ids``."""
    query = Q(**{f"{field}_id__in": ids})
    if fallback:
        query |= Q(**{f"{field}__isnull": True, f"{fallback}_id__in": ids})
    return query


def workable_tasks(user) -> QuerySet:
    """The open human tasks ``user`` may work on, as one query: the tasks it owns on cases it may see, and
    the tasks nobody owns yet whose node's permission it holds on the case's bureau or institution (the
    grant itself makes the case visible). Global permissions and the superuser flag never count, as
    everywhere in this product.

    The claimable tasks are found from the open cases of the user's bureaus (one hashed list, read on the
    index ``case_bureau_queue``), not by asking, task by task, whose case each one is; an ended case has no
    open task (its process is cancelled with it)."""
    if not (user and user.is_authenticated and user.is_active):
        return Task.objects.none()
    waiting = Task.objects.filter(flow_task_type="HUMAN", status__in=OPEN,
                                  process__artifact_content_type=ContentType.objects.get_for_model(Case)).order_by()
    # a panel member's own task shows in the inbox before they sign the recusal declaration (its page shows
    # the declaration alone); the case itself opens to them once they have signed
    visible = Case.objects.filter(case_visibility(user, unsigned_seats=True), pk=OuterRef("process__artifact_object_id"))
    parts = [waiting.filter(Exists(visible), owner=user).values("pk")]
    open_cases = Case.objects.filter(outcome=Outcome.OPEN)
    for (perm, field, fallback), nodes in _claim_rules().items():
        ids = sorted(granted(user, perm))
        if ids:
            parts.append(waiting.filter(owner__isnull=True, flow_task__in=nodes, process__artifact_object_id__in=(
                open_cases.filter(_of_bureaus(field, fallback, ids)).values("pk"))).values("pk"))
    # A union of the parts, each planned on its own indexes (an OR of them makes the database scan the table).
    return Task.objects.filter(pk__in=parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0])


def workable_on_case(user, case: Case, tasks) -> set[int]:
    """The keys of those of ``case``'s open ``tasks`` that ``user`` may work on, without a query: the same rule
    as :func:`workable_tasks` (the tasks it owns; the tasks nobody owns whose node's permission it holds on the
    case's bureau or institution, on an open case), read from the case in hand. Only for a case this request
    read through the user's visibility (its matter page), as owning a task counts only on a visible case."""
    if not (user and user.is_authenticated and user.is_active):
        return set()
    mine = set()
    for task in tasks:
        if task.status not in OPEN or task.flow_task_type != "HUMAN":
            continue
        if task.owner_id is not None:
            if task.owner_id == user.pk:
                mine.add(task.pk)
            continue
        if case.outcome != Outcome.OPEN:
            continue
        for (perm, field, fallback), nodes in _claim_rules().items():
            holder = getattr(case, f"{field}_id")
            if holder is None and fallback:
                holder = getattr(case, f"{fallback}_id")
            if task.flow_task in nodes and holder is not None and holder in granted(user, perm):
                mine.add(task.pk)
                break
    return mine


def may_work_on(user, task: Task) -> bool:
    """The task's owner (on a case it may see), or, for a task nobody has taken, a user the node's
    permission admits: the same rule as :func:`workable_tasks`, for one task."""
    if not (user and user.is_authenticated) or task.status not in OPEN:
        return False
    if task.owner_id is not None and task.owner_id != user.pk:
        return False
    return workable_tasks(user).filter(pk=task.pk).exists()


def with_cases(tasks) -> list[tuple[Task, Case]]:
    """Each task with its case, in two queries for the whole page."""
    tasks = list(tasks)
    # The scheme version too: a task's words and due date may follow the scheme (the pre-check's delegation).
    cases = Case.objects.select_related("institution", "grade", "bureau", "panel", "scheme_version").in_bulk(
        {task.process.artifact_object_id for task in tasks})
    return [(task, cases[task.process.artifact_object_id]) for task in tasks]


def inbox(user) -> QuerySet:
    """The open tasks the user may work on, oldest first (a queryset: the pages show it a page at a time;
    :func:`with_cases` joins each page's cases)."""
    return workable_tasks(user).select_related("process", "owner").order_by("created", "pk")


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


def _give(task: Task, user) -> None:
    """Give an open human task to ``user``: assign one that has no owner (a member without an account when it
    was created), reassign one that has."""
    activation = task.flow_task.activation_class(task)
    if task.status == STATUS.NEW:
        activation.assign(user)
    else:
        activation.reassign(user=user)


def tasks_follow(case: Case, user, *, nodes: tuple[str, ...]) -> int:
    """The case's open tasks of these nodes go to ``user`` (those it does not hold already)."""
    process = process_for(case)
    if process is None:
        return 0
    moved = 0
    for task in Task.objects.filter(process=process, flow_task_type="HUMAN", status__in=OPEN):
        if task.flow_task.name in nodes and task.owner_id != user.pk:
            _give(task, user)
            moved += 1
    return moved


def chair_tasks_follow(case: Case, user) -> int:
    """After the bureau names another chair, the chair's open tasks (on-site record, conclusion) go to them."""
    return tasks_follow(case, user, nodes=("onsite", "conclude"))


def seat_tasks_follow(case: Case, *, old_member: int, new_member) -> int:
    """A member replaced after declaring a conflict: their open scoring task goes to the replacement (the task
    now names the new seat, and is assigned to the replacement's user)."""
    process = process_for(case)
    if process is None:
        return 0
    moved = 0
    for task in Task.objects.filter(process=process, flow_task_type="HUMAN", status__in=OPEN):
        if task.flow_task.name == "score" and (task.data or {}).get("member") == old_member:
            task.data = {**task.data, "member": new_member.pk}
            task.save(update_fields=["data"])
            _give(task, new_member.expert.user)
            moved += 1
    return moved


def tasks_release(case_ids, *, bureau) -> int:
    """The open tasks of these cases (whose authority just passed to a higher bureau) held by the people of
    ``bureau`` are released, for the higher bureau's people to take."""
    from guardian.models import UserObjectPermission

    people = set(UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(bureau), object_pk=str(bureau.pk)).values_list(
        "user_id", flat=True))
    released = 0
    tasks = Task.objects.filter(flow_task_type="HUMAN", status=STATUS.ASSIGNED, owner_id__in=people,
                                process__artifact_content_type=ContentType.objects.get_for_model(Case),
                                process__artifact_object_id__in=list(case_ids))
    for task in tasks:
        task.flow_task.activation_class(task).unassign()
        released += 1
    return released
