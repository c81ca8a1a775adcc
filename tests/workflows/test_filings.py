"""A bureau's filings page (备案): the rechecks filed with it, newest first, paged, exported as .xlsx through
the safe writer, and in the API. Only that bureau's people and the bureaus above it read them (404 otherwise)."""

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from certification import permissions
from certification.enums import InstitutionLevel, Role
from certification.models import Filing
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import declared_case, local, staff_of

pytestmark = pytest.mark.django_db

DOCUMENTS = [{"id": 1, "kind": "application_form", "kind_display": "申报审批表", "number": "", "sha256": "a" * 64},
             {"id": 2, "kind": "confirmation_letter", "kind_display": "确认函", "number": "县档案局函〔2026〕1号", "sha256": "b" * 64}]


@pytest.fixture
def file_cases(archives_version, regions, bureaus):
    """``file_cases(n, name=...)``: n county cases filed with the city, one a day from 2026-03-20, by an
    approver named 王审批."""
    approver = UserFactory(username="approver-x", full_name="王审批")

    def make(n, name="县民政局"):
        filings = []
        for i in range(n):
            institution = InstitutionFactory(name=f"{name}{i or ''}", region=regions["county"],
                                             level=InstitutionLevel.COUNTY)
            case = declared_case(version=archives_version, institution=institution, bureau=bureaus["county"],
                                 declared_by=approver)
            case.filing_bureau = bureaus["city"]
            case.save()
            filings.append(Filing.objects.create(case=case, bureau=bureaus["city"], filed_by=approver,
                                                 filed_at=local(2026, 3, 20, 10) + dt.timedelta(days=i),
                                                 documents=DOCUMENTS))
        return filings
    return make


def _listed(client, user, **query):
    client.force_login(user)
    return client.get(reverse("filing_list"), query)


def _references(response) -> list[str]:
    return [filing.case.reference for filing, _names in response.context["rows"]]


def test_the_city_and_the_province_list_the_filings_and_the_county_sees_none_of_them(client, file_cases,
                                                                                     bureaus):
    filed = file_cases(2)
    newest_first = [f.case.reference for f in reversed(filed)]
    city, county = staff_of(bureaus["city"]), staff_of(bureaus["county"])
    auditor = UserFactory()
    permissions.role_grant(user=auditor, role=Role.AUDITOR, obj=bureaus["province"])

    assert _references(_listed(client, city)) == newest_first
    assert _references(_listed(client, auditor)) == newest_first
    assert _references(_listed(client, auditor, bureau=bureaus["city"].pk)) == newest_first
    assert _references(_listed(client, county)) == []
    assert _listed(client, county, bureau=bureaus["city"].pk).status_code == 404
    rows = _listed(client, city).context["rows"]
    assert [(str(f.filed_by), names) for f, names in rows][0] == ("王审批", ["申报审批表", "确认函 县档案局函〔2026〕1号"])


@pytest.mark.parametrize("role", [None, Role.APPLICANT, Role.EXPERT])
def test_anyone_not_working_for_a_bureau_gets_404(client, file_cases, bureaus, regions, role):
    file_cases(1)
    user = UserFactory()
    if role == Role.APPLICANT:
        permissions.role_grant(user=user, role=role, obj=InstitutionFactory(region=regions["county"]))
    elif role == Role.EXPERT:
        permissions.role_grant(user=user, role=role, obj=bureaus["city"])

    assert _listed(client, user).status_code == 404
    assert client.get(reverse("filing_export")).status_code == 404


def test_the_list_pages_fifty_at_a_time_newest_first(client, file_cases, bureaus, monkeypatch):
    monkeypatch.setattr("workflows.filings.PAGE_SIZE", 2)
    filed = file_cases(3)
    city = staff_of(bureaus["city"])

    first = _listed(client, city)
    older = client.get(reverse("filing_list") + "?" + first.context["page"].next_query)

    assert _references(first) == [filed[2].case.reference, filed[1].case.reference]
    assert (_references(older), older.context["page"].next_after) == ([filed[0].case.reference], "")


def _queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("filing_list")).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_one_filing_and_three(client, file_cases, bureaus):
    city = staff_of(bureaus["city"])
    file_cases(1, name="甲")
    one = _queries(client, city)
    file_cases(2, name="乙")
    three = _queries(client, city)

    assert one == three


def test_the_export_lists_the_filings_as_text_never_as_formulas(client, file_cases, bureaus):
    filed = file_cases(1, name='=HYPERLINK("http://x","y")')
    client.force_login(staff_of(bureaus["city"], language="zh-hans"))

    response = client.get(reverse("filing_export"), {"bureau": bureaus["city"].pk})

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    case = filed[0].case
    assert rows[1] == ("2026-03-20 10:00", bureaus["city"].name, case.reference, '=HYPERLINK("http://x","y")',
                       case.institution.uscc, "省二级", bureaus["county"].name, None, "王审批",
                       "申报审批表; 确认函 县档案局函〔2026〕1号")
    assert [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"] == []
    assert len(rows) == 2


def test_the_api_lists_a_bureaus_filings_and_answers_404_to_another_bureau(file_cases, bureaus):
    filing = file_cases(1)[0]
    api = APIClient()
    api.force_authenticate(staff_of(bureaus["city"]))
    listed = api.get("/api/v1/filings/").json()["results"]
    assert [(r["id"], r["reference"], r["bureau"], r["approved_by"], r["filed_by_name"], r["documents"])
            for r in listed] == [(filing.pk, filing.case.reference, bureaus["city"].pk, bureaus["county"].pk,
                                  "王审批", DOCUMENTS)]

    api.force_authenticate(staff_of(bureaus["county"]))
    assert api.get("/api/v1/filings/").json()["results"] == []
    assert api.get(f"/api/v1/filings/{filing.pk}/").status_code == 404
