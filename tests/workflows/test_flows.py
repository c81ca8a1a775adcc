"""The Viewflow process of a case, driven through the web pages of each task as its users would, with the
clock moved and the database timers fired by the beat task's function. Every branch of the flow."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from certification import permissions
from certification.enums import Role
from certification.models import (
    Bureau,
    Case,
    IssuedDocument,
    Objection,
    OnsiteStep,
    Outcome,
    PanelMember,
    Stage,
)
from certification.services.cases import case_issue_certificate
from certification.services.notices import objection_file
from certification.tasks import fire_due_timers
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import all_conditions, at, field_error, local, page_errors, pdf
from workflows.engine import process_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture(autouse=True)
def clock():
    """Inside the declaration window unless a test moves the clock itself."""
    with at(2026, 2, 1, 9, 0):
        yield


class Driver:
    """A user at the browser: opens the task of a node and posts its form."""

    def __init__(self, client, case):
        self.client, self.case = client, case

    def task(self, node, user=None):
        tasks = Task.objects.filter(process=process_for(self.case), flow_task_type="HUMAN",
                                    status__in=[STATUS.NEW, STATUS.ASSIGNED])
        found = [t for t in tasks if t.flow_task.name == node and (user is None or t.owner in (None, user))]
        assert found, f"no open task {node}; open: {[t.flow_task.name for t in tasks]}"
        return found[0]

    def url(self, node, user=None):
        return reverse("case_task", args=[self.case.pk, self.task(node, user).pk])

    def post(self, user, node, action, data=None, files=None, expect=302):
        self.client.force_login(user)
        url = self.url(node, user)
        payload = {"action": action, **{f"{action}-{k}": v for k, v in (data or {}).items()}}
        payload.update(files or {})
        response = self.client.post(url, payload)
        assert response.status_code == expect, response.content.decode()[:3000]
        return response

    def item(self, user, node, code, **fields):
        self.client.force_login(user)
        payload = {"action": "item", "item": code, **{f"item-{code}-{k}": v for k, v in fields.items()}}
        response = self.client.post(self.url(node, user), payload)
        assert response.status_code == 302, response.content.decode()[:3000]


def rubric_codes(case):
    return [item.code for _c, item in case.scheme_version.specification().rubric_for(case.grade.code).items()]


def declare(client, world, grade="second", kind="promotion"):
    institution, people, _experts = world
    client.force_login(people["applicant"])
    answers, evidence = all_conditions()
    data = {"institution": institution.pk, "grade": grade, "kind": kind}
    data.update({f"answer_{c}": a for c, a in answers.items()})
    data.update({f"evidence_{c}": upload for c, upload in evidence.items()})
    response = client.post(reverse("declare"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Driver(client, Case.objects.get(institution=institution, outcome=Outcome.OPEN))


def to_precheck(d, world):
    _institution, people, _experts = world
    d.post(people["staff"], "plan", "plan", {"decision": "include"})
    for code in rubric_codes(d.case):
        d.item(people["applicant"], "self_check", code)
    d.post(people["applicant"], "self_check", "report", files={"report-report": pdf("汇报材料.pdf")})
    d.post(people["applicant"], "self_check", "integrity", {"acknowledged": "on"})
    d.post(people["applicant"], "self_check", "submit")
    d.post(people["staff"], "designate", "designate", {"prechecker": people["prechecker"].pk})


def to_notice(d, world):
    _institution, people, _experts = world
    to_precheck(d, world)
    d.post(people["prechecker"], "precheck", "decide", {"decision": "pass", "summary": "符合要求"})
    d.client.force_login(people["staff"])
    response = d.client.post(reverse("notice_publish"), {"title": "2026年公示", "cases": [d.case.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]


def noticed(client, world):
    """A case declared and published in a notice on 2026-03-01 (the notice closes at 2026-03-10 00:00)."""
    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
        to_notice(d, world)
    return d


def sign_recusal(client, case, user):
    """The member signs the case's recusal declaration on its page, before seeing anything of the case."""
    client.force_login(user)
    response = client.post(reverse("case_recusal", args=[case.pk]), {"action": "sign"})
    assert response.status_code == 302, response.content.decode()[:3000]


def to_review(d, world):
    _institution, people, experts = world
    d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts[:3]], "chair": experts[0].pk})
    for expert in experts[:3]:
        sign_recusal(d.client, d.case, expert.user)
        for code in rubric_codes(d.case):
            d.item(expert.user, "score", code)
        d.post(expert.user, "score", "submit")
    chair = experts[0].user
    for step in OnsiteStep.values:
        d.post(chair, "onsite", "step", {"step": step}, expect=302)
    d.post(chair, "onsite", "done")


def state(case):
    case.refresh_from_db()
    return case.stage, case.outcome


def process_status(case):
    return process_for(case).status


@pytest.mark.lifecycle
def test_a_declaration_goes_through_every_task_to_its_certificate(client, world):
    _institution, people, experts = world
    with at(2026, 1, 15, 9, 0):
        d = declare(client, world)
        assert process_for(d.case) is not None
        to_notice(d, world)
        assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)
        # the notice's timer is due at its closing time, not before
        assert fire_due_timers() == 0
    with at(2026, 1, 23, 0, 1):
        assert fire_due_timers() == 1
        assert state(d.case) == (Stage.PANEL, Outcome.OPEN)
        to_review(d, world)
        chair = experts[0].user
        d.post(chair, "conclude", "consolidate", {}, expect=302)
        d.post(chair, "conclude", "conclude", {"conclusion": "达到二级标准"})
        assert state(d.case) == (Stage.APPROVAL, Outcome.OPEN)
        # the approval's request freezes the documents' data; their PDFs are drawn after it, by a task
        with mock.patch("certification.documents.html_to_pdf", side_effect=AssertionError("drawn in the request")):
            d.post(people["approver"], "approve", "decide", {"decision": "approve", "reasons": "依据齐全，同意"})
        assert state(d.case) == (Stage.CERTIFICATE, Outcome.OPEN)
        assert IssuedDocument.objects.filter(case=d.case, file="").count() == 6
        case_issue_certificate(actor=people["officer"], case=d.case)
        fire_due_timers()  # the beat task also fires the conditions that now hold
    assert state(d.case) == (Stage.CLOSED, Outcome.CERTIFIED)
    leftover = [(t.flow_task.name, t.status) for t in Task.objects.filter(process=process_for(d.case))
                .exclude(status__in=["DONE", "CANCELED"])]
    assert leftover == []
    assert process_status(d.case) == PROCESS.DONE
    names = [t.flow_task.name for t in Task.objects.filter(process=process_for(d.case)).order_by("pk")]
    assert names[-1] == "end_certified"
    assert {"plan", "self_check", "designate", "precheck", "form_panel", "score", "onsite", "conclude",
            "approve"} <= set(names)

    # the whole case file, for the bureau's records: every document, the uploads, the timeline, the checksums
    import hashlib
    import io
    import zipfile

    client.force_login(people["staff"])
    response = client.get(reverse("documents:case_archive", args=[d.case.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = {n.split("/", 1)[1] for n in archive.namelist()}
    assert {"documents/application_form.pdf", "documents/assessment_form.pdf", "documents/panel_roster.pdf",
            "documents/precheck_opinion.pdf", "documents/confirmation_letter.pdf", "documents/certificate.pdf",
            "uploads/report.pdf", "timeline.csv", "SHA256SUMS.txt"} <= names
    sums = archive.read(f"{d.case.reference}/SHA256SUMS.txt").decode().splitlines()
    for line in sums:
        digest, name = line.split()[:2]
        assert hashlib.sha256(archive.read(f"{d.case.reference}/{name}")).hexdigest() == digest
    client.force_login(people["applicant"])
    assert client.get(reverse("documents:case_archive", args=[d.case.pk])).status_code == 404


def test_plan_refused_ends_the_process(client, world):
    _institution, people, _experts = world
    d = declare(client, world)
    response = d.post(people["staff"], "plan", "plan", {"decision": "return"}, expect=200)
    assert field_error(response, "plan-reason") == ["须填写理由。"]
    assert state(d.case) == (Stage.DECLARED, Outcome.OPEN)  # a form error changes nothing
    d.post(people["staff"], "plan", "plan", {"decision": "return", "reason": "今年计划已满"})
    assert state(d.case) == (Stage.CLOSED, Outcome.PLAN_REFUSED)
    assert process_status(d.case) == PROCESS.DONE


def test_a_missed_rectification_deadline_withdraws_the_case_by_the_timer(client, world):
    _institution, people, _experts = world
    with at(2026, 2, 2, 9, 0):
        d = declare(client, world)
        to_precheck(d, world)
        d.post(people["prechecker"], "precheck", "decide", {"decision": "return", "summary": "案卷整理不规范",
                                                            "days": 10})
        assert state(d.case) == (Stage.RECTIFICATION, Outcome.OPEN)
        due = d.case.rectification_due_at
    with time_machine.travel(due - dt.timedelta(minutes=1), tick=False):
        assert fire_due_timers() == 0
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        assert fire_due_timers() == 1
    assert state(d.case) == (Stage.CLOSED, Outcome.RECTIFICATION_MISSED)
    assert process_status(d.case) == PROCESS.DONE


def test_a_rectification_in_time_goes_back_to_the_precheck_with_the_rounds_kept(client, world):
    _institution, people, _experts = world
    with at(2026, 2, 2, 9, 0):
        d = declare(client, world)
        to_precheck(d, world)
        d.post(people["prechecker"], "precheck", "decide", {"decision": "return", "summary": "案卷整理不规范"})
    with at(2026, 2, 10, 9, 0):
        for code in rubric_codes(d.case):
            d.item(people["applicant"], "rectify", code)
        d.post(people["applicant"], "rectify", "submit", {"explanation": "已按预检意见补齐归档范围表"})
        assert state(d.case) == (Stage.PRECHECK, Outcome.OPEN)
        d.post(people["prechecker"], "precheck", "decide", {"decision": "pass", "summary": "已整改"})
    assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)
    assert list(d.case.prechecks.values_list("round", "decision")) == [(1, "return"), (2, "pass")]
    # the rectification's timer was cancelled with its task: nothing fires later
    with at(2026, 6, 1, 9, 0):
        fire_due_timers()
    assert state(d.case)[1] == Outcome.OPEN


@pytest.mark.parametrize(("decision", "expected"), [
    ("upheld", (Stage.CLOSED, Outcome.OBJECTION_UPHELD)),
    ("dismissed", (Stage.PANEL, Outcome.OPEN)),
])
def test_an_objection_holds_the_case_until_the_bureau_resolves_it(client, world, decision, expected):
    _institution, people, _experts = world
    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
        to_notice(d, world)
        objection_file(notice=d.case.notices.get(), case=d.case, name="张三", contact="13800000000",
                       grounds="档案库房未达标")
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)  # held
        objection = Objection.objects.get(case=d.case)
        d.post(people["staff"], "resolve_objections", "resolve",
               {"objection": objection.pk, "decision": decision, "reason": "经核实"})
    assert state(d.case) == expected
    names = {t.flow_task.name for t in Task.objects.filter(process=process_for(d.case), status__in=["NEW",
                                                                                                  "ASSIGNED"])}
    assert ("form_panel" in names) == (decision == "dismissed")


def test_the_chair_reopens_a_sheet_and_the_member_scores_again_before_the_consolidation(client, world):
    _institution, people, experts = world
    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        to_review(d, world)
        chair, member = experts[0].user, experts[1].user
        sheet = d.case.sheets.get(expert=experts[1])
        response = d.post(chair, "conclude", "reopen", {"sheet": sheet.pk, "reason": ""}, expect=200)
        sheet.refresh_from_db()
        assert sheet.locked  # no reason, nothing reopened
        d.post(chair, "conclude", "reopen", {"sheet": sheet.pk, "reason": "第5项扣分依据不足"})
        response = d.post(chair, "conclude", "consolidate", {}, expect=200)
        assert page_errors(response) == ["评审：所有成员提交评分表后方可合议。"]
        client.force_login(member)
        assert "重新评分" in client.get(reverse("case_detail", args=[d.case.pk])).content.decode()
        url = reverse("case_my_sheet", args=[d.case.pk])
        code = rubric_codes(d.case)[4]
        assert client.post(url, {"action": "item", "item": code, f"item-{code}-deduction": "1",
                                 f"item-{code}-reason": "制度未上墙"}).status_code == 302
        assert client.post(url, {"action": "submit"}).status_code == 302
        client.force_login(chair)
        assert client.get(url).status_code == 404  # not the chair's sheet
        d.post(chair, "conclude", "consolidate", {})
    assert d.case.sheets.get(kind="panel").total is not None


def test_the_bureau_extends_a_notice_and_the_cases_timer_waits_for_the_new_close(client, world):
    _institution, people, _experts = world
    d = noticed(client, world)
    notice = d.case.notices.get()
    url = reverse("notice_extend", args=[notice.pk])
    client.force_login(people["applicant"])
    assert client.get(url).status_code == 404  # not the bureau's staff
    with at(2026, 3, 5, 9, 0):
        client.force_login(people["staff"])
        shorter = client.post(url, {"closes_at": "2026-03-08T00:00", "reason": "缩短"})
        assert shorter.status_code == 200 and "不能缩短" in shorter.content.decode()
        assert client.post(url, {"closes_at": "2026-03-15T00:00", "reason": "收到反映需核实"}).status_code == 302
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()  # the old closing time: the notice stays open, the timer waits again
        assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)
    with at(2026, 3, 15, 0, 1):
        fire_due_timers()
    assert state(d.case) == (Stage.PANEL, Outcome.OPEN)


def test_the_bureau_names_another_chair_and_the_chairs_tasks_follow(client, world):
    _institution, people, experts = world
    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts[:3]],
                                                        "chair": experts[0].pk})
        url = reverse("case_change_chair", args=[d.case.pk])
        client.force_login(people["staff"])
        assert client.post(url, {"chair": experts[1].pk, "reason": ""}).status_code == 200  # a reason is needed
        assert d.task("onsite").owner == experts[0].user
        assert client.post(url, {"chair": experts[1].pk, "reason": "原组长与申报单位存在利益关系"}).status_code == 302
        assert d.task("onsite").owner == experts[1].user
        client.force_login(experts[0].user)
        assert client.get(url).status_code == 404  # not the bureau's staff
    assert PanelMember.objects.get(panel__case=d.case, is_chair=True).expert == experts[1]


def test_a_review_below_the_pass_line_ends_the_case_as_failed(client, world):
    _institution, people, experts = world
    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        to_review(d, world)
        chair = experts[0].user
        low = {f"score_{code}": "0" for code in rubric_codes(d.case)}
        low.update({f"reason_{code}": "现场检查未达到要求" for code in rubric_codes(d.case)})
        d.post(chair, "conclude", "consolidate", low)
        d.post(chair, "conclude", "conclude", {"conclusion": "未达到二级标准"})
    assert state(d.case) == (Stage.CLOSED, Outcome.PANEL_FAILED)
    assert process_status(d.case) == PROCESS.DONE
    assert "end_panel_failed" in {t.flow_task.name for t in Task.objects.filter(process=process_for(d.case))}


def test_a_certificate_issued_in_a_batch_ends_the_cases_process_at_once(client, world):
    """The batch's Celery task issues through the case's action: the process ends with the issue, without
    waiting for the beat's next sweep of conditions."""
    from certification.services.issuing import issue_batch_start
    from workflows.tasks import issue_batch_item

    _institution, people, experts = world
    with at(2026, 1, 15, 9, 0):
        d = declare(client, world)
        to_notice(d, world)
    with at(2026, 1, 23, 0, 1):
        fire_due_timers()
        to_review(d, world)
        d.post(experts[0].user, "conclude", "consolidate", {}, expect=302)
        d.post(experts[0].user, "conclude", "conclude", {"conclusion": "达到二级标准"})
        d.post(people["approver"], "approve", "decide", {"decision": "approve", "reasons": "依据齐全，同意"})
        batch = issue_batch_start(actor=people["officer"], case_ids=[d.case.pk])
        assert issue_batch_item(item_id=batch.items.get().pk) == "issued"  # the task, run in this process
    assert state(d.case) == (Stage.CLOSED, Outcome.CERTIFIED)
    assert process_status(d.case) == PROCESS.DONE


def through_the_flow(client, world, *, kind, declared, notice_closed):
    """Declare and take the case through every task to its certificate; returns the certificate."""
    _institution, people, experts = world
    with time_machine.travel(declared, tick=False):
        d = declare(client, world, kind=kind)
        to_notice(d, world)
    with time_machine.travel(notice_closed, tick=False):
        fire_due_timers()
        to_review(d, world)
        d.post(experts[0].user, "conclude", "consolidate", {})
        d.post(experts[0].user, "conclude", "conclude", {"conclusion": "达到标准"})
        d.post(people["approver"], "approve", "decide", {"decision": "approve", "reasons": "依据齐全，同意"})
        client.force_login(people["officer"])
        client.post(reverse("certificates:queue"), {"cases": [d.case.pk], "issue": "1"})
    assert state(d.case) == (Stage.CLOSED, Outcome.CERTIFIED) and process_status(d.case) == PROCESS.DONE
    return d.case.institution.certificates.order_by("-pk").first()


@pytest.mark.lifecycle
def test_through_the_flow_a_january_certificate_is_renewed_by_a_recheck_three_years_on(client, world):
    first = through_the_flow(client, world, kind="promotion", declared=local(2026, 1, 6, 9, 0),
                             notice_closed=local(2026, 1, 14, 9, 0))
    assert (first.issued_on, first.valid_until) == (dt.date(2026, 1, 14), dt.date(2029, 1, 13))
    renewed = through_the_flow(client, world, kind="recheck", declared=local(2029, 1, 2, 9, 0),
                               notice_closed=local(2029, 1, 10, 9, 0))
    first.refresh_from_db()
    assert renewed.kind == "recheck" and renewed.valid_until == dt.date(2032, 1, 9)
    assert first.status != "in_force"  # the renewed certificate replaces it


def test_a_refused_approval_ends_the_case(client, world):
    _institution, people, experts = world
    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        to_review(d, world)
        chair = experts[0].user
        d.post(chair, "conclude", "consolidate", {}, expect=302)
        d.post(chair, "conclude", "conclude", {"conclusion": "达到标准"})
        d.post(people["approver"], "approve", "decide", {"decision": "refuse", "reasons": "材料存疑"})
    assert state(d.case) == (Stage.CLOSED, Outcome.APPROVAL_REFUSED)
    assert process_status(d.case) == PROCESS.DONE


def test_a_member_late_with_the_sheet_is_recorded_once_by_the_timer_and_the_review_goes_on(client, world):
    _institution, people, experts = world
    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts[:3]],
                                                        "chair": experts[0].pk})
        due = d.case.panel.scoring_due_at if hasattr(d.case, "panel") else Case.objects.get(pk=d.case.pk).panel.scoring_due_at
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        assert fire_due_timers() == 3  # one per member's task
        assert fire_due_timers() == 0
    from certification.models import AuditEntry
    assert AuditEntry.objects.filter(action="sheet.overdue").count() == 3
    from notifications.models import Notification
    told = set(Notification.objects.filter(kind="scoring_reminder").values_list("recipient_id", flat=True))
    assert told == {e.user_id for e in experts[:3]}  # each late member is told, once
    # non-interrupting: every member can still score
    assert Task.objects.filter(process=process_for(d.case), status="ASSIGNED").count() == 4  # 3 sheets + on-site


def test_withdrawal_and_cancellation_cancel_the_process(client, world):
    _institution, people, _experts = world
    d = declare(client, world)
    client.force_login(people["applicant"])
    response = client.post(reverse("case_withdraw", args=[d.case.pk]), {"reason": ""})
    assert response.status_code == 200 and state(d.case) == (Stage.DECLARED, Outcome.OPEN)
    client.post(reverse("case_withdraw", args=[d.case.pk]), {"reason": "暂不申报"})
    assert state(d.case) == (Stage.CLOSED, Outcome.WITHDRAWN)
    assert process_status(d.case) == PROCESS.CANCELED

    d2 = declare(client, world)
    client.force_login(people["staff"])
    client.post(reverse("case_cancel", args=[d2.case.pk]), {"reason": "申报单位已撤并"})
    assert state(d2.case) == (Stage.CLOSED, Outcome.CANCELLED)
    assert process_status(d2.case) == PROCESS.CANCELED


def test_a_task_done_or_not_yours_says_so_and_changes_nothing(client, world, regions):
    _institution, people, _experts = world
    d = declare(client, world)
    url = d.url("plan")
    d.post(people["staff"], "plan", "plan", {"decision": "include"})
    # a double submit: the task is done; nothing moves
    client.force_login(people["staff"])
    response = client.post(url, {"action": "plan", "plan-decision": "return", "plan-reason": "重复提交"})
    assert response.status_code == 409 and "不再" in response.content.decode()
    assert state(d.case) == (Stage.PLANNED, Outcome.OPEN)
    # another user's task (the applicant's self-check) answers "not yours" to the bureau's staff
    client.force_login(people["staff"])
    response = client.get(d.url("self_check"))
    assert response.status_code == 409
    # a user who may not see the case gets 404 for its task
    stranger = UserFactory()
    permissions.role_grant(user=stranger, role=Role.APPLICANT, obj=InstitutionFactory(region=regions["city"]))
    client.force_login(stranger)
    assert client.get(d.url("self_check")).status_code == 404


def test_the_inbox_lists_each_role_its_own_tasks(client, world):
    _institution, people, _experts = world
    d = declare(client, world)
    client.force_login(people["staff"])
    page = client.get(reverse("inbox")).content.decode()
    assert d.case.reference in page
    client.force_login(people["approver"])
    assert d.case.reference not in client.get(reverse("inbox")).content.decode()


def test_the_process_chart_renders(client, world):
    d = declare(client, world)
    client.force_login(world[1]["applicant"])
    response = client.get(reverse("case_chart", args=[d.case.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg")
    assert b"<svg" in response.content


def test_every_node_declares_its_permission():
    from viewflow.workflow.nodes import View

    from workflows.flows import CaseFlow

    views = [n for n in CaseFlow.instance.nodes() if isinstance(n, View)]
    assert views and all(n._owner_permission for n in views), [n.name for n in views if not n._owner_permission]
    assert CaseFlow.lock_impl.__class__.__name__ == "SelectForUpdateLock"
    assert PanelMember  # imported for the member tasks' data


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_one_decides_and_the_other_is_told(world):
    import threading

    from django.db import connection
    from django.test import Client

    _institution, people, experts = world
    other = UserFactory(username="approver2")
    permissions.role_grant(user=other, role=Role.APPROVER, obj=Bureau.objects.get(level="county",
                                                                                  region=world[0].region))
    client = Client()
    d = noticed(client, world)
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
        to_review(d, world)
        d.post(experts[0].user, "conclude", "consolidate", {})
        d.post(experts[0].user, "conclude", "conclude", {"conclusion": "达到标准"})
        url = d.url("approve")
    barrier, results = threading.Barrier(2), {}

    def approve(user, decision):
        c = Client()
        c.force_login(user)
        barrier.wait()
        try:
            results[user.username] = c.post(url, {"action": "decide", "decide-decision": decision,
                                                  "decide-reasons": "意见"}).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(people["approver"], "approve")),
               threading.Thread(target=approve, args=(other, "refuse"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [302, 409]
    winner = "approve" if results["approver"] == 302 else "refuse"
    assert state(d.case) == ((Stage.CERTIFICATE, Outcome.OPEN) if winner == "approve"
                             else (Stage.CLOSED, Outcome.APPROVAL_REFUSED))
