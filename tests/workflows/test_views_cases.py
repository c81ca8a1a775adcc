import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse

from certification import permissions
from certification.enums import BureauLevel, RegionLevel, Role
from certification.services.cases import case_plan_include
from tests.factories import BureauFactory, InstitutionFactory, RegionFactory, UserFactory
from tests.worlds import staff_of

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


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


def test_the_case_list_rows_link_each_case_show_its_badges_and_sort_by_a_column(client, make_case, bureaus):
    import re

    client.force_login(staff_of(bureaus["county"]))
    cases = [make_case(name)[0] for name in ("乙局", "甲局", "丙局")]

    page = client.get(reverse("case_list")).content.decode()
    rows = re.findall(r'<tr><td><a href="(/cases/\d+/)">([^<]+)</a></td><td>([^<]+)</td>', page)
    assert sorted(rows) == sorted((reverse("case_detail", args=[c.pk]), c.reference, c.institution.name)
                                  for c in cases)
    assert page.count('<span class="badge rounded-pill text-bg-') == 6  # a stage and an outcome per case
    assert "已申报" in page  # the stage in words, not its code
    by_name = client.get(reverse("case_list"), {"sort": "institution"}).content.decode()
    assert [name for name in re.findall(r"<td>(.局)</td>", by_name)] == sorted(["乙局", "甲局", "丙局"])
    assert 'aria-sort="ascending"' in by_name
    assert 'aria-sort="descending"' in client.get(reverse("case_list"), {"sort": "-institution"}).content.decode()


def _queries_for(client, url):
    client.get(url)  # sessions, content types and the like cached
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_case_list_takes_the_same_queries_for_one_case_or_many(client, make_case, bureaus):
    client.force_login(staff_of(bureaus["county"]))
    make_case("局0")
    one, page = _queries_for(client, reverse("case_list"))
    assert page.count("局0") == 1
    for n in range(1, 6):
        make_case(f"局{n}")

    many, page = _queries_for(client, reverse("case_list"))

    assert [page.count(f"局{n}") for n in range(6)] == [1] * 6
    assert many == one


def _routes(patterns=None, prefix=""):
    """Every named route of the site, includes walked: (full route, name)."""
    from django.urls import URLResolver

    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            namespace = f"{p.namespace}:" if p.namespace else ""
            yield from ((route, namespace + name) for route, name in _routes(p.url_patterns, prefix + str(p.pattern)))
        elif getattr(p, "name", None):
            yield prefix + str(p.pattern), p.name


def _case_urls():
    """Every URL of the site that names a case by its pk: a new one cannot escape the test below."""
    return sorted({name for route, name in _routes() if route.startswith("cases/") and "<int:pk>" in route})


def _url(name, case, route_kwargs):
    """The URL of ``name`` for ``case``, with a sample value for each other parameter the route takes."""
    import re

    route = next(r for r, n in _routes() if n == name)
    params = re.findall(r"<(?:\w+:)?(\w+)>", route)
    unknown = set(params) - {"pk"} - set(route_kwargs)
    assert not unknown, f"{name}: give the matrix test a sample value for {unknown}"
    return reverse(name, kwargs={"pk": case.pk, **{k: v for k, v in route_kwargs.items() if k in params}})


# Pages a higher bureau's staff, approvers and auditors read on a case below them (the others answer them 404).
# The task page tells them the task is someone else's (409), as it tells another role of the case's own bureau.
READ_BELOW = {"case_detail", "case_chart", "case_process", "case_task", "documents:case_documents", "documents:case_document_html",
              "documents:case_document_pdf"}
# Pages that exist only at some moment of a case (tested where that moment is: test_flows.py).
EXISTS_ONLY_IN_SOME_STATES = {"case_my_sheet", "case_change_chair", "case_recusal", "case_replace_member",
                              "case_reassign_member", "case_designate_prechecker",  # (test_oversight.py)
                              "documents:case_evidence"}  # an upload's own URL (tests/workflows/test_walk_evidence.py)


def test_every_case_url_answers_404_to_anyone_else(client, make_case, bureaus, regions):
    from workflows.engine import case_start_process, open_tasks

    case, applicant = make_case()
    case_start_process(case)
    samples = {"task_pk": open_tasks(case).first().pk, "kind": "application_form", "item": 1}
    other_applicant = UserFactory()
    permissions.role_grant(user=other_applicant, role=Role.APPLICANT, obj=InstitutionFactory(region=regions["city"]))
    sibling = BureauFactory(region=RegionFactory(name="邻县", code="420103", level=RegionLevel.COUNTY,
                                                 parent=regions["city"]), level=BureauLevel.COUNTY, parent=bureaus["city"])
    outsiders = [other_applicant, UserFactory(), UserFactory(is_superuser=True, is_staff=True), staff_of(sibling)]
    for role in (Role.PRECHECKER, Role.CERTIFICATE_OFFICER):
        user = UserFactory()
        permissions.role_grant(user=user, role=role, obj=bureaus["city"])
        outsiders.append(user)
    # The staff, approvers and auditors of the bureaus above read the case (第九条, 第十二条) and write nothing.
    readers = [staff_of(bureaus["city"]), staff_of(bureaus["province"])]
    for role in (Role.APPROVER, Role.AUDITOR):
        user = UserFactory()
        permissions.role_grant(user=user, role=role, obj=bureaus["city"])
        readers.append(user)
    # an auditor reads the cases of its bureau and of the bureaus below it: another city's auditor, nothing here
    other_city = BureauFactory(region=RegionFactory(level=RegionLevel.CITY, parent=regions["province"]),
                               parent=bureaus["province"])
    auditor = UserFactory()
    permissions.role_grant(user=auditor, role=Role.AUDITOR, obj=other_city)
    outsiders.append(auditor)
    names = _case_urls()
    assert {"case_detail", "case_task", "case_withdraw", "case_cancel", "case_chart"} <= set(names)
    insiders = [staff_of(bureaus["county"]), applicant]
    for name in names:
        url = _url(name, case, samples)
        for outsider in outsiders:
            client.force_login(outsider)
            assert client.get(url).status_code == 404, (name, outsider)
            assert client.post(url, {}).status_code in (404, 405), (name, outsider)  # 405: a page only read
        for reader in readers:
            client.force_login(reader)
            if name in READ_BELOW:
                assert client.get(url).status_code in (200, 409), (name, reader)
            else:
                assert client.get(url).status_code == 404, (name, reader)
            assert client.post(url, {"reason": "越权"}).status_code in (404, 405, 409), (name, reader)
        if name in EXISTS_ONLY_IN_SOME_STATES:
            continue
        answers = []
        for insider in insiders:
            client.force_login(insider)
            answers.append(client.get(url).status_code)
        assert set(answers) & {200, 409}, (name, answers)  # the page exists for someone of the case
    case.refresh_from_db()
    assert case.stage == "declared" and case.outcome == "open"  # the outsiders' posts changed nothing


def test_case_pages_need_a_sign_in(client, make_case):
    case, _applicant = make_case()
    response = client.get(reverse("case_detail", args=[case.pk]))
    assert (response.status_code, response.url.startswith(reverse("login"))) == (302, True)


# What each role gets on each page of its own bureau's (or institution's) case: 200 (the page), 409 (a task
# that is someone else's: it says so) or 404 (the page does not exist for this user).
MATRIX = {
    #               detail chart task(plan) withdraw cancel
    "applicant":    (200, 200, 409, 200, 404),
    "staff":        (200, 200, 200, 404, 200),
    "prechecker":   (200, 200, 409, 404, 404),
    "approver":     (200, 200, 409, 404, 404),
    "auditor":      (200, 200, 409, 404, 404),
    "expert":       (404, 404, 404, 404, 404),  # no panel yet
    "officer":      (404, 404, 404, 404, 404),  # a province officer sees the queue, not a county case
}


@pytest.mark.parametrize("role", list(MATRIX))
def test_the_matrix_of_roles_and_case_pages(client, make_case, bureaus, role):
    from tests.factories import ExpertFactory
    from workflows.engine import case_start_process, open_tasks

    case, applicant = make_case()
    case_start_process(case)
    task = open_tasks(case).get()
    county = bureaus["county"]
    roles = {"staff": Role.BUREAU_STAFF, "prechecker": Role.PRECHECKER, "approver": Role.APPROVER,
             "auditor": Role.AUDITOR}
    if role == "applicant":
        user = applicant
    elif role == "expert":
        user = ExpertFactory(pool=county, user=UserFactory()).user
    elif role == "officer":
        user = UserFactory()
        permissions.role_grant(user=user, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    else:
        user = UserFactory()
        permissions.role_grant(user=user, role=roles[role], obj=county)
    client.force_login(user)
    urls = [reverse("case_detail", args=[case.pk]), reverse("case_chart", args=[case.pk]),
            reverse("case_task", args=[case.pk, task.pk]), reverse("case_withdraw", args=[case.pk]),
            reverse("case_cancel", args=[case.pk])]
    assert tuple(client.get(url).status_code for url in urls) == MATRIX[role]


def test_the_province_auditor_reads_the_cases_of_the_bureaus_below_it(client, make_case, bureaus):
    county_case, _applicant = make_case("县财政局")
    auditor = UserFactory()
    permissions.role_grant(user=auditor, role=Role.AUDITOR, obj=bureaus["province"])
    client.force_login(auditor)

    listed = client.get(reverse("case_list")).content.decode()
    page = client.get(reverse("case_detail", args=[county_case.pk]))

    assert (county_case.reference in listed, page.status_code) == (True, 200)
    assert "撤销申报" not in page.content.decode() and "撤销案件" not in page.content.decode()  # read only
