"""The API's actions, filters and pagination: the same services and messages as the UI."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certification.models import Case, Grade, LateInclusion, Objection, ScoreSheet, Stage
from tests.factories import InstitutionFactory, UserFactory

from .conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_token_is_given_for_a_username_and_password_and_opens_the_api(world):
    anonymous = client_for(None)
    token = anonymous.post("/api/v1/auth/token/", {"username": "applicant", "password": "pw-for-tests"},
                           format="json").json()["token"]
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert len(anonymous.get("/api/v1/cases/").json()["results"]) == 1


def test_a_wrong_password_gets_no_token(world):
    response = client_for(None).post("/api/v1/auth/token/", {"username": "applicant", "password": "wrong"},
                                     format="json")
    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Token realm="api"'
    assert "token" not in response.json()


def test_session_authentication_works_for_the_browsable_api(client, world):
    client.force_login(world["users"]["bureau_staff"])
    assert len(client.get("/api/v1/cases/").json()["results"]) == 1


def test_a_case_shows_its_state_and_next_step(world):
    case = world["objects"]["case_a"]
    body = client_for(world["users"]["applicant"]).get(f"/api/v1/cases/{case.pk}/").json()
    assert (body["stage"], body["stage_display"], body["outcome"]) == ("notice", "公示", "open")
    assert body["next_step"]["who"] == "主管部门考评人员"
    assert body["late_inclusion"] is None


def test_a_case_let_in_late_shows_the_bureaus_inclusion_without_a_query_per_case(world):
    case = world["objects"]["case_a"]
    api = client_for(world["users"]["bureau_staff"])
    with CaptureQueriesContext(connection) as before:
        api.get("/api/v1/cases/")
    LateInclusion.objects.create(bureau=case.bureau, scheme=case.scheme, institution=case.institution,
                                 year=case.year, reason="单位搬迁", declare_by=timezone.localdate(),
                                 granted_at=timezone.now(), granted_by=world["users"]["bureau_staff"], case=case)
    with CaptureQueriesContext(connection) as after:
        listed = api.get("/api/v1/cases/").json()

    assert listed["results"][0]["late_inclusion"]["reason"] == "单位搬迁"
    assert listed["results"][0]["late_inclusion"]["bureau"]["id"] == case.bureau_id
    assert len(after.captured_queries) == len(before.captured_queries)


def test_the_timeline_lists_the_audited_events(world):
    staff = world["users"]["bureau_staff"]
    objection = world["objects"]["objection_a"]
    client_for(staff).post(f"/api/v1/objections/{objection.pk}/resolve/", {"decision": "upheld", "reason": "属实"},
                           format="json")
    case = world["objects"]["case_a"]
    timeline = client_for(world["users"]["applicant"]).get(f"/api/v1/cases/{case.pk}/timeline/").json()
    assert [(e["action"], e["label"], e["reason"]) for e in timeline["results"]] == [
        ("objection.resolve", "异议已处理", "属实"),  # the objection's own events are on the case's timeline
        ("case.objection_upheld", "异议成立", "属实")]


def test_the_self_check_is_refused_with_the_services_chinese_message_outside_its_stage(world):
    case = world["objects"]["case_a"]
    response = client_for(world["users"]["applicant"]).post(f"/api/v1/cases/{case.pk}/self-check/")
    assert response.status_code == 400
    assert response.json()["refusals"][0]["code"] == "sheet.not_open"
    assert ScoreSheet.objects.filter(case=case).count() == 2


def test_the_applicant_opens_records_and_reads_its_self_check(world):
    case = world["objects"]["case_a"]
    Case.objects.filter(pk=case.pk).update(stage=Stage.PLANNED)
    client = client_for(world["users"]["applicant"])
    sheet = client.post(f"/api/v1/cases/{case.pk}/self-check/").json()

    recorded = client.post(f"/api/v1/sheets/{sheet['id']}/record/",
                           {"item_code": "18", "deductions": [{"points": "0.5", "reason": "宣传信息报送不足"}]},
                           format="json")

    assert recorded.status_code == 200
    assert [(line["item_code"], line["points"]) for line in recorded.json()["lines"]] == [("18", "1.50")]


@pytest.mark.parametrize(("payload", "code"), [
    ({"item_code": "99"}, "sheet.unknown_item"),
    ({"item_code": "18", "deductions": [{"points": "1", "reason": " "}]}, "sheet.reason_required"),
])
def test_a_bad_item_is_refused_as_in_the_ui_and_nothing_is_recorded(world, payload, code):
    case = world["objects"]["case_a"]
    Case.objects.filter(pk=case.pk).update(stage=Stage.PLANNED)
    client = client_for(world["users"]["applicant"])
    sheet = client.post(f"/api/v1/cases/{case.pk}/self-check/").json()

    response = client.post(f"/api/v1/sheets/{sheet['id']}/record/", payload, format="json")

    assert (response.status_code, response.json()["refusals"][0]["code"]) == (400, code)
    assert client.get(f"/api/v1/sheets/{sheet['id']}/").json()["lines"] == []


def test_a_malformed_entry_gets_the_fields_errors(world):
    sheet = world["objects"]["member_sheet_a"]
    response = client_for(world["users"]["expert"]).post(f"/api/v1/sheets/{sheet.pk}/record/",
                                                          {"item_code": "18", "rate": "150"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["rate"]


def test_an_empty_member_sheet_cannot_be_submitted(world):
    """Until the chair splits the items, a member scores every item (issue 13: a member's submit needs all of
    their items)."""
    sheet = world["objects"]["member_sheet_a"]
    response = client_for(world["users"]["expert"]).post(f"/api/v1/sheets/{sheet.pk}/submit/")
    assert response.json()["refusals"][0]["message"] == (
        "尚未评分的项目：1、2、3、4、5、6、7、8、9、10、11、12、13、14、15、16、17、18。")


def test_the_bureau_resolves_an_objection_by_downgrade(world, archives_version):
    objection = world["objects"]["objection_a"]
    case = world["objects"]["case_a"]
    Case.objects.filter(pk=case.pk).update(grade=Grade.objects.get(version=archives_version, code="first"))
    response = client_for(world["users"]["bureau_staff"]).post(
        f"/api/v1/objections/{objection.pk}/resolve/", {"decision": "downgraded", "reason": "部分属实",
                                                         "grade": "second"}, format="json")
    case.refresh_from_db()
    assert (response.status_code, response.json()["status"], case.grade.code) == (200, "downgraded", "second")


def test_a_resolution_without_a_reason_is_refused_and_changes_nothing(world):
    objection = world["objects"]["objection_a"]
    response = client_for(world["users"]["bureau_staff"]).post(
        f"/api/v1/objections/{objection.pk}/resolve/", {"decision": "dismissed", "reason": ""}, format="json")
    objection.refresh_from_db()
    assert (response.status_code, objection.status) == (400, Objection.Status.RECEIVED)
    assert response.json()["detail"].startswith("须填写理由。")


def test_anyone_files_an_objection_through_the_api_and_gets_a_receipt(world):
    notice, case = world["objects"]["notice_a"], world["objects"]["case_a"]
    response = client_for(None).post(f"/api/v1/notices/{notice.pk}/objections/",
                                     {"case": case.pk, "name": "李四", "contact": "13900000000",
                                      "grounds": "档案室面积不足"}, format="json")
    assert response.status_code == 201
    assert Objection.objects.get(receipt=response.json()["receipt"]).name == "李四"


def test_an_objection_to_a_case_not_on_the_notice_is_refused_and_nothing_is_kept(world):
    notice, other = world["objects"]["notice_a"], world["objects"]["case_b"]
    response = client_for(None).post(f"/api/v1/notices/{notice.pk}/objections/",
                                     {"case": other.pk, "name": "李四", "contact": "13900000000", "grounds": "x"},
                                     format="json")
    assert response.status_code == 400
    assert [r["code"] for r in response.json()["refusals"]] == ["objection.not_on_notice"]
    assert Objection.objects.count() == 2


def test_filing_objections_is_rate_limited(world):
    notice, case = world["objects"]["notice_a"], world["objects"]["case_a"]
    client = client_for(None)
    codes = [client.post(f"/api/v1/notices/{notice.pk}/objections/",
                         {"case": case.pk, "name": "", "contact": "", "grounds": ""}, format="json").status_code
             for _ in range(11)]
    assert codes == [400] * 10 + [429]


def test_certificates_are_verified_by_number_or_token_without_private_fields(world):
    certificate = world["objects"]["certificate_a"]
    client = client_for(None)
    by_number = client.get("/api/v1/verify/", {"number": certificate.number})
    by_token = client.get(f"/api/v1/verify/{certificate.verification_token}/")
    assert by_number.json() == by_token.json()
    assert by_number.json()["holder"] == "机关a"
    assert "uscc" not in by_number.json() and "verification_token" not in by_number.json()
    assert client.get("/api/v1/verify/", {"number": "none"}).json() == {"detail": "没有找到相符的证书。",
                                                                        "code": "not_found"}


def test_lists_filter_and_paginate(world):
    client = client_for(world["users"]["certificate_officer"])
    assert len(client.get("/api/v1/institutions/", {"name": "机关b"}).json()["results"]) == 1
    page = client.get("/api/v1/certificates/", {"page_size": 1, "ordering": "id"}).json()
    assert (len(page["results"]), page["next"] is not None, "count" in page) == (1, True, False)
    following = client.get(page["next"]).json()  # the next page, by its cursor
    assert len(following["results"]) == 1 and following["next"] is None
    assert following["results"][0]["id"] > page["results"][0]["id"]
    assert client.get("/api/v1/notices/", {"state": "closed"}).json()["results"] == []


def test_a_bad_filter_value_is_a_clear_400(world):
    response = client_for(world["users"]["bureau_staff"]).get("/api/v1/cases/", {"stage": "nowhere"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["stage"]


def test_an_unknown_api_path_answers_json_404(world):
    response = client_for(None).get("/api/v1/nothing/here")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")


def test_the_schema_and_its_documentation_page_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/cases/{id}/timeline/" in schema.content
    assert client.get("/api/v1/docs/").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/cases/", "/api/v1/institutions/", "/api/v1/certificates/",
                                  "/api/v1/sheets/", "/api/v1/notices/", "/api/v1/objections/"])
def test_a_list_costs_the_same_queries_for_one_row_and_for_three(world, archives_version, path):
    from tests.workflows.api.conftest import client_for as make

    client = make(world["users"]["bureau_staff"])
    with CaptureQueriesContext(connection) as one:
        rows_one = len(client.get(path).json()["results"])
    case = world["objects"]["case_a"]
    notice, sheet = world["objects"]["notice_a"], world["objects"]["sheet_a"]
    for n in range(2):
        extra = Case.objects.create(institution=case.institution.__class__.objects.create(
            name=f"又一机关{n}", uscc=f"11420100{900 + n:09d}" + "0", region=case.institution.region,
            level=case.institution.level), scheme_version=archives_version, kind=case.kind, year=case.year,
            bureau=case.bureau, grade=case.grade, declared_at=timezone.now(), declared_by=UserFactory(),
            reference=f"x{n}", stage=Stage.NOTICE)
        notice.cases.add(extra)
        notice.__class__.objects.create(bureau=notice.bureau, title=f"又一公示{n}", published_at=notice.published_at,
                                        closes_at=notice.closes_at).cases.add(extra)
        Objection.objects.create(notice=notice, case=extra, name="n", contact="c", grounds="g",
                                 received_at=timezone.now())
        ScoreSheet.objects.create(case=extra, kind=sheet.kind, submitted_at=timezone.now(), total=sheet.total)
        world["objects"]["certificate_a"].__class__.objects.create(
            number=f"n{n}", year=2030, serial=n + 1, institution=extra.institution, grade=case.grade,
            issued_on=timezone.localdate(), valid_until=timezone.localdate().replace(year=2099),
            issued_by=world["objects"]["certificate_a"].issued_by, approved_by=case.bureau)
    with CaptureQueriesContext(connection) as three:
        response = client.get(path)
    assert len(response.json()["results"]) == rows_one + 2
    assert len(three) == len(one)


def test_a_notices_list_counts_its_cases_and_a_notices_detail_lists_them(world, archives_version):
    notice, case = world["objects"]["notice_a"], world["objects"]["case_a"]
    second = Case.objects.create(institution=InstitutionFactory(name="机关c", region=case.institution.region),
                                 scheme_version=archives_version,
                                 kind=case.kind, year=case.year, bureau=case.bureau, grade=case.grade,
                                 declared_at=timezone.now(), declared_by=UserFactory(), reference="x-second",
                                 stage=Stage.NOTICE)
    notice.cases.add(second)
    empty = notice.__class__.objects.create(bureau=notice.bureau, title="空公示", published_at=notice.published_at,
                                            closes_at=notice.closes_at)
    client = client_for(None)

    listed = {row["title"]: row for row in client.get("/api/v1/notices/").json()["results"]}
    assert {title: row["case_count"] for title, row in listed.items()} == {"公示a": 2, "公示b": 1, "空公示": 0}
    assert all("cases" not in row for row in listed.values())

    detail = client.get(f"/api/v1/notices/{notice.pk}/").json()
    assert detail["case_count"] == 2
    assert sorted((c["id"], c["institution_name"], c["grade_name"], c["kind_display"]) for c in detail["cases"]) == [
        (case.pk, "机关a", case.grade.name, "晋升"), (second.pk, "机关c", case.grade.name, "晋升")]
    assert set(detail["cases"][0]) == {"id", "institution_name", "grade_name", "kind", "kind_display"}
    assert client.get(f"/api/v1/notices/{empty.pk}/").json()["cases"] == []


def test_a_notices_list_costs_the_same_queries_however_many_notices_and_cases(world, archives_version):
    notice, case = world["objects"]["notice_a"], world["objects"]["case_a"]
    client = client_for(None)
    with CaptureQueriesContext(connection) as few:
        rows_before = len(client.get("/api/v1/notices/").json()["results"])
    for n in range(3):
        more = notice.__class__.objects.create(bureau=notice.bureau, title=f"再一公示{n}",
                                               published_at=notice.published_at, closes_at=notice.closes_at)
        for m in range(4):
            more.cases.add(Case.objects.create(
                institution=InstitutionFactory(region=case.institution.region), scheme_version=archives_version,
                kind=case.kind, year=case.year,
                bureau=case.bureau, grade=case.grade, declared_at=timezone.now(), declared_by=UserFactory(),
                reference=f"more-{n}-{m}", stage=Stage.NOTICE))
    with CaptureQueriesContext(connection) as many:
        rows = client.get("/api/v1/notices/").json()["results"]
    assert len(rows) == rows_before + 3
    assert sorted(row["case_count"] for row in rows) == [1, 1, 4, 4, 4]
    assert len(many) == len(few)


def test_a_case_list_costs_the_same_queries_however_many_cases_are_forwarded_delegated_or_included_late(
        world, archives_version):
    """Each row's next step names the forwarding, planning or pre-checking bureau and the late inclusion names
    its bureau: all are read once for the page, not once per row."""
    from certification.models import LateInclusion

    case = world["objects"]["case_a"]
    client = client_for(world["users"]["bureau_staff"])
    made = 0

    def add(count):
        nonlocal made
        for _ in range(count):
            made += 1
            institution = case.institution.__class__.objects.create(
                name=f"转报机关{made}", uscc=f"11420100{800 + made:09d}" + "0", region=case.institution.region,
                level=case.institution.level)
            common = dict(institution=institution, scheme_version=archives_version, kind=case.kind,
                          year=case.year, bureau=case.bureau, grade=case.grade, declared_at=timezone.now(),
                          declared_by=UserFactory(), reference=f"fw{made}")
            Case.objects.create(**common, stage=Stage.DECLARED, forwarding_bureau=case.bureau,
                                planning_bureau=case.bureau)
            common.update(reference=f"dl{made}", institution=institution.__class__.objects.create(
                name=f"委托机关{made}", uscc=f"11420100{700 + made:09d}" + "0", region=case.institution.region,
                level=case.institution.level))
            delegated = Case.objects.create(**common, stage=Stage.PRECHECK, precheck_bureau=case.bureau)
            LateInclusion.objects.create(bureau=case.bureau, scheme=archives_version.scheme,
                                         institution=delegated.institution, year=case.year, reason="补报",
                                         declare_by=timezone.localdate(), granted_at=timezone.now(),
                                         granted_by=UserFactory(), case=delegated)

    add(2)
    with CaptureQueriesContext(connection) as few:
        rows = client.get("/api/v1/cases/").json()["results"]
    add(4)
    with CaptureQueriesContext(connection) as many:
        more = client.get("/api/v1/cases/").json()["results"]
    assert len(more) == len(rows) + 8
    late = [row for row in more if row["late_inclusion"]]
    assert len(late) == 6 and {row["late_inclusion"]["bureau"]["name"] for row in late} == {case.bureau.name}
    forwarded = [row["next_step"] for row in more if row["reference"].startswith("fw")]
    assert len(forwarded) == 6 and all(f"报送{case.bureau.name}" in step["what"] for step in forwarded), forwarded
    assert len(many) == len(few)
