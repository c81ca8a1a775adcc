"""The applicant chooses the scheme when declaring (issue 15, "Must show" 2): on the page and through
``POST /api/v1/cases/``, both through ``workflows.actions.case_declare``; only schemes the institution's
bureau runs are offered, and another is refused beside its field."""

import pytest
from django.urls import reverse

from certification import permissions
from certification.enums import InstitutionLevel, Role
from certification.models import Case
from certification.scheme import SCHEMES_DIR, load_scheme_file
from certification.services.schemes import scheme_load
from tests.factories import InstitutionFactory, UserFactory
from tests.workflows.api.conftest import client_for
from tests.worlds import at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def county(archives_version, regions, bureaus):
    """A county government under the city bureau, which runs the archives and the education schemes."""
    path = SCHEMES_DIR / "education-county-004.yaml"
    scheme_load(spec=load_scheme_file(path), source=path.name)
    applicant = UserFactory(username="applicant")
    institution = InstitutionFactory(name="元江县人民政府", region=regions["county"], level=InstitutionLevel.COUNTY)
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    return institution, applicant


def declare_by_api(applicant, institution, *, grade="advanced"):
    """``POST /api/v1/cases/`` by the applicant, under the education scheme, on 2026-05-20."""
    with at(2026, 5, 20, 9, 0):
        return client_for(applicant).post("/api/v1/cases/", {
            "scheme": "education-county", "institution": institution.pk, "grade": grade, "kind": "promotion"},
            format="json")


def test_the_page_offers_the_schemes_and_declares_under_the_one_chosen(client, county):
    institution, applicant = county
    client.force_login(applicant)
    with at(2026, 5, 20, 9, 0):
        page = client.get(reverse("declare"), {"scheme": "education-county"}).content.decode()
        assert "县乡人民政府教育工作督导评估" in page and "湖北省机关档案工作目标管理等级考评" in page
        assert ">先进<" in page and ">合格<" in page and "省二级" not in page
        answer = client.post(reverse("declare"), {"scheme": "education-county", "institution": institution.pk,
                                                  "grade": "advanced", "kind": "promotion"})
    assert answer.status_code == 302, answer.content.decode()
    case = Case.objects.get(institution=institution)
    assert (case.scheme_version.scheme.code, case.grade.name) == ("education-county", "先进")


def test_the_api_declares_under_the_scheme_chosen(county):
    institution, applicant = county
    answer = declare_by_api(applicant, institution)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["grade"], body["grade_name"], body["stage"]) == ("advanced", "先进", "declared")
    assert Case.objects.get(pk=body["id"]).scheme_version.scheme.code == "education-county"


def test_a_scheme_the_bureau_does_not_run_is_refused_beside_its_field(county, bureaus):
    institution, applicant = county
    bureaus["county"].schemes = ["archives"]
    bureaus["county"].save()
    answer = declare_by_api(applicant, institution)
    assert answer.status_code == 400
    assert [e["code"] for e in answer.json()["errors"]["scheme"]] == ["invalid_choice"]
    assert not Case.objects.exists()


def test_a_grade_of_another_scheme_is_refused(county):
    institution, applicant = county
    answer = declare_by_api(applicant, institution, grade="second")
    assert answer.status_code == 400 and "grade" in answer.json()["errors"]
    assert not Case.objects.exists()


def test_the_home_page_states_each_schemes_own_times(client, county, archives_version):
    page = client.get(reverse("home")).content.decode()

    assert f"<strong>{archives_version.scheme.title}</strong>：公示不少于7天；证书有效期3年" in page
    assert "<strong>县乡人民政府教育工作督导评估</strong>：不设公示；证书有效期1年" in page  # its file's, not the archives'
