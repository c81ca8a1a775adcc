"""Oversight through the API: the same permissions as the pages (a lower bureau reads nothing of its parent's
rounds; another's object answers 404), the same services and refusals."""

import pytest

from certification.models import BureauConclusion, Case, Outcome, Stage
from tests.worlds import at, declared_case, make_institution, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _closed(world, archives_version, bureaus, n):
    _institution, people, _experts = world
    for i in range(n):
        case = declared_case(version=archives_version, institution=make_institution(world, f"县单位{i}"),
                             bureau=bureaus["county"], declared_by=people["applicant"])
        Case.objects.filter(pk=case.pk).update(stage=Stage.CLOSED, outcome=Outcome.PLAN_REFUSED)


def test_a_round_through_the_api(client, world, archives_version, bureaus):
    _institution, people, _experts = world
    province, county = bureaus["province"], bureaus["county"]
    inspector = staff_of(province)
    _closed(world, archives_version, bureaus, 2)
    with at(2026, 12, 1, 9, 0):
        client.force_login(inspector)
        planned = client.post("/api/v1/oversight/rounds/", {
            "bureau": province.pk, "year": 2026, "scope": [county.pk], "sampling": "count", "sample_count": 1},
            content_type="application/json")
        assert planned.status_code == 201
        pk = planned.json()["id"]
        drawn = client.post(f"/api/v1/oversight/rounds/{pk}/draw/", {}, content_type="application/json").json()
        assert drawn["status"] == "drawn" and len(drawn["seed"]) == 32
        item = client.get("/api/v1/oversight/draws/").json()["results"][0]
        finding = client.post(f"/api/v1/oversight/draws/{item['id']}/findings/", {
            "violation": "fee_taken", "description": "收取评审费"}, content_type="application/json")
        assert finding.json()["violation_name"] == "收取费用或附加条件"
        client.post(f"/api/v1/oversight/draws/{item['id']}/inspected/", content_type="application/json")
        refused = client.post(f"/api/v1/oversight/rounds/{pk}/conclude/", {
            "bureau": county.pk, "compliant": False, "requirements": ""}, content_type="application/json")
        assert refused.status_code == 400 and refused.json()["refusals"][0]["message"] == "请写明整改要求。"
        concluded = client.post(f"/api/v1/oversight/rounds/{pk}/conclude/", {
            "bureau": county.pk, "compliant": False, "requirements": "退还费用", "due_at": "2026-12-20T23:59:00+08:00"},
            content_type="application/json")
        assert concluded.json()["status"] == "open"

    # the county reads its order, not the round; the county answers
    with at(2026, 12, 2, 9, 0):
        client.force_login(people["staff"])
        assert client.get(f"/api/v1/oversight/rounds/{pk}/").status_code == 404
        orders = client.get("/api/v1/oversight/orders/").json()["results"]
        assert [o["bureau"] for o in orders] == [county.pk]
        answered = client.post(f"/api/v1/oversight/orders/{orders[0]['id']}/answer/", {"measures": "已退还"},
                               content_type="application/json")
        assert answered.json()["status"] == "answered"
    with at(2026, 12, 3, 9, 0):
        client.force_login(inspector)
        decided = client.post(f"/api/v1/oversight/orders/{orders[0]['id']}/decide/", {
            "accepted": False, "reason": "未见退费凭证"}, content_type="application/json")
        assert decided.json()["status"] == "rejected"
        suspended = client.post("/api/v1/oversight/suspensions/", {
            "bureau": county.pk, "checking_bureau": province.pk, "reason": "整改不落实", "order": orders[0]["id"]},
            content_type="application/json")
        assert suspended.status_code == 201
        reinstated = client.post(f"/api/v1/oversight/suspensions/{suspended.json()['id']}/reinstate/", {
            "checking_bureau": province.pk, "reason": "已整改"}, content_type="application/json")
        assert reinstated.json()["reinstatement_reason"] == "已整改"
    assert BureauConclusion.objects.get().status == BureauConclusion.Status.SUSPENDED


def test_a_lower_bureau_cannot_plan_over_its_parent(client, world, bureaus):
    _institution, people, _experts = world
    client.force_login(people["staff"])

    response = client.post("/api/v1/oversight/rounds/", {
        "bureau": bureaus["county"].pk, "year": 2026, "scope": [bureaus["city"].pk], "sampling": "count",
        "sample_count": 1}, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["refusals"][0]["code"] in ("permission.denied", "oversight.not_below")
