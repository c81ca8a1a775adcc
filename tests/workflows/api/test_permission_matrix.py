"""Each role × each endpoint × its own and a foreign object: what a list shows, and 200 or 404 for each
object's own URL. "a" is the city bureau's side (the users' own), "b" another city's (foreign)."""

import pytest

from certification import permissions
from certification.enums import Role
from tests.factories import UserFactory

from .conftest import ROLES, client_for

pytestmark = pytest.mark.django_db

BUREAU_SIDE = {"institutions": {"institution_a"}, "cases": {"case_a"}, "sheets": {"sheet_a"},
               "objections": {"objection_a"}, "certificates": {"certificate_a"}}
PUBLIC_NOTICES = {"notice_a", "notice_b"}

# What each role sees, per endpoint (notices are public: everyone sees both).
EXPECTED = {
    "applicant": {"institutions": {"institution_a"}, "cases": {"case_a"}, "sheets": {"sheet_a"},
                  "objections": set(), "certificates": {"certificate_a"}},
    "bureau_staff": BUREAU_SIDE,
    "prechecker": {**BUREAU_SIDE, "objections": set()},
    "approver": {**BUREAU_SIDE, "objections": set()},
    "auditor": BUREAU_SIDE,
    # The province issues every certificate and its region holds every institution; the cases belong to
    # the city bureaus.
    "certificate_officer": {"institutions": {"institution_a", "institution_b"}, "cases": set(), "sheets": set(),
                            "objections": set(), "certificates": {"certificate_a", "certificate_b"}},
    # An expert sees the case of the panel they sit on (and its applicant) and their own member's sheet, once
    # they have signed the case's recusal declaration; nothing else.
    "expert": {"institutions": {"institution_a"}, "cases": {"case_a"}, "sheets": {"member_sheet_a"}, "objections": set(),
               "certificates": set()},
}
CANDIDATES = {
    "institutions": ["institution_a", "institution_b"],
    "cases": ["case_a", "case_b"],
    "sheets": ["sheet_a", "sheet_b", "member_sheet_a"],
    "objections": ["objection_a", "objection_b"],
    "certificates": ["certificate_a", "certificate_b"],
    "notices": ["notice_a", "notice_b"],
}
MATRIX = [(role, endpoint) for role in ROLES for endpoint in CANDIDATES]


@pytest.mark.parametrize(("role", "endpoint"), MATRIX)
def test_each_role_sees_its_own_objects_and_gets_404_for_the_others(world, role, endpoint):
    client = client_for(world["users"][role])
    objects = world["objects"]
    expected = PUBLIC_NOTICES if endpoint == "notices" else EXPECTED[role][endpoint]
    ids = {objects[name].pk: name for name in CANDIDATES[endpoint]}

    listed = client.get(f"/api/v1/{endpoint}/")

    assert listed.status_code == 200
    assert {ids[row["id"]] for row in listed.json()["results"] if row["id"] in ids} == expected
    assert len(listed.json()["results"]) == len(expected)
    for name in CANDIDATES[endpoint]:
        detail = client.get(f"/api/v1/{endpoint}/{objects[name].pk}/")
        assert (name, detail.status_code) == (name, 200 if name in expected else 404)


@pytest.mark.parametrize("endpoint", ["institutions", "cases", "sheets", "objections", "certificates"])
def test_anonymous_callers_are_refused_by_every_private_endpoint(world, endpoint):
    response = client_for(None).get(f"/api/v1/{endpoint}/")
    assert response.status_code == 401
    assert response.json()["detail"] == "身份认证信息未提供。"


def test_anonymous_callers_read_the_public_notices_without_private_fields(world):
    response = client_for(None).get("/api/v1/notices/", {"state": "open"})
    assert response.status_code == 200
    body = response.content.decode()
    assert {row["title"] for row in response.json()["results"]} == {"公示a", "公示b"}
    for private in ("异议人a", "13800000000a", "027-0000000a", world["objects"]["institution_a"].uscc):
        assert private not in body


def test_case_actions_on_a_foreign_case_answer_404(world):
    client = client_for(world["users"]["applicant"])
    foreign = world["objects"]["case_b"]
    assert client.get(f"/api/v1/cases/{foreign.pk}/timeline/").status_code == 404
    assert client.post(f"/api/v1/cases/{foreign.pk}/self-check/").status_code == 404


def test_resolving_a_foreign_objection_answers_404_and_changes_nothing(world):
    objection = world["objects"]["objection_b"]
    response = client_for(world["users"]["bureau_staff"]).post(
        f"/api/v1/objections/{objection.pk}/resolve/", {"decision": "dismissed", "reason": "不实"}, format="json")
    objection.refresh_from_db()
    assert (response.status_code, objection.status) == (404, "received")


def test_an_approver_who_sees_the_case_may_not_resolve_its_objection(world):
    objection = world["objects"]["objection_a"]
    response = client_for(world["users"]["approver"]).post(
        f"/api/v1/objections/{objection.pk}/resolve/", {"decision": "dismissed", "reason": "不实"}, format="json")
    assert response.status_code == 404


def test_another_members_sheet_cannot_be_written_through_a_guess(world):
    sheet = world["objects"]["member_sheet_a"]
    response = client_for(world["users"]["bureau_staff"]).post(
        f"/api/v1/sheets/{sheet.pk}/record/", {"item_code": "x"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.BUREAU_STAFF, Role.APPROVER, Role.AUDITOR])
def test_the_province_reads_every_city_below_it_and_a_county_reads_neither(world, bureaus, role):
    """Reading down the tree (第九条, 第十二条): the staff, approvers and auditors of the province read the cases
    and certificates of both cities; a county below city "a" reads neither its parent's nor the other city's."""
    objects = world["objects"]
    reader, county = UserFactory(), UserFactory()
    permissions.role_grant(user=reader, role=role, obj=bureaus["province"])
    permissions.role_grant(user=county, role=role, obj=bureaus["county"])

    for endpoint, names in (("cases", ["case_a", "case_b"]), ("certificates", ["certificate_a", "certificate_b"])):
        for name in names:
            assert client_for(reader).get(f"/api/v1/{endpoint}/{objects[name].pk}/").status_code == 200
            assert client_for(county).get(f"/api/v1/{endpoint}/{objects[name].pk}/").status_code == 404
    assert client_for(reader).post(f"/api/v1/cases/{objects['case_a'].pk}/self-check/").status_code in (400, 404)
