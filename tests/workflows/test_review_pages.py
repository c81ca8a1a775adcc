"""The review's rules through the pages and through the API alike (issue 13): each refusal is the service's,
shown beside the field on the page and given with the same words by the API; nothing changes."""

import pytest
from django.urls import reverse

from certification.models import AuditEntry, OnsiteStep, Outcome, ScoreLine, ScoreSheet, SheetKind
from certification.tasks import fire_due_timers
from tests.workflows.api.conftest import client_for
from tests.workflows.test_flows import noticed, rubric_codes, sign_recusal
from tests.worlds import at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

VETO_WHY = "现场发现未经审批擅自销毁会计档案"


@pytest.fixture
def panel(client, world):
    """A second-grade case whose panel (three of the world's experts, the first the chair) is scoring."""
    _institution, people, experts = world
    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts[:3]],
                                                       "chair": experts[0].pk})
        for expert in experts[:3]:
            sign_recusal(d.client, d.case, expert.user)  # each member signs the 回避声明 first
    return d, experts[:3]


def post_item(d, user, code, **fields):
    """Post one item of the member's scoring page as the browser does; the response (200 on a refusal)."""
    d.client.force_login(user)
    payload = {"action": "item", "item": code, **{f"item-{code}-{k}": v for k, v in fields.items()}}
    return d.client.post(d.url("score", user), payload)


def item_form(response, code):
    return next(row["form"] for row in response.context["rows"] if row["item"].code == code)


def action_form(response, action):
    return next(form for name, _label, form in response.context["forms"] if name == action)


def api_complete(d, user, node, action, data):
    return client_for(user).post(f"/api/v1/tasks/{d.task(node, user).pk}/complete/",
                                 {"action": action, "data": data}, format="json")


def member_sheet(d, expert):
    return ScoreSheet.objects.get(case=d.case, kind=SheetKind.MEMBER, expert=expert)


def test_an_unmet_sub_criterion_needs_its_reason_on_the_page_and_through_the_api(panel):
    d, experts = panel
    member = experts[1].user
    page = post_item(d, member, "5", unmet="b")
    form = item_form(page, "5")
    api = client_for(member).post(f"/api/v1/sheets/{member_sheet(d, experts[1]).pk}/record/",
                                  {"item_code": "5", "unmet": ["b"]}, format="json")
    assert (api.status_code, api.json()["detail"], api.json()["refusals"][0]["code"]) == (
        400, "每项扣分都须注明扣分原因。 请填写扣分原因。", "sheet.reason_required")
    assert (page.status_code, form.errors["reason"], form["unmet"].value()) == (
        200, ["每项扣分都须注明扣分原因。 请填写扣分原因。"], ["b"])  # beside the field, the box still ticked
    assert ScoreLine.objects.filter(sheet__case=d.case, sheet__kind=SheetKind.MEMBER).count() == 0

    api = client_for(member).post(f"/api/v1/sheets/{member_sheet(d, experts[1]).pk}/record/",
                                  {"item_code": "5", "unmet": ["b"], "reason": "库房与办公室合用"}, format="json")
    line = api.json()["lines"][0]
    assert (api.status_code, line["points"], line["entry"]) == (
        200, "5.00", {"unmet": ["b"], "reason": "库房与办公室合用"})


def test_a_veto_needs_its_reason_on_the_page_and_through_the_api(panel):
    d, experts = panel
    member = experts[2].user
    page = post_item(d, member, "11", veto="on")
    api = client_for(member).post(f"/api/v1/sheets/{member_sheet(d, experts[2]).pk}/record/",
                                  {"item_code": "11", "veto": True}, format="json")
    assert (page.status_code, item_form(page, "11").errors["veto_reason"]) == (
        200, ["确认一票否决须写明理由。 请写明发现的、构成一票否决情形的事实。"])
    assert (api.status_code, api.json()["detail"]) == (400, "确认一票否决须写明理由。 请写明发现的、构成一票否决情形的事实。")
    assert ScoreLine.objects.filter(sheet__case=d.case, sheet__kind=SheetKind.MEMBER).count() == 0


def test_the_chairs_split_shows_each_member_their_items_and_refuses_the_others_alike(panel):
    d, experts = panel
    chair, member = experts[0].user, experts[1].user
    done = api_complete(d, chair, "onsite", "assign", {})  # every box left empty: the system's proposal
    assert (done.status_code, done.json()["done"]) == (200, False)
    assert AuditEntry.objects.filter(action="review.assign").count() == 1

    d.client.force_login(member)
    page = d.client.get(d.url("score", member))
    assert [row["item"].code for row in page.context["rows"]] == ["1", "2", "3", "4", "16", "17", "18"]
    assert "组长分配给您7个项目（共32分）：请逐项评分后提交。" in page.content.decode()

    page = post_item(d, member, "8")
    api = client_for(member).post(f"/api/v1/sheets/{member_sheet(d, experts[1]).pk}/record/", {"item_code": "8"},
                                  format="json")
    assert (page.status_code, item_form(page, "8").non_field_errors()) == (
        200, ["评分表：第8项不在分配给您的评分项目中。 请对组长分配给您的项目评分。"])
    assert (api.status_code, api.json()["detail"]) == (400, "第8项不在分配给您的评分项目中。 请对组长分配给您的项目评分。")
    assert ScoreLine.objects.filter(sheet__case=d.case, sheet__kind=SheetKind.MEMBER).count() == 0


def test_the_on_site_steps_are_refused_out_of_order_on_the_page_and_through_the_api(panel):
    d, experts = panel
    chair = experts[0].user
    page = d.post(chair, "onsite", "step", {"step": OnsiteStep.INSPECT}, expect=200)
    api = api_complete(d, chair, "onsite", "step", {"step": OnsiteStep.INSPECT})
    message = "请按顺序记录现场评审环节，先记录：听取目标管理工作及自查情况汇报。"
    assert (action_form(page, "step").errors["step"], action_form(page, "step")["step"].value()) == (
        [message], OnsiteStep.INSPECT)
    assert (api.status_code, api.json()["detail"]) == (400, message)

    d.post(chair, "onsite", "step", {"step": OnsiteStep.HEAR_REPORT})
    page = d.post(chair, "onsite", "done", expect=200)
    api = api_complete(d, chair, "onsite", "done", {})
    missing = "请先记录以下评审程序：" + "、".join(str(s.label) for s in list(OnsiteStep)[1:]) + "。"
    assert (action_form(page, "done").non_field_errors(), api.status_code, api.json()["detail"]) == (
        [f"评审：{missing}"], 400, missing)


def test_a_veto_the_members_recorded_survives_the_chairs_default_consolidation(panel):
    d, experts = panel
    chair = experts[0].user
    for expert in experts:
        for code in rubric_codes(d.case):
            fields = {"deduction": "8.5", "reason": "整理编目不规范"} if code == "9" else {}
            if code == "11":
                fields = {"veto": "on", "veto_reason": f"{VETO_WHY}（{expert.name}）"}
            assert post_item(d, expert.user, code, **fields).status_code == 302
        d.post(expert.user, "score", "submit")
    for step in OnsiteStep.values:
        d.post(chair, "onsite", "step", {"step": step})
    d.post(chair, "onsite", "done")

    d.client.force_login(chair)
    page = d.client.get(d.url("conclude", chair))
    assert page.context["veto_findings"][0][0] == "11"
    assert [(f.member, f.reason) for f in page.context["veto_findings"][0][2]] == [
        (e.name, f"{VETO_WHY}（{e.name}）") for e in experts]

    # dropping a veto a member recorded, without a reason: refused beside the field, and alike through the API
    page = d.post(chair, "conclude", "consolidate", {"veto_drop_11": "on"}, expect=200)
    api = api_complete(d, chair, "conclude", "consolidate", {"veto_drop_11": True})
    names = "、".join(e.name for e in experts)
    message = f"第11项：{names}记录了一票否决；撤销须说明理由。"
    form = action_form(page, "consolidate")
    assert (form.errors["veto_reason_11"], form["veto_drop_11"].value()) == ([message], True)
    assert (api.status_code, api.json()["detail"]) == (400, message)
    assert not d.case.sheets.filter(kind=SheetKind.PANEL).exists()

    # the form's defaults keep the members' veto: a 91.5-point case does not pass
    d.post(chair, "conclude", "consolidate", {})
    assert d.case.sheets.get(kind=SheetKind.PANEL).total == 91.5
    d.post(chair, "conclude", "conclude", {"conclusion": "存在未经审批销毁档案情形，一票否决"})
    d.case.refresh_from_db()
    assert (d.case.review.vetoes, d.case.review.passed, d.case.outcome) == (["11"], False, Outcome.PANEL_FAILED)
    d.client.force_login(chair)
    assert d.client.get(reverse("case_detail", args=[d.case.pk])).status_code == 200
