"""The pages stay as cheap with many rows as with one: the inbox, the case list and a case page take the same
number of queries whatever the data (the benchmark, ``python -m benchmarks pages``, times them at a
province's size); the case list pages by keyset; a user's grants are read once."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certification import permissions
from certification.enums import Role
from certification.models import Case
from certification.permissions import WORK_IN_BUREAU
from certification.selectors import cases_for_user
from tests.factories import UserFactory
from tests.worlds import all_conditions, at, declared_case, make_institution
from workflows import actions, engine, views

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_the_declaration_window():
    with at(2026, 1, 15, 9, 0):
        yield


def listed(world, archives_version, bureaus, n: int) -> list[Case]:
    """``n`` cases of new county institutions, made directly (no process): for the lists."""
    _institution, people, _experts = world
    return [declared_case(version=archives_version, institution=make_institution(world, f"县单位{Case.objects.count()}"),
                          bureau=bureaus["county"], declared_by=people["applicant"]) for _ in range(n)]


def declare(world, n: int) -> list[Case]:
    """``n`` more declarations of the county, each with its process and its open "plan" task."""
    _institution, people, _experts = world
    answers, _evidence = all_conditions()
    made = []
    for _ in range(n):
        institution = make_institution(world, f"县机关{Case.objects.count() + 1}")
        _answers, evidence = all_conditions()
        made.append(actions.case_declare(scheme="archives",
                                         actor=people["applicant"], institution=institution, grade="second",
                                         kind="promotion", answers=answers, evidence=evidence))
    return made


def queries(client, url: str) -> tuple[int, str]:
    client.get(url)  # sessions, content types and the like cached
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.content.decode()


@pytest.mark.parametrize("url", ["/tasks/", "/api/v1/tasks/"])
def test_the_inbox_takes_the_same_queries_for_one_task_or_twelve(client, world, url):
    _institution, people, _experts = world
    declare(world, 1)
    client.force_login(people["staff"])
    few, page = queries(client, url)
    declare(world, 11)
    many, page = queries(client, url)

    assert page.count("/tasks/") >= 12 if url == "/tasks/" else page.count('"case_reference"') == 12
    assert many == few


def test_the_inbox_shows_fifty_tasks_a_page_oldest_first(client, world, monkeypatch):
    _institution, people, _experts = world
    monkeypatch.setattr(views.InboxView, "paginate_by", 2)
    cases = declare(world, 3)
    client.force_login(people["staff"])

    first = client.get("/tasks/").content.decode()
    second = client.get("/tasks/", {"page": 2}).content.decode()

    assert [c.reference for c in cases[:2] if c.reference in first] == [c.reference for c in cases[:2]]
    assert cases[2].reference not in first and cases[2].reference in second
    assert "第 1 页，共 2 页" in first.replace("\n", "")


def test_a_superuser_without_a_grant_has_no_task_and_cannot_open_one(client, world):
    case = declare(world, 1)[0]
    boss = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(boss)
    task = engine.open_tasks(case).get()

    assert list(engine.inbox(boss)) == []
    assert client.get(reverse("case_task", args=[case.pk, task.pk])).status_code == 404


def test_the_pre_checker_of_another_bureau_does_not_see_the_task(client, world, bureaus):
    case = declare(world, 1)[0]
    _institution, people, _experts = world
    stranger = UserFactory()
    permissions.role_grant(user=stranger, role=Role.BUREAU_STAFF, obj=bureaus["city"])

    assert [t.flow_task.name for t in engine.inbox(people["staff"])] == ["plan"]
    assert list(engine.inbox(stranger)) == []
    assert not engine.may_work_on(stranger, engine.open_tasks(case).get())


def test_the_case_list_takes_the_same_queries_for_three_cases_or_thirty(client, world, archives_version, bureaus):
    _institution, people, _experts = world
    listed(world, archives_version, bureaus, 3)
    client.force_login(people["staff"])
    few, _page = queries(client, "/cases/")
    listed(world, archives_version, bureaus, 27)
    many, page = queries(client, "/cases/")

    assert page.count('href="/cases/') >= 30
    assert many == few


def test_the_case_list_walks_every_case_once_by_its_older_link(client, world, archives_version, bureaus,
                                                                 monkeypatch):
    _institution, people, _experts = world
    monkeypatch.setattr(views.CaseListView, "paginate_by", 4)
    made = listed(world, archives_version, bureaus, 10)
    client.force_login(people["staff"])
    seen, url, pages = [], "/cases/", 0
    while url:
        page = client.get(url).content.decode()
        seen += re.findall(r'href="/cases/(\d+)/"', page)
        older = re.search(r'href="(\?after=[^"]+)">较早', page)
        url = "/cases/" + older.group(1).replace("&amp;", "&") if older else ""
        pages += 1

    assert pages == 3
    assert sorted(int(pk) for pk in seen) == sorted(c.pk for c in made)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("cursor", ["garbage", "2026-01-01T00:00:00_abc", "2026-01-01T00:00:00_3", "_"])
def test_a_cursor_that_does_not_parse_starts_from_the_newest(client, world, archives_version, bureaus, cursor):
    _institution, people, _experts = world
    case = listed(world, archives_version, bureaus, 1)[0]
    client.force_login(people["staff"])

    response = client.get("/cases/", {"after": cursor})

    assert response.status_code == 200
    assert case.reference in response.content.decode()


def test_the_case_page_takes_the_same_queries_whatever_else_the_bureau_holds(client, world):
    _institution, people, _experts = world
    case = declare(world, 1)[0]
    client.force_login(people["staff"])
    few, page = queries(client, reverse("case_detail", args=[case.pk]))
    declare(world, 10)
    many, page = queries(client, reverse("case_detail", args=[case.pk]))

    assert case.reference in page and "/tasks/" in page  # the staff's plan task, one click away
    assert many == few


def test_a_users_grants_are_read_in_one_query_and_a_new_grant_counts_at_once(world, bureaus):
    _institution, people, _experts = world
    staff = people["staff"]
    with CaptureQueriesContext(connection) as captured:
        for _ in range(5):
            assert permissions.can(staff, WORK_IN_BUREAU, bureaus["county"])
            assert not permissions.can(staff, WORK_IN_BUREAU, bureaus["city"])
    assert len(captured) == 1

    permissions.grant(staff, WORK_IN_BUREAU, bureaus["city"])

    assert permissions.can(staff, WORK_IN_BUREAU, bureaus["city"])


def test_case_visibility_needs_no_join_and_no_distinct(world):
    _institution, people, _experts = world
    sql = str(cases_for_user(people["staff"]).query).upper()

    assert "JOIN" not in sql and "DISTINCT" not in sql


def test_a_permission_is_asked_only_of_the_model_it_is_held_on(world, bureaus):
    institution, people, _experts = world

    with pytest.raises(ValueError):
        permissions.can(people["staff"], WORK_IN_BUREAU, institution)
    with pytest.raises(ValueError):
        permissions.objects_for(people["staff"], WORK_IN_BUREAU, Case.objects.all())
