"""The caller's tasks through the API: listed as in the inbox, completed through the same forms and services
as the task pages (same validation and refusals), 409 when no longer open, 404 for another's."""

import pytest

from certification.enums import BureauLevel, RegionLevel
from certification.models import Stage
from tests.factories import BureauFactory, RegionFactory, UserFactory
from tests.worlds import staff_of
from workflows.engine import case_start_process

from .conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def declared(make_case):
    """``make_case`` with the case's process started."""
    def make(*args, **kwargs):
        case, applicant = make_case(*args, **kwargs)
        case_start_process(case)
        return case, applicant
    return make


def test_the_bureau_lists_its_tasks_and_completes_one_as_on_the_page(declared, bureaus):
    case, applicant = declared()
    declared("市财政局", region="city", bureau="city")  # another bureau's case: not listed
    api = client_for(staff_of(bureaus["county"]))
    tasks = api.get("/api/v1/tasks/").json()
    assert len(tasks["results"]) == 1
    task = tasks["results"][0]
    assert (task["case"], task["node"], task["title"], task["actions"]) == (
        case.pk, "plan", "列入考评计划", [{"action": "plan", "label": "提交"}])
    assert (task["status"], task["status_display"], task["owner"], task["case_stage"]) == (
        "waiting", "等待办理", None, "declared")
    assert api.get(f"/api/v1/tasks/{task['id']}/").json()["node"] == "plan"

    # the form's own validation, in Chinese, changes nothing
    bad = api.post(f"/api/v1/tasks/{task['id']}/complete/", {"action": "plan", "data": {"decision": "return"}},
                   format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"reason": [{"code": "invalid", "message": "须填写理由。"}]}
    unknown = api.post(f"/api/v1/tasks/{task['id']}/complete/", {"action": "approve", "data": {}}, format="json")
    assert unknown.status_code == 400
    case.refresh_from_db()
    assert case.stage == Stage.DECLARED

    done = api.post(f"/api/v1/tasks/{task['id']}/complete/", {"action": "plan", "data": {"decision": "include"}},
                    format="json")
    assert done.status_code == 200 and done.json() == {"done": True, "case": case.pk, "stage": "planned",
                                                        "stage_display": "已列入考评计划：自查",
                                                        "outcome": "open", "outcome_display": "进行中"}
    # a double submit: the task is done; nothing moves
    again = api.post(f"/api/v1/tasks/{task['id']}/complete/", {"action": "plan", "data": {"decision": "include"}},
                     format="json")
    assert again.status_code == 409 and "不再" in again.json()["detail"]
    # the applicant now has the self-check, and a refusal of its service comes back with the rule
    mine = client_for(applicant).get("/api/v1/tasks/").json()["results"]
    assert [t["node"] for t in mine] == ["self_check"]
    refused = client_for(applicant).post(f"/api/v1/tasks/{mine[0]['id']}/complete/",
                                         {"action": "submit", "data": {}}, format="json")
    assert refused.status_code == 400
    assert {r["code"] for r in refused.json()["refusals"]} & {"sheet.incomplete", "case.acceptance_incomplete"}


def test_another_users_task_answers_404_and_someone_elses_409(declared, bureaus, regions):
    case, applicant = declared()
    api = client_for(staff_of(bureaus["county"]))
    task_id = api.get("/api/v1/tasks/").json()["results"][0]["id"]
    sibling = BureauFactory(region=RegionFactory(name="邻县", code="420103", level=RegionLevel.COUNTY,
                                                 parent=regions["city"]), level=BureauLevel.COUNTY, parent=bureaus["city"])
    for outsider in (staff_of(sibling), UserFactory()):
        assert client_for(outsider).get(f"/api/v1/tasks/{task_id}/").status_code == 404
        assert client_for(outsider).post(f"/api/v1/tasks/{task_id}/complete/",
                                         {"action": "plan", "data": {"decision": "include"}},
                                         format="json").status_code == 404
    # the applicant sees the case, and the city bureau reads it (第九条, 第十二条), but the plan is the county's
    for reader in (applicant, staff_of(bureaus["city"])):
        response = client_for(reader).post(f"/api/v1/tasks/{task_id}/complete/",
                                           {"action": "plan", "data": {"decision": "include"}}, format="json")
        assert response.status_code == 409
    case.refresh_from_db()
    assert case.stage == Stage.DECLARED
