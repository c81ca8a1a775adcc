"""The matter page (案件办理页): one page per case that shows, for whoever may see it, the progress, the next
step, the notice with its dates, public link and objections, the panel, the scores, the documents and
uploads, and, once issued, the certificate's number and links — in a fixed number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certification.services.cases import case_issue_certificate
from certification.services.notices import objection_file
from tests.workflows.test_flows import declare, noticed
from tests.worlds import at, run_case

pytestmark = [pytest.mark.smoke, pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _page(client, user, case) -> str:
    client.force_login(user)
    response = client.get(reverse("case_detail", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_during_the_notice_the_case_page_shows_its_dates_public_link_and_objections(client, world):
    _institution, people, _experts = world
    d = noticed(client, world)
    notice = d.case.notices.get()
    with at(2026, 3, 2, 9, 0):
        objection = objection_file(notice=notice, case=d.case, name="张三", contact="13800000000",
                                   grounds="档案库房未达标")

        page = _page(client, people["applicant"], d.case)

    assert "2026-03-01 09:00" in page and "2026-03-09 00:00" in page  # published, closes
    assert reverse("notice_detail", args=[notice.pk]) in page
    assert objection.receipt in page and "2026-03-02 09:00" in page
    assert 'aria-current="step"' in page and "公示" in page  # the progress marks the notice as the current step


def test_the_final_case_page_shows_the_certificate_number_and_its_links(client, world):
    _institution, people, _experts = world
    case = run_case(world)
    with at(2026, 3, 25, 10, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)

    page = _page(client, people["applicant"], case)

    assert certificate.number in page
    assert reverse("certificates:detail", args=[certificate.pk]) in page
    assert reverse("verify_token", args=[certificate.verification_token]) in page
    # the panel, the scores and the review's conclusion are on the page too
    assert "专家0" in page and "达到标准" in page and "评审组评分" in page


def test_the_users_own_open_task_is_a_button_on_the_case_page_and_others_tasks_are_not(client, world):
    from workflows.engine import open_tasks

    _institution, people, _experts = world
    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
    task = open_tasks(d.case).get()  # the bureau's "include in the plan"
    link = f'class="btn btn-primary" href="{reverse("case_task", args=[d.case.pk, task.pk])}"'

    staff_page = _page(client, people["staff"], d.case)
    applicant_page = _page(client, people["applicant"], d.case)

    assert (link in staff_page, link in applicant_page) == (True, False)
    assert "主管部门考评人员" in applicant_page  # who acts next, named by role


def test_the_case_page_takes_the_same_queries_with_one_objection_or_three(client, world):
    _institution, people, _experts = world
    d = noticed(client, world)
    notice = d.case.notices.get()
    client.force_login(people["staff"])
    url = reverse("case_detail", args=[d.case.pk])

    def queries():
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url).content.decode()
        return len(captured), page

    with at(2026, 3, 2, 9, 0):
        objection_file(notice=notice, case=d.case, name="张三", contact="13800000000", grounds="一")
        one, page = queries()
        for n in range(2):
            objection_file(notice=notice, case=d.case, name=f"李{n}", contact="13800000001", grounds="二")
        three, page = queries()

    assert len(re.findall(r"<td>YY[0-9A-F]{10}", page)) == 3
    assert three == one


def test_the_case_page_asks_the_database_each_thing_once(client, world):
    """No statement of the matter page is sent twice (the visibility's panel seats, the pre-checks and the
    objections were each read two or three times)."""
    from collections import Counter

    _institution, people, _experts = world
    d = noticed(client, world)
    with at(2026, 3, 2, 9, 0):
        objection_file(notice=d.case.notices.get(), case=d.case, name="张三", contact="13800000000", grounds="一")
        for user in (people["staff"], people["applicant"], people["prechecker"]):
            client.force_login(user)
            url = reverse("case_detail", args=[d.case.pk])
            client.get(url)
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            repeated = [sql for sql, n in Counter(q["sql"] for q in captured).items() if n > 1]

            assert repeated == [], user.username


def test_the_case_page_offers_exactly_the_tasks_the_inbox_lists_for_each_user(client, world):
    """The matter page decides "your task" from the case in hand (no query); it must agree, user by user and
    stage by stage, with the inbox's one query (``workable_tasks``)."""
    from django.contrib.auth import get_user_model
    from django.http import Http404

    from certification.selectors import case_get_for_user_or_404
    from certification.tasks import fire_due_timers
    from tests.workflows.test_flows import sign_recusal, to_precheck
    from workflows.engine import open_tasks, workable_on_case, workable_tasks

    _institution, people, experts = world
    users = list(get_user_model().objects.all())
    offered = []

    def agree(case):
        tasks = list(open_tasks(case))
        for user in users:
            expected = set(workable_tasks(user).filter(pk__in=[t.pk for t in tasks]).values_list("pk", flat=True))
            try:
                in_hand = case_get_for_user_or_404(user, case.pk)
            except Http404:  # the page answers 404 (or, to an unsigned member, shows the declaration alone)
                continue
            assert workable_on_case(user, in_hand, tasks) == expected, (user.username, case.stage)
            offered.extend(expected)

    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
        agree(d.case)  # the bureau's plan, nobody's yet
        to_precheck(d, world)
        agree(d.case)  # the designated pre-checker's own
        d.post(people["prechecker"], "precheck", "decide", {"decision": "pass", "summary": "符合要求"})
        client.force_login(people["staff"])
        client.post(reverse("notice_publish"), {"title": "2026年公示", "cases": [d.case.pk]})
        agree(d.case)  # nothing to do while the notice runs
    with at(2026, 3, 11, 9, 0):
        fire_due_timers()
        agree(d.case)  # the panel to form
        d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts[:3]],
                                                       "chair": experts[0].pk})
        sign_recusal(client, d.case, experts[1].user)
        agree(d.case)  # the members' own scoring: one signed, two not yet

    assert len(set(offered)) >= 3  # the plan, the pre-check, a member's scoring (at least)
