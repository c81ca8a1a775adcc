import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from certification import permissions
from certification.enums import Role
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_home_invites_an_anonymous_visitor_to_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert reverse("login") in response.content.decode()
    assert reverse("admin:index") not in response.content.decode()


def test_sign_in_with_the_right_password_lands_on_home(client):
    UserFactory(username="clerk", password="pw-for-tests")
    response = client.post(reverse("login"), {"username": "clerk", "password": "pw-for-tests"})
    assert (response.status_code, response.url) == (302, "/")


def test_sign_in_with_a_wrong_password_says_so_in_chinese(client):
    UserFactory(username="clerk", password="pw-for-tests")
    response = client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_home_shows_the_applicants_role_and_own_institution_only(client, regions):
    mine = InstitutionFactory(name="甲局", region=regions["province"])
    InstitutionFactory(name="乙局", region=regions["province"])
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=mine)
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    assert "申报单位" in page
    assert "甲局" in page
    assert "乙局" not in page


def test_home_shows_an_experts_pool(client, bureaus):
    user = UserFactory()
    user.groups.add(Group.objects.get(name=Role.EXPERT))
    ExpertFactory(user=user, pool=bureaus["city"])
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    assert "评审专家" in page
    assert bureaus["city"].name in page


def test_home_without_a_role_says_what_to_do(client):
    client.force_login(UserFactory())
    assert "尚未" in client.get(reverse("home")).content.decode()


@pytest.mark.parametrize("bureaus_held", [1, 3])
def test_home_queries_do_not_grow_with_workplaces(client, django_assert_max_num_queries, bureaus, bureaus_held):
    user = UserFactory()
    for bureau in list(bureaus.values())[:bureaus_held]:
        permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureau)
    client.force_login(user)
    with django_assert_max_num_queries(16):
        page = client.get(reverse("home")).content.decode()
    assert page.count("档案局考评人员") == bureaus_held
