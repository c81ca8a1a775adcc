"""Oversight through the pages (第九条, 第十二条): a higher bureau plans a spot-check round, draws the cases by a
recorded seed, inspects them and records findings, orders rectification; the deadline passes, the timer marks
the order overdue, the bureau's authority is suspended (its staff told, its running case passed up), a new
declaration goes to the parent, and after reinstatement to the bureau again."""

import re

import pytest
from django.utils import timezone

from certification.enums import Kind, Role
from certification.models import (
    Bureau,
    BureauConclusion,
    Case,
    Finding,
    Outcome,
    SpotCheckRound,
    Stage,
    Suspension,
)
from certification.permissions import role_grant
from certification.services.cases import case_issue_certificate
from certification.services.oversight import draw_from, round_replay
from certification.tasks import fire_due_timers
from notifications.kinds import Kind as NoticeKind
from notifications.models import Notification
from tests.factories import UserFactory
from tests.worlds import all_conditions, at, declared_case, field_error, make_institution, run_case, staff_of
from workflows import actions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _closed_cases(world, archives_version, bureaus, n=3):
    """``n`` closed cases of the county bureau in 2026 (made directly: the draw reads only that they ended)."""
    _institution, people, _experts = world
    made = []
    for i in range(n):
        case = declared_case(version=archives_version, institution=make_institution(world, f"县直单位{i}"),
                             bureau=bureaus["county"], declared_by=people["applicant"])
        Case.objects.filter(pk=case.pk).update(stage=Stage.CLOSED, outcome=Outcome.PLAN_REFUSED,
                                               outcome_reason="未列入计划")
        made.append(case.pk)
    return made


def _ordered(world, archives_version, bureaus, *, closed=1):
    """A round of the province over the county's ``closed`` closed cases of 2026, drawn, inspected and ended in
    a rectification order due in ten days (planned on 2026-12-01). Returns (inspector, order)."""
    province, county = bureaus["province"], bureaus["county"]
    inspector = staff_of(province)
    _closed_cases(world, archives_version, bureaus, n=closed)
    with at(2026, 12, 1, 9, 0):
        round_ = actions.spot_check_plan(actor=inspector, bureau=province, year=2026, scope=[county],
                                         sampling="rate", sample_rate=50, selection="random")
        actions.spot_check_draw(actor=inspector, round_=round_)
        for item in round_.items.all():
            actions.spot_check_inspected(actor=inspector, item=item)
        order = actions.spot_check_conclude(actor=inspector, round_=round_, bureau=county, compliant=False,
                                            requirements="完善评审记录", due_at=timezone.now() + timezone.timedelta(days=10))
    return inspector, order


@pytest.fixture
def certified(world, django_capture_on_commit_callbacks):
    """One case of the county taken through every stage and certified in 2026: a real file to inspect."""
    _institution, people, _experts = world
    case = run_case(world)
    with at(2026, 4, 1, 9, 0), django_capture_on_commit_callbacks(execute=True):
        case_issue_certificate(actor=people["officer"], case=case)
    case.refresh_from_db()
    return case


def test_a_whole_round_through_the_pages(client, world, archives_version, bureaus, certified):
    _institution, people, _experts = world
    province, city, county = bureaus["province"], bureaus["city"], bureaus["county"]
    inspector = staff_of(province, username="inspector")
    _closed_cases(world, archives_version, bureaus, n=3)
    with at(2026, 11, 1, 9, 0):
        running = declared_case(version=archives_version, institution=make_institution(world, "县在办单位"),
                                bureau=county, declared_by=people["applicant"])
    county_approver = people["approver"]

    # plan: the province checks the city and the county, one case per bureau, at random
    with at(2026, 12, 1, 9, 0):
        client.force_login(inspector)
        response = client.post("/oversight/rounds/plan/", {
            "bureau": province.pk, "year": 2026, "scope": [city.pk, county.pk], "sampling": "count",
            "sample_count": 2, "selection": "random"})
        round_ = SpotCheckRound.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/oversight/rounds/{round_.pk}/"

        # draw: the county's four closed cases give two; the city closed none
        response = client.post(f"/oversight/rounds/{round_.pk}/", {"draw": "1"})
        assert response.status_code == 302
        round_.refresh_from_db()
        drawn = list(round_.items.order_by("position").values_list("case_id", flat=True))
        assert len(drawn) == 2 and set(drawn) <= set(Case.objects.filter(bureau=county).exclude(
            outcome=Outcome.OPEN).values_list("pk", flat=True))
        assert round_replay(round_) == drawn
        page = client.get(f"/oversight/rounds/{round_.pk}/").content.decode()
        assert round_.seed in page and "重放该种子抽出的案件相同" in page

    # inspect each drawn case read-only, and record a finding on one of them
    with at(2026, 12, 2, 9, 0):
        items = list(round_.items.order_by("position"))
        page = client.get(f"/oversight/items/{items[0].pk}/").content.decode()
        assert items[0].case.reference in page
        response = client.post(f"/oversight/items/{items[0].pk}/", {
            "violation": "procedure_skipped", "description": "未见公示结果，即进入评审"})
        assert response.status_code == 302
        for item in items:
            assert client.post(f"/oversight/items/{item.pk}/", {"inspected": "1"}).status_code == 302
        assert Finding.objects.get().get_violation_display() == "跳过程序环节（减化程序）"

        # conclude: the city compliant, the county ordered to rectify by December 20
        client.post(f"/oversight/rounds/{round_.pk}/", {"bureau": city.pk, "result": "compliant"})
        response = client.post(f"/oversight/rounds/{round_.pk}/", {
            "bureau": county.pk, "result": "rectify", "requirements": "补正公示程序，重新核查评分依据",
            "due_at": "2026-12-20"})
        assert response.status_code == 302
    round_.refresh_from_db()
    order = BureauConclusion.objects.get(bureau=county)
    assert round_.status == SpotCheckRound.Status.CONCLUDED and order.status == BureauConclusion.Status.OPEN
    county_staff = people["staff"]
    assert Notification.objects.filter(recipient=county_staff, kind=NoticeKind.ORDER_ISSUED).count() == 1

    # the county reads its order and the findings (it may answer); nobody answers it
    with at(2026, 12, 10, 9, 0):
        client.force_login(county_staff)
        inbox = client.get("/tasks/").content.decode()
        assert "1项抽查整改通知待答复" in inbox and 'href="/oversight/"' in inbox
        page = client.get(f"/oversight/orders/{order.pk}/").content.decode()
        assert "未见公示结果，即进入评审" in page and 'name="answer-measures"' in page

    # the deadline passes: the round's timer marks the order overdue, and both sides are told
    with at(2026, 12, 21, 0, 5):
        fire_due_timers()
    order.refresh_from_db()
    assert order.status == BureauConclusion.Status.OVERDUE
    assert Notification.objects.filter(recipient=inspector, kind=NoticeKind.ORDER_OVERDUE).count() == 1
    client.force_login(inspector)
    assert "1项整改通知待决定" in client.get("/tasks/").content.decode()  # the inspector's inbox says so

    # the province suspends the county's authority, with a reason: audited, every one of its people told,
    # its running case passed to the city
    with at(2026, 12, 22, 9, 0):
        client.force_login(inspector)
        response = client.post(f"/oversight/orders/{order.pk}/", {
            "step": "suspend", "suspend-reason": "抽查发现考评程序不规范，逾期未整改"})
        assert response["Location"] == f"/oversight/orders/{order.pk}/"
    county.refresh_from_db()
    running.refresh_from_db()
    order.refresh_from_db()
    assert county.authority_suspended and county.suspension_reason == "抽查发现考评程序不规范，逾期未整改"
    assert order.status == BureauConclusion.Status.SUSPENDED
    assert running.bureau_id == city.pk and Suspension.objects.get().cases_moved == [running.pk]
    with at(2026, 12, 22, 9, 5):
        client.force_login(staff_of(city))
        assert "移交上级主管部门：原考评机关的考评权限已中止" in client.get(f"/cases/{running.pk}/").content.decode()
    told = set(Notification.objects.filter(kind=NoticeKind.AUTHORITY_SUSPENDED).values_list("recipient", flat=True))
    assert {county_staff.pk, people["prechecker"].pk, county_approver.pk} <= told

    # a new declaration of a county institution goes to the city while the county is suspended
    answers, evidence = all_conditions()
    with at(2027, 1, 5, 9, 0):
        routed = actions.case_declare(scheme="archives",
                                      actor=people["applicant"], institution=make_institution(world, "县新申报单位"),
                                      grade="second", kind=Kind.PROMOTION, answers=answers, evidence=evidence)
    assert routed.bureau_id == city.pk

    # reinstatement, with a reason: declarations come to the county again
    with at(2027, 1, 6, 9, 0):
        client.force_login(inspector)
        page = client.get(f"/oversight/bureaus/{county.pk}/").content.decode()
        assert "恢复考评权限" in page
        response = client.post(f"/oversight/bureaus/{county.pk}/", {"reason": "整改已落实，经复核符合要求"})
        assert response["Location"] == f"/oversight/bureaus/{county.pk}/"
    county.refresh_from_db()
    assert not county.authority_suspended
    assert Suspension.objects.get().reinstatement_reason == "整改已落实，经复核符合要求"
    answers, evidence = all_conditions()
    with at(2027, 1, 7, 9, 0):
        again = actions.case_declare(scheme="archives",
                                     actor=people["applicant"], institution=make_institution(world, "县另一申报单位"),
                                     grade="second", kind=Kind.PROMOTION, answers=answers, evidence=evidence)
    assert again.bureau_id == county.pk


def test_a_manual_choice_without_a_reason_is_refused_beside_the_field(client, world, bureaus):
    inspector = staff_of(bureaus["province"])
    client.force_login(inspector)

    response = client.post("/oversight/rounds/plan/", {
        "bureau": bureaus["province"].pk, "year": 2026, "scope": [bureaus["county"].pk], "sampling": "rate",
        "sample_rate": "10", "selection": "manual", "selection_reason": ""})

    assert response.status_code == 200
    assert field_error(response, "selection_reason") == ["人工选定案件须说明理由。"]
    assert SpotCheckRound.objects.count() == 0


def test_an_answer_before_the_deadline_is_accepted_or_not_by_the_checking_bureau(
        client, world, archives_version, bureaus):
    _institution, people, _experts = world
    inspector, order = _ordered(world, archives_version, bureaus, closed=2)
    with at(2026, 12, 5, 9, 0):
        client.force_login(people["staff"])
        response = client.post(f"/oversight/orders/{order.pk}/", {"step": "answer", "answer-measures": ""})
        assert field_error(response, "answer-measures") == ["该字段是必填项。"]
        client.post(f"/oversight/orders/{order.pk}/", {"step": "answer", "answer-measures": "已补齐评审记录并复核"})
    order.refresh_from_db()
    assert order.status == BureauConclusion.Status.ANSWERED
    with at(2026, 12, 6, 9, 0):
        client.force_login(inspector)
        client.post(f"/oversight/orders/{order.pk}/", {"step": "decide", "decide-accepted": "yes",
                                                        "decide-reason": "整改到位"})
    order.refresh_from_db()
    assert order.status == BureauConclusion.Status.ACCEPTED


def test_the_draw_replays_from_its_seed_and_candidates():
    candidates = {"7": [30, 10, 20, 40], "3": [5, 6]}
    first = draw_from(candidates, seed="abc", sizes={"7": 2, "3": 1})
    again = draw_from({"3": [6, 5], "7": [40, 30, 20, 10]}, seed="abc", sizes={"7": 2, "3": 1})
    other = [draw_from(candidates, seed=f"s{n}", sizes={"7": 2, "3": 1}) for n in range(20)]

    assert first == again and len(first) == 3 and first[0][0] == 3
    assert any(o != first for o in other)


def test_a_lower_bureau_reads_nothing_of_its_parents_or_a_siblings_rounds(client, world, archives_version, bureaus,
                                                                         regions):
    from tests.factories import BureauFactory, RegionFactory

    province, city, county = bureaus["province"], bureaus["city"], bureaus["county"]
    sibling_region = RegionFactory(name="邻县", code="420103", level="county", parent=regions["city"])
    sibling = BureauFactory(region=sibling_region, level="county", parent=city)
    sibling_staff = staff_of(sibling)
    inspector = staff_of(province)
    _closed_cases(world, archives_version, bureaus, n=1)
    with at(2026, 12, 1, 9, 0):
        round_ = actions.spot_check_plan(actor=inspector, bureau=province, year=2026, scope=[county],
                                         sampling="count", sample_count=1, selection="random")
        actions.spot_check_draw(actor=inspector, round_=round_)
    item = round_.items.get()
    city_staff = staff_of(city)

    for user, status in ((sibling_staff, 404), (world[1]["staff"], 404), (city_staff, 404), (inspector, 200)):
        client.force_login(user)
        assert client.get(f"/oversight/rounds/{round_.pk}/").status_code == status
        assert client.get(f"/oversight/items/{item.pk}/").status_code == status
    client.force_login(sibling_staff)
    assert client.get(f"/cases/{item.case_id}/").status_code == 404
    assert client.get(f"/oversight/bureaus/{county.pk}/").status_code == 404


def test_a_higher_bureau_reads_but_never_writes_the_cases_below_it(client, world, archives_version, bureaus):
    _institution, people, _experts = world
    city, county = bureaus["city"], bureaus["county"]
    with at(2026, 1, 15, 9, 0):
        case = declared_case(version=archives_version, institution=make_institution(world, "县读单位"),
                             bureau=county, declared_by=people["applicant"])
    for role in (Role.BUREAU_STAFF, Role.APPROVER, Role.AUDITOR):
        reader = UserFactory()
        role_grant(user=reader, role=role, obj=city)
        client.force_login(reader)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert case.reference in page
        assert f"/cases/{case.pk}/cancel/" not in page
        assert client.post(f"/cases/{case.pk}/cancel/", {"reason": "越权取消"}).status_code == 404
    case.refresh_from_db()
    assert case.outcome == Outcome.OPEN
    # the county does not read the city's own cases
    city_case = declared_case(version=archives_version, institution=make_institution(world, "市直单位"),
                              bureau=city, declared_by=people["applicant"])
    client.force_login(people["staff"])
    assert client.get(f"/cases/{city_case.pk}/").status_code == 404
    assert Bureau.objects.filter(authority_suspended=True).count() == 0


def test_the_round_page_lists_every_drawn_case_with_a_link(client, world, archives_version, bureaus):
    province, county = bureaus["province"], bureaus["county"]
    inspector = staff_of(province)
    _closed_cases(world, archives_version, bureaus, n=4)
    with at(2026, 12, 1, 9, 0):
        round_ = actions.spot_check_plan(actor=inspector, bureau=province, year=2026, scope=[county],
                                         sampling="rate", sample_rate=50, selection="random")
        actions.spot_check_draw(actor=inspector, round_=round_)
    client.force_login(inspector)
    page = client.get(f"/oversight/rounds/{round_.pk}/").content.decode()

    assert len(re.findall(r'href="/oversight/items/\d+/"', page)) == 2


def test_the_bureau_is_reminded_of_its_order_once_per_reminder_and_the_sweep_marks_it_overdue(
        world, archives_version, bureaus):
    from certification.tasks import sweep_oversight_orders

    _institution, people, _experts = world
    _inspector, order = _ordered(world, archives_version, bureaus)

    def reminders():
        return Notification.objects.filter(recipient=people["staff"], kind=NoticeKind.ORDER_REMINDER).count()

    with at(2026, 12, 2, 9, 0):
        sweep_oversight_orders()
    assert reminders() == 0
    with at(2026, 12, 5, 0, 20):
        sweep_oversight_orders()
        sweep_oversight_orders()
    assert reminders() == 1
    with at(2026, 12, 10, 12, 0):
        sweep_oversight_orders()
    assert reminders() == 2
    with at(2026, 12, 11, 9, 1):
        sweep_oversight_orders()
    order.refresh_from_db()
    assert order.status == BureauConclusion.Status.OVERDUE


def test_a_case_at_its_pre_check_passes_up_without_the_suspended_bureaus_pre_checker(
        client, world, archives_version, bureaus):
    """The county had designated its pre-checker when its authority was suspended: the city's staff designate one
    of the city's pre-checkers from the case page, the pre-check task is theirs, and the case goes on."""
    from tests.workflows.test_flows import declare, to_precheck

    _institution, people, _experts = world
    province, city, county = bureaus["province"], bureaus["city"], bureaus["county"]
    with at(2026, 2, 2, 9, 0):
        d = declare(client, world)
        to_precheck(d, world)
    case = d.case
    case.refresh_from_db()
    assert case.stage == Stage.PRECHECK and case.prechecker_id == people["prechecker"].pk
    inspector, order = _ordered(world, archives_version, bureaus)
    with at(2026, 12, 12, 9, 0):
        actions.bureau_suspend(actor=inspector, bureau=county, checking=province, order=order,
                               reason="逾期未整改")
    case.refresh_from_db()
    assert case.bureau_id == city.pk and case.prechecker_id is None  # the county's pre-checker no longer holds it

    city_staff, city_prechecker = staff_of(city), UserFactory(username="city-prechecker", full_name="王五")
    role_grant(user=city_prechecker, role=Role.PRECHECKER, obj=city)
    url = f"/cases/{case.pk}/prechecker/"
    with at(2026, 12, 12, 10, 0):
        # the county's pre-checker can no longer open the task; the case page tells the city what to do
        client.force_login(people["prechecker"])
        assert client.get(d.url("precheck")).status_code == 404
        client.force_login(city_staff)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "尚未指定预检人员" in page and url in page
        response = client.get(url)
        options = re.findall(r"<option[^>]*>([^<]*)</option>", response.content.decode().split('name="prechecker"')[1])
        assert options[:1] == ["王五"] and people["prechecker"].full_name not in options  # the city's, by name
        # a forged choice (the county's pre-checker) is refused beside the field, and changes nothing
        response = client.post(url, {"prechecker": people["prechecker"].pk})
        assert response.status_code == 200 and field_error(response, "prechecker")
        case.refresh_from_db()
        assert case.prechecker_id is None
        response = client.post(url, {"prechecker": city_prechecker.pk})
        assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    case.refresh_from_db()
    assert case.prechecker_id == city_prechecker.pk
    assert d.task("precheck").owner_id == city_prechecker.pk
    with at(2026, 12, 12, 11, 0):
        d.post(city_prechecker, "precheck", "decide", {"decision": "pass", "summary": "符合要求"})
    case.refresh_from_db()
    assert case.stage == Stage.NOTICE and case.prechecks.get().prechecker_id == city_prechecker.pk
    # the page is the pre-checking bureau's own: the county's staff (suspended) and the applicant get 404
    for user in (people["staff"], people["applicant"]):
        client.force_login(user)
        assert client.get(url).status_code == 404
