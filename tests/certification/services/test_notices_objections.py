"""DESIGN §3.6: anonymous or groundless objections are recorded and may be set aside with a reason; the bureau
may have two or three experts verify an objection before it resolves it."""

import datetime as dt

import pytest

from certification import documents, permissions
from certification.enums import Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Objection, ObjectionVerification, Stage
from certification.selectors import objections_for_user
from certification.services.notices import (
    notice_close,
    notice_publish,
    objection_file,
    objection_resolve,
    objection_verify,
)
from tests.certification.services.test_notices import CLOSES, OBJECTED, PUBLISHED
from tests.factories import ExpertFactory, UserFactory
from tests.worlds import local

pytestmark = pytest.mark.django_db


@pytest.fixture
def noticed(staff, bureaus, waiting):
    case = waiting("甲局", grade="first")
    notice = notice_publish(actor=staff, bureau=bureaus["city"], cases=[case], title="2026年第一批公示",
                            now=PUBLISHED)
    return notice, case


@pytest.fixture
def experts(bureaus):
    """Four experts of the city's pool and one of the province's (above it), and one of another city."""
    term = {"term_starts_on": dt.date(2025, 1, 1), "term_ends_on": dt.date(2030, 12, 31)}
    city = [ExpertFactory(pool=bureaus["city"], name=f"市专家{n}", **term) for n in range(4)]
    province = ExpertFactory(pool=bureaus["province"], name="省专家", **term)
    county = ExpertFactory(pool=bureaus["county"], name="县专家", **term)
    return {"city": city, "province": province, "county": county}


def anonymous(notice, case, **fields):
    values = {"name": "", "contact": " ", "grounds": "听说该单位档案库房漏水", **fields}
    return objection_file(notice=notice, case=case, now=OBJECTED, **values)


def test_an_anonymous_objection_is_recorded_flagged_and_visible_to_the_bureau(noticed, staff):
    notice, case = noticed
    filed = anonymous(notice, case)
    assert Objection.objects.values_list("receipt", "anonymous", "status", "grounds").get() == (
        filed.receipt, True, Objection.Status.RECEIVED, "听说该单位档案库房漏水")
    assert list(objections_for_user(staff)) == [filed]
    assert AuditEntry.objects.get(action="objection.file").after == {
        "case": case.reference, "receipt": filed.receipt, "anonymous": True}


def test_a_real_name_objection_is_not_anonymous(noticed):
    notice, case = noticed
    assert anonymous(notice, case, name="张三", contact="13800000000").anonymous is False


def test_an_anonymous_objection_holds_the_case_until_it_is_set_aside_with_a_reason(noticed, staff):
    notice, case = noticed
    filed = anonymous(notice, case)
    notice_close(notice=notice, now=CLOSES)
    assert Case.objects.get(pk=case.pk).stage == Stage.NOTICE
    with pytest.raises(RuleViolation) as exc:
        objection_resolve(actor=staff, objection=filed, decision=Objection.Status.SET_ASIDE, reason="匿名反映")
    assert exc.value.codes == ["objection.set_aside_as"]
    objection_resolve(actor=staff, objection=filed, decision=Objection.Status.SET_ASIDE, reason="匿名且无具体事实",
                      set_aside_as=Objection.SetAsideAs.ANONYMOUS)
    filed.refresh_from_db()
    assert (filed.status, filed.set_aside_as, filed.resolution, filed.grounds) == (
        Objection.Status.SET_ASIDE, "anonymous", "匿名且无具体事实", "听说该单位档案库房漏水")
    entry = AuditEntry.objects.get(action="objection.resolve")
    assert (entry.actor, entry.reason, entry.after) == (
        staff, "匿名且无具体事实", {"status": "set_aside", "set_aside_as": "anonymous"})
    assert Case.objects.get(pk=case.pk).stage == Stage.PANEL


def test_a_real_name_objection_can_be_set_aside_as_groundless_not_as_anonymous(noticed, staff):
    notice, case = noticed
    filed = anonymous(notice, case, name="张三", contact="13800000000", grounds="不同意")
    with pytest.raises(RuleViolation) as exc:
        objection_resolve(actor=staff, objection=filed, decision=Objection.Status.SET_ASIDE, reason="无理由",
                          set_aside_as=Objection.SetAsideAs.ANONYMOUS)
    assert exc.value.codes == ["objection.not_anonymous"]
    objection_resolve(actor=staff, objection=filed, decision=Objection.Status.SET_ASIDE,
                      reason="未提出具体事实和理由", set_aside_as=Objection.SetAsideAs.GROUNDLESS)
    assert Objection.objects.values_list("status", "set_aside_as").get() == ("set_aside", "groundless")


def test_two_experts_verify_an_objection_then_the_bureau_dismisses_it(noticed, staff, experts):
    notice, case = noticed
    filed = anonymous(notice, case, name="张三", contact="13800000000")
    verification = objection_verify(actor=staff, objection=filed, experts=[experts["city"][0], experts["province"]],
                                    findings="经实地查看，库房无渗漏", verified_on=dt.date(2026, 9, 10),
                                    now=local(2026, 9, 10, 15, 0))
    assert (sorted(e.name for e in verification.experts.all()), verification.findings, verification.verified_on,
            verification.recorded_by) == (["市专家0", "省专家"], "经实地查看，库房无渗漏", dt.date(2026, 9, 10), staff)
    assert AuditEntry.objects.get(action="objection.verify").after == {
        "experts": sorted([experts["city"][0].pk, experts["province"].pk]), "verified_on": "2026-09-10",
        "findings": "经实地查看，库房无渗漏"}
    notice_close(notice=notice, now=CLOSES)
    objection_resolve(actor=staff, objection=filed, decision=Objection.Status.DISMISSED, reason="经专家复核，反映不实")
    context = documents.notice_result_context(case)
    assert context["objections"] == [{
        "receipt": filed.receipt, "received_on": "2026年9月5日", "status": "不予采纳", "resolution": "经专家复核，反映不实",
        "anonymous": False, "set_aside_as": "",
        "verification": {"experts": "市专家0、省专家", "findings": "经实地查看，库房无渗漏", "on": "2026年9月10日"}}]


@pytest.mark.parametrize("count", [1, 4])
def test_one_or_four_experts_cannot_verify_an_objection(noticed, staff, experts, count):
    notice, case = noticed
    filed = anonymous(notice, case)
    with pytest.raises(RuleViolation) as exc:
        objection_verify(actor=staff, objection=filed, experts=experts["city"][:count], findings="复核",
                         verified_on=dt.date(2026, 9, 6), now=local(2026, 9, 6, 15, 0))
    assert exc.value.codes == ["objection.verifiers"]
    assert str(exc.value.refusals[0]) == f"异议复核由二至三名专家进行；现选定了{count}名。 请选定二至三名专家库专家。"
    assert ObjectionVerification.objects.count() == 0


def test_an_expert_of_another_pool_or_a_stranger_cannot_verify(noticed, staff, experts, bureaus):
    notice, case = noticed
    filed = anonymous(notice, case)
    with pytest.raises(RuleViolation) as exc:
        objection_verify(actor=staff, objection=filed, experts=[experts["city"][0], experts["county"]],
                         findings="复核", verified_on=dt.date(2026, 9, 6), now=local(2026, 9, 6, 15, 0))
    assert exc.value.codes == ["objection.not_in_pool"]
    stranger = UserFactory()
    permissions.role_grant(user=stranger, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    with pytest.raises(RuleViolation):
        objection_verify(actor=stranger, objection=filed, experts=experts["city"][:2], findings="复核",
                         verified_on=dt.date(2026, 9, 6), now=local(2026, 9, 6, 15, 0))
    assert ObjectionVerification.objects.count() == 0
