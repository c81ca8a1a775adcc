"""An anonymous objection on the bureau's "resolve the objections" page: recorded and flagged, verified by two
or three experts of the pool, set aside with a reason; and the same through the API."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from certification.models import AuditEntry, Objection, ObjectionVerification, Outcome, Stage
from certification.services.notices import objection_file
from certification.tasks import fire_due_timers
from tests.workflows.test_flows import declare, state, to_notice
from tests.worlds import at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def held_by_an_anonymous_objection(client, world):
    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
        to_notice(d, world)
        objection_file(notice=d.case.notices.get(), case=d.case, name="", contact="", grounds="听说库房漏水")
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
    assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)  # an anonymous objection holds the case too
    return d, Objection.objects.get(case=d.case)


def test_the_bureau_verifies_an_anonymous_objection_by_two_experts_then_sets_it_aside(client, world):
    _institution, people, experts = world
    d, objection = held_by_an_anonymous_objection(client, world)
    with at(2026, 3, 11, 9, 0):
        client.force_login(people["staff"])
        page = client.get(d.url("resolve_objections")).content.decode()
        assert ("匿名" in page, "听说库房漏水" in page) == (True, True)
        response = d.post(people["staff"], "resolve_objections", "verify",
                          {"objection": objection.pk, "experts": [experts[1].pk], "findings": "库房无渗漏",
                           "verified_on": "2026-03-11"}, expect=200)
        assert "异议复核由二至三名专家进行；现选定了1名。" in response.content.decode()
        assert ObjectionVerification.objects.count() == 0
        d.post(people["staff"], "resolve_objections", "verify",
               {"objection": objection.pk, "experts": [experts[1].pk, experts[2].pk], "findings": "经实地查看，库房无渗漏",
                "verified_on": "2026-03-11"})
        assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)  # recorded; the objection still to resolve
        d.post(people["staff"], "resolve_objections", "resolve",
               {"objection": objection.pk, "decision": "set_aside", "set_aside_as": "anonymous",
                "reason": "匿名反映，经专家复核不实"})
    assert state(d.case) == (Stage.PANEL, Outcome.OPEN)
    objection.refresh_from_db()
    assert (objection.status, objection.set_aside_as, objection.anonymous) == ("set_aside", "anonymous", True)
    client.force_login(people["staff"])
    case_page = client.get(reverse("case_detail", args=[d.case.pk])).content.decode()
    assert (f"{experts[1].name}、{experts[2].name}，2026-03-11：经实地查看，库房无渗漏" in case_page,
            "不予受理（匿名或无事实依据）（匿名：未留真实姓名或联系方式）：匿名反映，经专家复核不实" in case_page) == (True, True)
    assert AuditEntry.objects.filter(action__in=["objection.verify", "objection.resolve"]).count() == 2


def test_through_the_api_the_bureau_records_a_verification_and_sees_it(client, world):
    _institution, people, experts = world
    _d, objection = held_by_an_anonymous_objection(client, world)
    api = APIClient()
    api.force_authenticate(people["staff"])
    url = f"/api/v1/objections/{objection.pk}/verify/"
    with at(2026, 3, 11, 9, 0):
        refused = api.post(url, {"experts": [experts[0].pk], "findings": "x", "verified_on": "2026-03-11"},
                           format="json")
        done = api.post(url, {"experts": [experts[0].pk, experts[1].pk, experts[2].pk], "findings": "反映不实",
                              "verified_on": "2026-03-11"}, format="json")
    assert (refused.status_code, [r["code"] for r in refused.json()["refusals"]]) == (400, ["objection.verifiers"])
    assert (done.status_code, done.json()["anonymous"], done.json()["verification"]) == (200, True, {
        "experts": sorted(e.name for e in experts[:3]), "findings": "反映不实", "verified_on": "2026-03-11"})
    stranger = APIClient()
    stranger.force_authenticate(people["applicant"])
    assert stranger.post(url, {"experts": [experts[0].pk, experts[1].pk], "findings": "x",
                               "verified_on": "2026-03-11"}, format="json").status_code == 404
