import datetime as dt

import pytest

from certification import permissions
from certification.enums import Role
from certification.exceptions import RuleViolation
from certification.models import Case, Objection, Outcome, Stage
from certification.services.notices import (
    notice_close,
    notice_extend,
    notice_publish,
    objection_file,
    objection_resolve,
)
from tests.factories import UserFactory
from tests.worlds import local

pytestmark = pytest.mark.django_db
PUBLISHED = local(2026, 9, 1, 10, 30)
CLOSES = local(2026, 9, 9, 0, 0)
OBJECTED = local(2026, 9, 5, 9, 0)


@pytest.fixture
def notice(staff, bureaus, waiting):
    cases = [waiting("甲局"), waiting("乙局", grade="first")]
    return notice_publish(actor=staff, bureau=bureaus["city"], cases=cases, title="2026年第一批公示",
                          now=PUBLISHED), cases


def objection(notice_, case, at=OBJECTED, **fields):
    values = {"name": "张三", "contact": "13800000000", "grounds": "该单位档案库房不符合要求", **fields}
    return objection_file(notice=notice_, case=case, now=at, **values)


def test_a_notice_closes_at_the_first_midnight_seven_full_days_on(notice):
    published, _cases = notice
    assert published.closes_at == CLOSES


def test_only_cases_waiting_for_the_notice_can_be_published(staff, bureaus, waiting):
    with pytest.raises(RuleViolation) as exc:
        notice_publish(actor=staff, bureau=bureaus["city"], cases=[waiting("丙局", stage=Stage.PRECHECK)],
                       title="公示", now=PUBLISHED)
    assert exc.value.codes == ["notice.case_not_ready"]


def test_a_notice_can_be_extended_but_never_shortened(notice, staff):
    published, _cases = notice
    with pytest.raises(RuleViolation) as exc:
        notice_extend(actor=staff, notice=published, closes_at=CLOSES - dt.timedelta(days=1), reason="提前结束")
    assert exc.value.codes == ["notice.extend_only"]
    notice_extend(actor=staff, notice=published, closes_at=CLOSES + dt.timedelta(days=3), reason="收到较多咨询")
    published.refresh_from_db()
    assert published.closes_at == CLOSES + dt.timedelta(days=3)


def test_an_objection_gets_a_receipt_at_once(notice):
    published, cases = notice
    filed = objection(published, cases[0])
    assert filed.receipt.startswith("YY") and len(filed.receipt) == 12
    assert filed.status == Objection.Status.RECEIVED


def test_an_objection_after_close_or_without_grounds_is_refused(notice):
    published, cases = notice
    with pytest.raises(RuleViolation) as exc:
        objection(published, cases[0], at=CLOSES)
    assert exc.value.codes == ["objection.notice_closed"]
    with pytest.raises(RuleViolation) as exc:
        objection(published, cases[0], name=" ", contact="", grounds=" ")
    assert exc.value.codes == ["objection.grounds_required"]
    assert Objection.objects.count() == 0


def test_closing_sends_cases_on_but_holds_a_case_with_an_objection(notice):
    published, cases = notice
    objection(published, cases[1])
    assert notice_close(notice=published, now=CLOSES - dt.timedelta(seconds=1)) == 0
    assert notice_close(notice=published, now=CLOSES) == 1
    assert notice_close(notice=published, now=CLOSES + dt.timedelta(hours=1)) == 0
    stages = dict(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("pk", "stage"))
    assert (stages[cases[0].pk], stages[cases[1].pk]) == (Stage.PANEL, Stage.NOTICE)


def test_a_dismissed_objection_releases_the_held_case(notice, staff):
    published, cases = notice
    filed = objection(published, cases[1])
    notice_close(notice=published, now=CLOSES)
    objection_resolve(actor=staff, objection=filed, decision=Objection.Status.DISMISSED, reason="经核查，反映不实")
    assert Case.objects.get(pk=cases[1].pk).stage == Stage.PANEL
    with pytest.raises(RuleViolation) as exc:
        objection_resolve(actor=staff, objection=filed, decision=Objection.Status.UPHELD, reason="再议")
    assert exc.value.codes == ["objection.resolved"]


def test_an_upheld_objection_ends_the_case(notice, staff):
    published, cases = notice
    filed = objection(published, cases[1])
    objection_resolve(actor=staff, objection=filed, decision=Objection.Status.UPHELD, reason="经专家复核，情况属实")
    case = Case.objects.get(pk=cases[1].pk)
    assert (case.stage, case.outcome) == (Stage.CLOSED, Outcome.OBJECTION_UPHELD)


def test_a_downgrade_lowers_the_proposed_grade_only(notice, staff):
    published, cases = notice
    filed = objection(published, cases[1])
    with pytest.raises(RuleViolation) as exc:
        objection_resolve(actor=staff, objection=filed, decision=Objection.Status.DOWNGRADED, reason="部分属实",
                          grade="special")
    assert exc.value.codes == ["objection.not_lower"]
    objection_resolve(actor=staff, objection=filed, decision=Objection.Status.DOWNGRADED, reason="部分属实",
                      grade="second")
    assert Case.objects.get(pk=cases[1].pk).grade.code == "second"


def test_another_bureau_cannot_publish_or_resolve(notice, bureaus, waiting):
    published, cases = notice
    outsider = UserFactory()
    permissions.role_grant(user=outsider, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    filed = objection(published, cases[0])
    with pytest.raises(RuleViolation):
        objection_resolve(actor=outsider, objection=filed, decision=Objection.Status.DISMISSED, reason="x")
    with pytest.raises(RuleViolation):
        notice_extend(actor=outsider, notice=published, closes_at=CLOSES + dt.timedelta(days=1), reason="x")


def test_the_sweep_closes_due_notices_once(notice):
    from certification.services.notices import notices_close_due

    published, cases = notice
    assert notices_close_due(now=CLOSES - dt.timedelta(minutes=1)) == 0
    assert notices_close_due(now=CLOSES + dt.timedelta(minutes=1)) == 1
    assert notices_close_due(now=CLOSES + dt.timedelta(minutes=2)) == 0
    published.refresh_from_db()
    assert published.closed_at == CLOSES + dt.timedelta(minutes=1)
    assert set(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("stage", flat=True)) == {Stage.PANEL}


def test_the_deadline_sweeps_are_on_beat_every_minute(settings):
    for name, task in (("close-due-notices", "certification.close_due_notices"),
                       ("withdraw-missed-rectifications", "certification.withdraw_missed_rectifications")):
        entry = settings.CELERY_BEAT_SCHEDULE[name]
        assert (entry["task"], entry["schedule"].minute) == (task, set(range(60)))
