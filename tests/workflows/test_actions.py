"""workflows.actions: each case action runs its service and its process step in one transaction — both or
neither — and every caller (the pages, the API, the demo) goes through them."""

import re
from pathlib import Path
from unittest import mock

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from rest_framework.test import APIClient
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from certification import permissions
from certification.enums import Kind
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Objection, Outcome, Stage
from certification.services.notices import objection_file
from certification.tasks import fire_due_timers
from tests.factories import UserFactory
from tests.worlds import all_conditions, at, pdf
from workflows import actions, engine
from workflows.models import CaseProcess

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


@pytest.fixture(autouse=True)
def clock():
    """Inside the declaration window unless a test moves the clock itself."""
    with at(2026, 2, 1, 9, 0):
        yield


def declare(world, actor=None) -> Case:
    """The shared county world's institution declares for the second grade, through the action."""
    institution, people, _experts = world
    answers, evidence = all_conditions()
    return actions.case_declare(scheme="archives",
                                actor=actor or people["applicant"], institution=institution, grade="second",
                                kind=Kind.PROMOTION, answers=answers, evidence=evidence)


def open_task(case: Case, node: str) -> Task:
    return engine.open_tasks(case).get(flow_task=getattr(engine._flow(), node))


def act(user, case: Case, node: str, action: str, files=None, **fields) -> actions.TaskOutcome:
    """Post the form of ``action`` on the open task of ``node``, as its page would."""
    data = QueryDict(mutable=True)
    data["action"] = action
    for key, value in fields.items():
        data.setlist(f"{action}-{key}", [str(v) for v in (value if isinstance(value, list) else [value])])
    return actions.task_act(user=user, case=case, task=open_task(case, node), action=action, data=data,
                            files=files)


def open_nodes(case: Case) -> set[str]:
    return {task.flow_task.name for task in engine.open_tasks(case)}


def state(case: Case):
    case.refresh_from_db()
    return case.stage, case.outcome


# --- Declaration ----------------------------------------------------------------------------------------------
def test_a_declaration_starts_the_process_in_the_same_go(world):
    case = declare(world)

    assert state(case) == (Stage.DECLARED, Outcome.OPEN)
    assert open_nodes(case) == {"plan"}


def test_a_refused_declaration_leaves_neither_a_case_nor_a_process(world):
    stranger = UserFactory()

    with pytest.raises(RuleViolation):
        declare(world, actor=stranger)

    assert Case.objects.count() == 0
    assert CaseProcess.objects.count() == 0


def test_a_process_that_fails_to_start_leaves_no_declaration(world):
    with mock.patch.object(engine, "case_start_process", side_effect=RuntimeError("the flow is broken")), \
            pytest.raises(RuntimeError):
        declare(world)

    assert Case.objects.count() == 0
    assert AuditEntry.objects.filter(action="case.declare").count() == 0


# --- Withdrawal and cancellation ------------------------------------------------------------------------------
def test_a_withdrawal_closes_the_case_and_cancels_its_process_in_one_go(world):
    _institution, people, _experts = world
    case = declare(world)

    actions.case_withdraw(actor=people["applicant"], case=case, reason="暂不申报")

    assert state(case) == (Stage.CLOSED, Outcome.WITHDRAWN)
    assert engine.process_for(case).status == PROCESS.CANCELED
    assert open_nodes(case) == set()


def test_a_cancellation_closes_the_case_and_cancels_its_process(world):
    _institution, people, _experts = world
    case = declare(world)

    actions.case_cancel(actor=people["staff"], case=case, reason="申报单位已撤并")

    assert state(case) == (Stage.CLOSED, Outcome.CANCELLED)
    assert engine.process_for(case).status == PROCESS.CANCELED


def test_a_process_that_fails_to_cancel_leaves_the_case_open(world):
    _institution, people, _experts = world
    case = declare(world)

    with mock.patch.object(engine, "case_end_process", side_effect=RuntimeError("the flow is broken")), \
            pytest.raises(RuntimeError):
        actions.case_withdraw(actor=people["applicant"], case=case, reason="暂不申报")

    assert state(case) == (Stage.DECLARED, Outcome.OPEN)
    assert open_nodes(case) == {"plan"}


def test_a_refused_withdrawal_leaves_the_process_running(world):
    _institution, people, _experts = world
    case = declare(world)

    with pytest.raises(RuleViolation):
        actions.case_withdraw(actor=people["applicant"], case=case, reason="  ")

    assert state(case) == (Stage.DECLARED, Outcome.OPEN)
    assert engine.process_for(case).status != PROCESS.CANCELED


# --- Tasks ----------------------------------------------------------------------------------------------------
def test_a_task_action_calls_the_service_and_completes_the_task(world):
    _institution, people, _experts = world
    case = declare(world)

    outcome = act(people["staff"], case, "plan", "plan", decision="include")

    assert outcome.ok and outcome.done
    assert state(case) == (Stage.PLANNED, Outcome.OPEN)
    assert open_nodes(case) == {"self_check"}


def test_a_task_that_fails_to_complete_rolls_back_its_service(world):
    _institution, people, _experts = world
    case = declare(world)

    with mock.patch("workflows.task_views.TaskView.complete", side_effect=RuntimeError("the flow is broken")), \
            pytest.raises(RuntimeError):
        act(people["staff"], case, "plan", "plan", decision="include")

    assert state(case) == (Stage.DECLARED, Outcome.OPEN)
    assert open_nodes(case) == {"plan"}
    assert AuditEntry.objects.filter(action__startswith="case.plan").count() == 0


def test_a_refused_task_action_changes_nothing_and_says_why(world):
    _institution, people, _experts = world
    case = declare(world)
    task = open_task(case, "plan")

    outcome = act(people["staff"], case, "plan", "plan", decision="return", reason="")

    assert not outcome.ok and not outcome.done
    assert outcome.form.errors
    assert state(case) == (Stage.DECLARED, Outcome.OPEN)
    task.refresh_from_db()
    assert task.status in (STATUS.NEW, STATUS.ASSIGNED) and task.owner_id is None


def test_a_task_already_done_is_closed_and_nothing_moves(world):
    _institution, people, _experts = world
    case = declare(world)
    task = open_task(case, "plan")
    act(people["staff"], case, "plan", "plan", decision="include")

    outcome = actions.task_act(user=people["staff"], case=case, task=task, action="plan",
                               data=QueryDict("action=plan&plan-decision=return&plan-reason=x"))

    assert outcome.closed and not outcome.done
    assert state(case) == (Stage.PLANNED, Outcome.OPEN)


def test_the_page_and_the_api_complete_a_task_through_the_same_action(client, world):
    _institution, people, _experts = world
    case = declare(world)
    with mock.patch.object(actions, "task_act", wraps=actions.task_act) as task_act:
        client.force_login(people["staff"])
        page = client.post(reverse("case_task", args=[case.pk, open_task(case, "plan").pk]),
                           {"action": "plan", "plan-decision": "include"})
        api = APIClient()
        api.force_authenticate(people["applicant"])
        code = next(iter(case.scheme_version.specification().rubric_for(case.grade.code).items()))[1].code
        answer = api.post(f"/api/v1/tasks/{open_task(case, 'self_check').pk}/complete/",
                          {"action": "item", "data": {"item": code}}, format="json")

    assert page.status_code == 302
    assert answer.status_code == 200, answer.content
    assert [(c.kwargs["user"], c.kwargs["action"]) for c in task_act.call_args_list] == [
        (people["staff"], "plan"), (people["applicant"], "item")]
    assert state(case) == (Stage.PLANNED, Outcome.OPEN)
    assert open_nodes(case) == {"self_check"}


# --- The notice and its objections ----------------------------------------------------------------------------
def to_notice(world):
    """A case declared, planned, self-checked, pre-checked and published on 2026-03-01 (closes 03-10)."""
    _institution, people, _experts = world
    with at(2026, 3, 1, 9, 0):
        case = declare(world)
        act(people["staff"], case, "plan", "plan", decision="include")
        applicant = people["applicant"]
        for _c, item in case.scheme_version.specification().rubric_for(case.grade.code).items():
            data = QueryDict(mutable=True)
            data.update({"action": "item", "item": item.code})
            assert actions.task_act(user=applicant, case=case, task=open_task(case, "self_check"), action="item",
                                    data=data).ok
        report = pdf("汇报材料.pdf")
        assert act(applicant, case, "self_check", "report", files=MultiValueDict({"report-report": [report]})).ok
        assert act(applicant, case, "self_check", "integrity", acknowledged="on").ok
        assert act(applicant, case, "self_check", "submit").done
        assert act(people["staff"], case, "designate", "designate", prechecker=people["prechecker"].pk).done
        assert act(people["prechecker"], case, "precheck", "decide", decision="pass", summary="符合要求").done
        notice = actions.notice_publish(actor=people["staff"], bureau=case.bureau, cases=[case], title="2026年公示")
    assert open_nodes(case) == set()  # the process waits on the notice's timer, not on a person
    assert Task.objects.filter(process=engine.process_for(case), flow_task=engine._flow().notice_open,
                               finished__isnull=True).exists()
    return case, notice


def test_the_apis_objection_resolve_completes_the_bureaus_resolve_task(world):
    _institution, people, _experts = world
    case, notice = to_notice(world)
    with at(2026, 3, 5, 9, 0):
        objection_file(notice=notice, case=case, name="张三", contact="13800000000", grounds="档案库房未达标")
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        assert open_nodes(case) == {"resolve_objections"}
        api = APIClient()
        api.force_authenticate(people["staff"])
        objection = Objection.objects.get(case=case)

        response = api.post(f"/api/v1/objections/{objection.pk}/resolve/",
                            {"decision": "dismissed", "reason": "经核实不属实"}, format="json")

    assert response.status_code == 200, response.content
    assert state(case) == (Stage.PANEL, Outcome.OPEN)
    assert open_nodes(case) == {"form_panel"}


# --- Every caller goes through the actions --------------------------------------------------------------------
def test_no_module_of_workflows_but_the_actions_and_the_engine_opens_a_transaction():
    allowed = {WORKFLOWS / "actions.py", WORKFLOWS / "engine.py"}
    found = [str(path.relative_to(WORKFLOWS)) for path in sorted(WORKFLOWS.rglob("*.py"))
             if path not in allowed and "transaction.atomic" in path.read_text(encoding="utf-8")]

    assert found == []


def test_no_module_of_workflows_spells_a_permission_codename():
    codenames = sorted(perm.partition(".")[2] for perm in permissions.OBJECT_PERMISSIONS)
    pattern = re.compile(r"""["'](?:certification\.)?(?:""" + "|".join(codenames) + r""")["']""")
    found = [str(path.relative_to(WORKFLOWS)) for path in sorted(WORKFLOWS.rglob("*.py"))
             if "migrations" not in path.parts and pattern.search(path.read_text(encoding="utf-8"))]

    assert len(codenames) == 6
    assert found == []
