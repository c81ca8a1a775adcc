"""A case under each scheme's own procedure, task by task through the pages (issue 15, "Must show" 3 and 5).

The county education scheme (seeds/004) has no public notice: its process goes from the pre-check straight to
the panel, whose members score in three groups weighted 40/30/30; a one-vote veto of 先进 makes the panel
award 合格, and the certificate is 合格's. (The archives scheme's run is tests/workflows/test_flows.py.)"""

import pytest
from django.urls import reverse
from viewflow.workflow.models import Task

from certification.models import OnsiteStep, Outcome, Stage
from certification.services.cases import case_issue_certificate
from tests.workflows.test_flows import Driver, rubric_codes, sign_recusal, state
from tests.worlds import at, build_education_world, pdf
from workflows.engine import process_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.mark.lifecycle
def test_an_education_case_skips_the_notice_and_is_certified_at_the_tier_the_panel_awards(client, regions,
                                                                                          bureaus):
    _version, county, people, experts = build_education_world(regions=regions, bureaus=bureaus)
    with at(2026, 5, 20, 9, 0):
        client.force_login(people["applicant"])
        response = client.post(reverse("declare"), {"scheme": "education-county", "institution": county.pk,
                                                    "grade": "advanced", "kind": "promotion"})
        assert response.status_code == 302, response.content.decode()[:3000]
        d = Driver(client, county.cases.get())
        d.post(people["staff"], "plan", "plan", {"decision": "include"})
        for code in rubric_codes(d.case):
            d.item(people["applicant"], "self_check", code, **({"units": "1"} if code == "B1" else {}))
        d.post(people["applicant"], "self_check", "report", files={"report-report": pdf("自评报告.pdf")})
        d.post(people["applicant"], "self_check", "integrity", {"acknowledged": "on"})
        d.post(people["applicant"], "self_check", "submit")
        d.post(people["staff"], "designate", "designate", {"prechecker": people["prechecker"].pk})
        d.post(people["prechecker"], "precheck", "decide", {"decision": "pass", "summary": "初检合格"})
        assert state(d.case) == (Stage.PANEL, Outcome.OPEN)  # no public notice under this scheme
        groups = {experts[0].pk: "leaders", experts[1].pk: "peers", experts[2].pk: "offices"}
        d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts], "chair": experts[0].pk,
                                                       **{f"group_{pk}": g for pk, g in groups.items()}})
        for expert in experts:
            sign_recusal(d.client, d.case, expert.user)
            for code in rubric_codes(d.case):
                fields = {"units": "1"} if code == "B1" else {}
                if code == "3.2":
                    fields = {"deduction": "3", "reason": "D级危房占校舍总面积16.21%", "veto": "on",
                              "veto_reason": "D级危房比例远超3%"}
                d.item(expert.user, "score", code, **fields)
            d.post(expert.user, "score", "submit")
        chair = experts[0].user
        for step in OnsiteStep.values:
            d.post(chair, "onsite", "step", {"step": step})
        d.post(chair, "onsite", "done")
        d.post(chair, "conclude", "consolidate", {})
        d.post(chair, "conclude", "conclude", {"conclusion": "达到先进分值，危房一票否决，按合格呈报"})
        assert state(d.case) == (Stage.APPROVAL, Outcome.OPEN)
        assert (d.case.review.awarded_grade.name, str(d.case.sheets.get(kind="panel").total)) == ("合格", "98.00")
        d.post(people["approver"], "approve", "decide", {"decision": "approve", "reasons": "同意按合格认定"})
        certificate = case_issue_certificate(actor=people["officer"], case=d.case)
    assert state(d.case) == (Stage.CLOSED, Outcome.CERTIFIED) and certificate.grade.name == "合格"
    names = {t.flow_task.name for t in Task.objects.filter(process=process_for(d.case))}
    assert "await_notice" not in names and {"precheck", "form_panel", "conclude", "approve"} <= names
