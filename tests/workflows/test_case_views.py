import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.models import Case, Grade
from certification.services.cases import case_plan_include
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_case(archives_version, regions, bureaus):
    def make(name="县财政局"):
        institution = InstitutionFactory(name=name, region=regions["county"], level=InstitutionLevel.COUNTY)
        applicant = UserFactory()
        permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
        case = Case.objects.create(
            institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
            bureau=bureaus["county"], grade=Grade.objects.get(version=archives_version, code="second"),
            declared_at=timezone.now(), declared_by=applicant, reference=f"2026{Case.objects.count() + 1:06d}")
        return case, applicant
    return make


def staff_of(bureau):
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureau)
    return user


def test_the_applicant_sees_where_its_case_stands_and_what_is_next(client, make_case, bureaus):
    case, applicant = make_case()
    case_plan_include(actor=staff_of(bureaus["county"]), case=case)
    client.force_login(applicant)
    page = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "已列入考评计划：自查" in page
    assert "申报单位" in page and "自查" in page
    assert "列入考评计划" in page  # the timeline's event, labelled


def test_a_case_list_shows_only_the_users_cases(client, make_case):
    mine, applicant = make_case("甲局")
    make_case("乙局")
    client.force_login(applicant)
    page = client.get(reverse("case_list")).content.decode()
    assert "甲局" in page
    assert "乙局" not in page


@pytest.mark.parametrize("rows", [1, 3])
def test_the_case_list_queries_do_not_grow_with_rows(client, make_case, bureaus, django_assert_max_num_queries,
                                                     rows):
    for n in range(rows):
        make_case(f"局{n}")
    client.force_login(staff_of(bureaus["county"]))
    with django_assert_max_num_queries(14):
        assert client.get(reverse("case_list")).status_code == 200


def _case_urls():
    """Every URL of the site that names a case by its pk: a new one cannot escape the test below."""
    return [p.name for p in get_resolver().url_patterns
            if getattr(p, "name", "") and p.name.startswith("case_") and "<int:pk>" in str(p.pattern)]


def test_every_case_url_answers_404_to_anyone_else(client, make_case, bureaus, regions):
    case, _applicant = make_case()
    other_applicant = UserFactory()
    permissions.role_grant(user=other_applicant, role=Role.APPLICANT, obj=InstitutionFactory(region=regions["city"]))
    outsiders = [other_applicant, staff_of(bureaus["city"]), staff_of(bureaus["province"]), UserFactory(),
                 UserFactory(is_superuser=True, is_staff=True)]
    names = _case_urls()
    assert names == ["case_detail"]
    for name in names:
        for outsider in outsiders:
            client.force_login(outsider)
            assert client.get(reverse(name, args=[case.pk])).status_code == 404, (name, outsider)
        client.force_login(staff_of(bureaus["county"]))
        assert client.get(reverse(name, args=[case.pk])).status_code == 200


def test_case_pages_need_a_sign_in(client, make_case):
    case, _applicant = make_case()
    response = client.get(reverse("case_detail", args=[case.pk]))
    assert (response.status_code, response.url.startswith(reverse("login"))) == (302, True)
