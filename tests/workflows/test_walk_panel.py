"""A case no longer gets stuck on a member who cannot sign in (the walk): forming the panel warns about experts
without an account and describes each candidate; the bureau replaces such a member from the pages, or, once the
expert has an account, gives the seat's tasks to it — audited — and the member then scores."""

import datetime as dt

import pytest
from django.urls import reverse

from certification.models import AuditEntry, PanelMember, Stage
from tests.factories import ExpertFactory, UserFactory
from tests.workflows.test_flows import clock, noticed, rubric_codes, sign_recusal, state
from tests.worlds import at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "clock")]
__all__ = ["clock"]  # the autouse clock of the flow tests


def at_panel(client, world):
    from certification.tasks import fire_due_timers

    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
    assert state(d.case)[0] == Stage.PANEL
    return d


def expert_without_account(bureaus, name):
    """An expert of the county's pool, in term, who has no account to sign in with."""
    return ExpertFactory(pool=bureaus["county"], name=name, user=None, term_starts_on=dt.date(2025, 1, 1),
                         term_ends_on=dt.date(2032, 12, 31))


def test_forming_a_panel_warns_about_experts_without_an_account_and_the_bureau_replaces_one(client, world, bureaus):
    _institution, people, experts = world
    nobody = expert_without_account(bureaus, "无账号专家")
    d = at_panel(client, world)
    with at(2026, 3, 10, 9, 0):
        client.force_login(people["staff"])
        page = client.get(d.url("form_panel")).content.decode()
        warning = page[page.index('id="without-account"'):][:400]
        assert "没有登录账号" in warning and "无账号专家" in warning
        assert "县档案局专家库" in page and "在审考评组0个" in page and "无登录账号" in page
        d.post(people["staff"], "form_panel", "form", {"members": [experts[0].pk, experts[1].pk, nobody.pk],
                                                       "chair": experts[0].pk})
        seat = PanelMember.objects.get(panel__case=d.case, expert=nobody)
        case_page = client.get(reverse("case_detail", args=[d.case.pk])).content.decode()
        assert "无账号专家没有登录账号" in case_page
        response = client.post(reverse("case_replace_member", args=[d.case.pk]),
                               {"member": seat.pk, "expert": experts[2].pk})
        assert response.status_code == 302, response.content.decode()[:2000]
    seat.refresh_from_db()
    assert seat.replaced_by.expert == experts[2]
    with at(2026, 3, 11, 9, 0):
        sign_recusal(client, d.case, experts[2].user)
        for code in rubric_codes(d.case):
            d.item(experts[2].user, "score", code)  # the new member's scoring task is theirs
        d.post(experts[2].user, "score", "submit")
    assert AuditEntry.objects.filter(action="panel.replace_member").count() == 1


def test_an_account_linked_later_gets_the_seats_task_when_the_bureau_gives_it(client, world, bureaus):
    _institution, people, experts = world
    late = expert_without_account(bureaus, "后开账号专家")
    d = at_panel(client, world)
    with at(2026, 3, 10, 9, 0):
        d.post(people["staff"], "form_panel", "form", {"members": [experts[0].pk, experts[1].pk, late.pk],
                                                       "chair": experts[0].pk})
        late.user = UserFactory(username="late-expert", full_name="后开账号专家")
        late.save()
        sign_recusal(client, d.case, late.user)
        member_page = client.get(reverse("case_detail", args=[d.case.pk])).content.decode()
        assert reverse("case_my_sheet", args=[d.case.pk]) not in member_page  # nothing was ever reopened
        client.force_login(people["staff"])
        seat = PanelMember.objects.get(panel__case=d.case, expert=late)
        response = client.post(reverse("case_reassign_member", args=[d.case.pk]), {"member": seat.pk})
        assert response.status_code == 302, response.content.decode()[:2000]
    with at(2026, 3, 11, 9, 0):
        for code in rubric_codes(d.case):
            d.item(late.user, "score", code)
        d.post(late.user, "score", "submit")
    entry = AuditEntry.objects.get(action="panel.reassign_tasks")
    assert (entry.actor, entry.after["expert"]) == (people["staff"], "后开账号专家")
