"""The recusal declaration (回避声明): each member signs it online before seeing anything of the case; the moment
is kept and printed on the panel roster; a member who declares a conflict instead leaves the panel and the
bureau names a replacement, who takes the seat's sheet and task."""

import pytest
from django.urls import reverse

from certification.models import AuditEntry, ConflictDeclaration, PanelMember, ScoreSheet, SheetKind
from certification.tasks import fire_due_timers
from tests.certification.test_documents import pdf_text
from tests.factories import ExpertFactory, UserFactory
from tests.workflows.test_flows import noticed, sign_recusal
from tests.worlds import at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def reviewing(client, world):
    """A case whose panel (专家0 chair, 专家1, 专家2) was formed on 2026-03-10 at 09:00."""
    _institution, people, experts = world
    d = noticed(client, world)
    with at(2026, 3, 10, 9, 0):
        fire_due_timers()
        d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts[:3]],
                                                        "chair": experts[0].pk})
    return d


def test_a_member_who_has_not_signed_sees_only_the_declaration(client, world, reviewing):
    _institution, _people, experts = world
    d, member = reviewing, experts[1].user
    client.force_login(member)
    own_sheet = ScoreSheet.objects.get(case=d.case, kind=SheetKind.MEMBER, expert=experts[1])
    declaration = reverse("case_recusal", args=[d.case.pk])

    case_page = client.get(reverse("case_detail", args=[d.case.pk]))
    task_page = client.get(d.url("score", member))
    evidence = [client.get(reverse("documents:case_documents", args=[d.case.pk])).status_code,
                client.get(reverse("documents:case_document_html", args=[d.case.pk, "self_check_form"])).status_code,
                client.get(f"/api/v1/cases/{d.case.pk}/").status_code,
                client.get(f"/api/v1/sheets/{own_sheet.pk}/").status_code]
    page = client.get(declaration)

    assert (case_page.status_code, case_page["Location"]) == (302, declaration)
    assert (task_page.status_code, task_page["Location"]) == (302, declaration)
    assert evidence == [404, 404, 404, 404]
    assert page.status_code == 200
    assert page.context["case"] == d.case
    assert "县民政局" in page.content.decode()
    assert [t.flow_task.name for t in d.client.get(reverse("inbox")).context["page_obj"]] == ["score"]


def test_signing_opens_the_case_and_is_recorded_and_printed_on_the_roster(client, world, reviewing):
    _institution, people, experts = world
    d = reviewing
    with at(2026, 3, 11, 14, 30):
        sign_recusal(client, d.case, experts[1].user)

    client.force_login(experts[1].user)
    assert client.get(reverse("case_detail", args=[d.case.pk])).status_code == 200
    assert client.get(d.url("score", experts[1].user)).status_code == 200
    assert client.get(reverse("case_recusal", args=[d.case.pk])).status_code == 404  # signed: nothing to sign
    member = PanelMember.objects.get(panel__case=d.case, expert=experts[1])
    assert member.recusal_declared_at.isoformat() == "2026-03-11T06:30:00+00:00"
    entry = AuditEntry.objects.get(action="panel.recusal_sign")
    assert (entry.actor, entry.target_id, entry.after["expert"]) == (experts[1].user, str(d.case.pk), "专家1")

    client.force_login(people["staff"])
    roster = client.get(reverse("documents:case_document_pdf", args=[d.case.pk, "panel_roster"]))
    text = pdf_text(roster.content)
    assert roster.status_code == 200
    assert "专家1" in text and "已签署2026年3月11日14:30" in text
    assert text.count("已签署") == 1 and text.count("□已阅知") == 2  # the two others have not signed yet


def test_a_member_declaring_a_conflict_leaves_and_the_bureau_names_a_replacement(client, world, reviewing):
    _institution, people, experts = world
    d = reviewing
    client.force_login(experts[0].user)  # the chair
    with at(2026, 3, 11, 9, 0):
        response = client.post(reverse("case_recusal", args=[d.case.pk]),
                               {"action": "conflict", "conflict-reason": "配偶在申报单位任职"})
    assert response.status_code == 302
    old = PanelMember.objects.get(panel__case=d.case, expert=experts[0])
    assert (old.archived_at is not None, old.is_chair, old.recusal_declared_at) == (True, False, None)
    assert ConflictDeclaration.objects.get(expert=experts[0]).reason == "配偶在申报单位任职"
    assert client.get(reverse("case_detail", args=[d.case.pk])).status_code == 404  # no longer on the panel

    client.force_login(people["staff"])
    page = client.get(reverse("case_detail", args=[d.case.pk])).content.decode()
    assert "专家0𠮷龘叕已声明回避并退出评审组。" in page
    replacement = ExpertFactory(pool=d.case.bureau, name="替补专家", user=UserFactory(),
                                term_starts_on=experts[3].term_starts_on, term_ends_on=experts[3].term_ends_on)
    conflicted = ExpertFactory(pool=d.case.bureau, name="同单位专家", user=UserFactory(), employer=d.case.institution,
                               term_starts_on=experts[3].term_starts_on, term_ends_on=experts[3].term_ends_on)
    url = reverse("case_replace_member", args=[d.case.pk])
    refused = client.post(url, {"member": old.pk, "expert": conflicted.pk})
    assert refused.status_code == 200
    assert refused.context["form"].non_field_errors() == ["回避：同单位专家现在县民政局（申报单位本身）工作。 请从专家库中另选专家。"]
    with at(2026, 3, 11, 10, 0):
        assert client.post(url, {"member": old.pk, "expert": replacement.pk}).status_code == 302

    new = PanelMember.objects.get(panel__case=d.case, expert=replacement)
    assert new.is_chair
    old.refresh_from_db()
    assert old.replaced_by == new
    assert ScoreSheet.objects.filter(case=d.case, kind=SheetKind.MEMBER).count() == 3
    assert ScoreSheet.objects.filter(case=d.case, kind=SheetKind.MEMBER, expert=replacement).count() == 1
    owners = {t.flow_task.name: t.owner for t in (d.task("score", replacement.user), d.task("onsite"))}
    assert owners == {"score": replacement.user, "onsite": replacement.user}
    # the replacement, too, signs before seeing the case
    client.force_login(replacement.user)
    assert client.get(d.url("score", replacement.user))["Location"] == reverse("case_recusal", args=[d.case.pk])


def test_the_api_signs_the_declaration(client, world, reviewing):
    _institution, _people, experts = world
    d = reviewing
    client.force_login(experts[2].user)
    seats = client.get("/api/v1/panel-seats/").json()["results"]
    seat = seats[0]["id"]
    assert [(s["case_reference"], s["recusal_declared_at"]) for s in seats] == [(d.case.reference, None)]
    assert client.get(f"/api/v1/cases/{d.case.pk}/").status_code == 404

    with at(2026, 3, 12, 8, 0):
        signed = client.post(f"/api/v1/panel-seats/{seat}/sign/")

    assert signed.status_code == 200
    assert signed.json()["recusal_declared_at"] == "2026-03-12T08:00:00+08:00"
    assert client.get(f"/api/v1/cases/{d.case.pk}/").status_code == 200
    client.force_login(experts[1].user)
    assert client.post(f"/api/v1/panel-seats/{seat}/sign/").status_code == 404  # another member's seat
