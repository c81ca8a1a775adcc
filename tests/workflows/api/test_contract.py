"""The API as a platform team's generated client sees it: one schema whatever the language, JSON in and out,
strict typed parameters, sync by ``updated_since`` with conditional reads, tasks a machine can act on, one error
envelope with machine codes, and links both ways."""

import datetime as dt
import io

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from certification.models import Case
from tests.worlds import staff_of
from workflows.engine import case_start_process

from .conftest import client_for

pytestmark = pytest.mark.django_db


def schema(language: str) -> bytes:
    return APIClient().get("/api/v1/schema/", HTTP_ACCEPT_LANGUAGE=language).content


def test_the_schema_is_the_same_in_every_language_and_valid_by_two_validators():
    chinese, english = schema("zh-hans"), schema("en")
    assert chinese == english
    document = yaml.safe_load(english)
    validate(document)  # openapi-spec-validator, independent of drf-spectacular
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    # labels are data, never names: no Chinese in the schema's component names
    assert all(name.isascii() for name in document["components"]["schemas"])


def test_public_operations_need_no_authentication_and_the_others_do():
    operations = yaml.safe_load(schema("en"))["paths"]
    assert operations["/api/v1/verify/"]["get"]["security"] == []
    assert operations["/api/v1/auth/token/"]["post"]["security"] == []
    assert operations["/api/v1/notices/"]["get"]["security"] == []
    assert operations["/api/v1/notices/{id}/objections/"]["post"]["security"] == []
    assert {"tokenAuth": []} in operations["/api/v1/cases/"]["get"]["security"]
    assert {} not in operations["/api/v1/cases/"]["get"]["security"]


def test_writes_take_json_only_and_the_schema_documents_only_json(world):
    operations = yaml.safe_load(schema("en"))["paths"]
    bodies = {path: list(op["requestBody"]["content"]) for path, ops in operations.items()
              for method, op in ops.items() if "requestBody" in op}
    # multipart only where a file is uploaded: a task's report, an .xlsx import
    assert bodies.pop("/api/v1/tasks/{id}/upload/") == ["multipart/form-data"]
    assert bodies.pop("/api/v1/imports/") == ["multipart/form-data"]
    assert set(map(tuple, bodies.values())) == {("application/json",)}
    form = APIClient().post("/api/v1/auth/token/", {"username": "applicant", "password": "x"})  # form-encoded
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize("query, field", [
    ({"bureau": "1.5"}, "bureau"),
    ({"bureau": "0"}, "bureau"),
    ({"institution": "-3"}, "institution"),
    ({"page_size": "true"}, "page_size"),
    ({"page_size": "-2.8e-38"}, "page_size"),
    ({"page_size": "201"}, "page_size"),
    ({"page_size": "0"}, "page_size"),
    ({"stage": "nowhere"}, "stage"),
    ({"updated_since": "yesterday"}, "updated_since"),
    ({"cursor": "not-a-cursor"}, "cursor"),
])
def test_a_wrong_parameter_answers_400_naming_it(world, query, field):
    response = client_for(world["users"]["bureau_staff"]).get("/api/v1/cases/", query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_an_unknown_filter_or_ordering_answers_400_with_what_is_allowed(world):
    api = client_for(world["users"]["bureau_staff"])
    unknown = api.get("/api/v1/cases/", {"stag": "notice"})
    assert unknown.status_code == 400
    [error] = unknown.json()["errors"]["stag"]
    assert error["code"] == "unknown_parameter"
    assert "stage" in error["message"] and "updated_since" in error["message"]
    ordering = api.get("/api/v1/cases/", {"ordering": "-password"})
    assert (ordering.status_code, ordering.json()["errors"]["ordering"][0]["code"]) == (400, "unknown_ordering")
    submitted = api.get("/api/v1/sheets/", {"submitted": "maybe"})
    assert submitted.status_code == 400
    assert api.get("/api/v1/sheets/", {"submitted": "true"}).status_code == 200
    assert api.get("/api/v1/cases/", {"ordering": "-updated_at", "page_size": "200"}).status_code == 200


def test_the_page_size_cap_and_integer_ids_are_documented():
    parameters = {p["name"]: p["schema"] for p in
                  yaml.safe_load(schema("en"))["paths"]["/api/v1/cases/"]["get"]["parameters"]}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert parameters["bureau"]["type"] == "integer" and parameters["bureau"]["minimum"] == 1
    detail = yaml.safe_load(schema("en"))["paths"]["/api/v1/cases/{id}/"]["get"]["parameters"]
    assert {"type": "integer", "minimum": 1} in [p["schema"] for p in detail if p["in"] == "path"]


@pytest.mark.parametrize("path", ["/api/v1/cases/%0A1/", "/api/v1/tasks/%0A/", "/api/v1/cases/1x/",
                                  "/api/v1/nowhere/"])
def test_paths_that_do_not_match_answer_a_json_404(world, path):
    response = client_for(world["users"]["bureau_staff"]).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_not_found_speaks_the_callers_language_and_names_no_model(world):
    api = client_for(world["users"]["bureau_staff"])
    foreign = api.get(f"/api/v1/cases/{world['objects']['case_b'].pk}/")
    assert foreign.status_code == 404
    assert foreign.json() == {"detail": "未找到。", "code": "not_found"}
    english = api.get(f"/api/v1/cases/{world['objects']['case_b'].pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["detail"] == "Not found."


def test_sync_by_updated_since_and_conditional_reads(world):
    api = client_for(world["users"]["bureau_staff"])
    case = world["objects"]["case_a"]
    url = f"/api/v1/cases/{case.pk}/"
    first = api.get(url)
    assert first.json()["updated_at"]
    tag, modified = first["ETag"], first["Last-Modified"]
    assert api.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304
    assert api.get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    since = timezone.now() + dt.timedelta(seconds=1)
    assert api.get("/api/v1/cases/", {"updated_since": since.isoformat()}).json()["results"] == []

    later = timezone.now() + dt.timedelta(minutes=5)
    Case.objects.filter(pk=case.pk).update(outcome_reason="changed", updated_at=later)
    changed = api.get(url, HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag
    listed = api.get("/api/v1/cases/", {"updated_since": since.isoformat(), "ordering": "updated_at"}).json()
    assert [c["id"] for c in listed["results"]] == [case.pk]


def test_every_resource_carries_updated_at_and_labels_for_its_enums(world):
    api = client_for(world["users"]["bureau_staff"])
    for path in ("institutions", "cases", "sheets", "notices", "objections", "certificates"):
        rows = api.get(f"/api/v1/{path}/").json()["results"]
        assert rows and all(row["updated_at"] for row in rows), path
    case = api.get("/api/v1/cases/").json()["results"][0]
    assert (case["kind_display"], case["bureau"]["level_display"]) == ("晋升", "市（州）级主管部门")
    institution = api.get("/api/v1/institutions/").json()["results"][0]
    assert institution["level_display"] == "市（州）直机关"


def test_links_both_ways_between_a_certificate_its_case_and_the_holder(world):
    certificate = world["objects"]["certificate_a"]
    case = world["objects"]["case_a"]
    Case.objects.filter(pk=case.pk).update(certificate=certificate)
    api = client_for(world["users"]["bureau_staff"])
    shown = api.get(f"/api/v1/cases/{case.pk}/").json()
    assert (shown["certificate"], shown["certificate_number"]) == (certificate.pk, certificate.number)
    assert shown["institution_uscc"] == case.institution.uscc
    held = client_for(world["users"]["applicant"]).get(f"/api/v1/certificates/{certificate.pk}/").json()
    assert (held["case"], held["institution"], held["institution_uscc"]) == (
        case.pk, case.institution_id, case.institution.uscc)


def test_tasks_filter_by_case_and_status_and_carry_what_a_machine_needs(make_case, bureaus):
    case, _applicant = make_case()
    case_start_process(case)
    other, _ = make_case("县水利局")
    case_start_process(other)
    staff = staff_of(bureaus["county"])
    api = client_for(staff)
    everything = api.get("/api/v1/tasks/").json()["results"]
    assert len(everything) == 2
    only = api.get("/api/v1/tasks/", {"case": case.pk}).json()["results"]
    assert [t["case"] for t in only] == [case.pk]
    assert api.get("/api/v1/tasks/", {"status": "taken"}).json()["results"] == []
    assert len(api.get("/api/v1/tasks/", {"status": "waiting"}).json()["results"]) == 2
    assert api.get("/api/v1/tasks/", {"status": "NEW"}).status_code == 400
    assert api.get("/api/v1/tasks/", {"owner": "1"}).status_code == 400
    task = only[0]
    assert {"due", "owner", "owner_name", "case_stage", "case_stage_display", "status_display",
            "updated_at"} <= set(task)
    assert (task["case_stage_display"], task["status_display"]) == ("已申报，待列入考评计划", "等待办理")


def test_completing_a_task_has_one_typed_schema_per_action():
    components = yaml.safe_load(schema("en"))["components"]["schemas"]
    union = components["TaskActionRequest"]
    assert union["discriminator"]["propertyName"] == "action"
    plan = components[union["discriminator"]["mapping"]["plan"].rsplit("/", 1)[1]]
    assert plan["properties"]["action"]["enum"] == ["plan"]
    data = plan["properties"]["data"]
    assert data["properties"]["decision"]["enum"] == ["include", "return"]
    assert data["required"] == ["decision"]
    assert data["additionalProperties"] is False


def test_field_errors_carry_machine_codes_and_rule_refusals_their_rule_codes(world):
    api = client_for(world["users"]["expert"])
    sheet = world["objects"]["member_sheet_a"]
    shape = api.post(f"/api/v1/sheets/{sheet.pk}/record/", {"item_code": "1.1", "rate": "101"}, format="json")
    assert shape.status_code == 400
    assert shape.json()["code"] == "invalid"
    assert shape.json()["errors"]["rate"][0]["code"] == "max_value"
    rule = api.post(f"/api/v1/sheets/{sheet.pk}/record/", {"item_code": "99.9"}, format="json")
    body = rule.json()
    assert (rule.status_code, body["code"]) == (400, "rule_refused")
    codes = [e["code"] for errors in body["errors"].values() for e in errors]
    assert codes == [r["code"] for r in body["refusals"]]


def test_the_schema_of_the_error_envelope_matches_what_is_sent():
    envelope = yaml.safe_load(io.BytesIO(schema("en")))["components"]["schemas"]["Error"]
    assert envelope["required"] == ["detail", "code"]
    assert envelope["properties"]["errors"]["additionalProperties"]["items"] == {
        "$ref": "#/components/schemas/FieldError"}


def test_every_list_of_the_domain_syncs_by_updated_since_and_every_object_shows_updated_at():
    document = yaml.safe_load(schema("en"))
    lists = {op["operationId"]: op for ops in document["paths"].values() for method, op in ops.items()
             if method == "get" and op["operationId"].endswith("_list")}
    # a case's timeline is append-only (each entry has its time); API tokens are the caller's credentials
    not_synced = {"cases_timeline_list", "auth_tokens_list"}
    assert len(lists) > 10
    for name, operation in lists.items():
        if name in not_synced:
            continue
        parameters = {p["name"] for p in operation.get("parameters", [])}
        assert "updated_since" in parameters, name
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        row = document["components"]["schemas"][page]["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]
        assert "updated_at" in document["components"]["schemas"][row]["properties"], (name, row)
