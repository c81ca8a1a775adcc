import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certification import permissions
from certification.enums import Role
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory
from tests.worlds import at

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
    assert "<p>您尚未被分配角色，请联系主管部门分配。</p>" in client.get(reverse("home")).content.decode()


def test_home_takes_the_same_queries_for_one_workplace_or_three(client, bureaus):
    user = UserFactory()
    held = list(bureaus.values())[:3]
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=held[0])
    client.force_login(user)

    def home():
        client.get(reverse("home"))  # sessions and the like cached
        with CaptureQueriesContext(connection) as captured:
            page = client.get(reverse("home")).content.decode()
        return len(captured), page

    one, page = home()
    assert page.count("主管部门考评人员") == 1
    for bureau in held[1:]:
        permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureau)
    three, page = home()

    assert page.count("主管部门考评人员") == 3
    assert three == one




@pytest.mark.parametrize(("role", "bureau", "links"), [
    (Role.CERTIFICATE_OFFICER, "province", ["certificates:queue", "documents:summaries", "filing_list"]),
    (Role.AUDITOR, "province", ["case_list", "documents:summaries", "filing_list"]),
])
def test_the_officers_and_auditors_home_links_to_their_pages(client, bureaus, role, bureau, links):
    user = UserFactory()
    permissions.role_grant(user=user, role=role, obj=bureaus[bureau])
    client.force_login(user)

    main = client.get(reverse("home")).content.decode().split("<main", 1)[1].split("</main>")[0]

    assert [f'href="{reverse(name)}"' in main for name in links] == [True] * len(links)
    for name in links:  # and each link opens
        assert client.get(reverse(name)).status_code == 200, name


def test_an_inbox_with_only_the_bureaus_queues_does_not_say_there_is_nothing_to_do(client, world):
    from tests.workflows.test_flows import declare, to_precheck

    _institution, people, _experts = world
    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
        to_precheck(d, world)
        d.post(people["prechecker"], "precheck", "decide", {"decision": "pass", "summary": "符合要求"})
        client.force_login(people["staff"])  # no task of its own: a case waits for the notice it publishes

        page = client.get(reverse("inbox")).content.decode()

    assert ("您目前没有待办事项。" in page, reverse("notice_publish") in page) == (False, True)


def test_the_process_chart_has_a_way_back(client, world):
    from tests.workflows.test_flows import declare

    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
    client.force_login(world[1]["applicant"])

    page = client.get(reverse("case_process", args=[d.case.pk])).content.decode()

    assert f'href="{reverse("case_detail", args=[d.case.pk])}"' in page
    assert f'src="{reverse("case_chart", args=[d.case.pk])}"' in page
