"""A scheme whose source has no pre-check (issue 15, "Must show" 3): the acceptance request leads straight to
the public notice, or, where the scheme has no notice either, to the panel; no pre-checker is designated and
no pre-check task is ever opened. The scheme is the county education scheme (seeds/004) with its pre-check
left out, driven through the pages."""

import pytest
from django.urls import reverse
from viewflow.workflow.models import Task

from certification.exceptions import RuleViolation
from certification.models import OnsiteStep, Outcome, Stage
from certification.scheme import SCHEMES_DIR
from certification.services.cases import case_designate_prechecker, case_issue_certificate
from certification.tasks import fire_due_timers
from tests.workflows.test_flows import Driver, rubric_codes, sign_recusal, state
from tests.worlds import at, build_education_world, pdf
from workflows.engine import process_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def without_precheck(tmp_path, *, notice: bool) -> str:
    """The education scheme's file with ``stages.precheck: false`` (and a seven-day notice where asked)."""
    text = (SCHEMES_DIR / "education-county-004.yaml").read_text(encoding="utf-8")
    for old, new in [("  precheck: true ", "  precheck: false "),
                     *([("  notice: false ", "  notice: true "),
                        ("  notice_days: 0 ", "  notice_days: 7 ")] if notice else [])]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "education-without-precheck.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def self_checked(client, people, d):
    for code in rubric_codes(d.case):
        d.item(people["applicant"], "self_check", code, **({"units": "1"} if code == "B1" else {}))
    d.post(people["applicant"], "self_check", "report", files={"report-report": pdf("自评报告.pdf")})
    d.post(people["applicant"], "self_check", "integrity", {"acknowledged": "on"})
    d.post(people["applicant"], "self_check", "submit")


def declared(client, people, county):
    client.force_login(people["applicant"])
    response = client.post(reverse("declare"), {"scheme": "education-county", "institution": county.pk,
                                                "grade": "qualified", "kind": "promotion"})
    assert response.status_code == 302, response.content.decode()[:3000]
    return Driver(client, county.cases.get())


def reviewed_and_certified(d, people, experts):
    groups = {experts[0].pk: "leaders", experts[1].pk: "peers", experts[2].pk: "offices"}
    d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in experts], "chair": experts[0].pk,
                                                   **{f"group_{pk}": g for pk, g in groups.items()}})
    for expert in experts:
        sign_recusal(d.client, d.case, expert.user)
        for code in rubric_codes(d.case):
            d.item(expert.user, "score", code, **({"units": "1"} if code == "B1" else {}))
        d.post(expert.user, "score", "submit")
    chair = experts[0].user
    for step in OnsiteStep.values:
        d.post(chair, "onsite", "step", {"step": step})
    d.post(chair, "onsite", "done")
    d.post(chair, "conclude", "consolidate", {})
    d.post(chair, "conclude", "conclude", {"conclusion": "达到合格"})
    d.post(people["approver"], "approve", "decide", {"decision": "approve", "reasons": "同意"})
    return case_issue_certificate(actor=people["officer"], case=d.case)


@pytest.mark.lifecycle
def test_without_a_precheck_or_a_notice_the_acceptance_request_goes_straight_to_the_panel(client, regions, bureaus,
                                                                                         tmp_path):
    _version, county, people, experts = build_education_world(
        regions=regions, bureaus=bureaus, file=without_precheck(tmp_path, notice=False))
    with at(2026, 5, 20, 9, 0):
        d = declared(client, people, county)
        d.post(people["staff"], "plan", "plan", {"decision": "include"})
        with pytest.raises(RuleViolation, match="没有预检"):
            case_designate_prechecker(actor=people["staff"], case=d.case, prechecker=people["prechecker"])
        self_checked(client, people, d)
        assert state(d.case) == (Stage.PANEL, Outcome.OPEN)
        certificate = reviewed_and_certified(d, people, experts)
    assert state(d.case) == (Stage.CLOSED, Outcome.CERTIFIED) and certificate.grade.name == "合格"
    names = {t.flow_task.name for t in Task.objects.filter(process=process_for(d.case))}
    assert not names & {"designate", "precheck", "await_notice"}, names
    assert d.case.prechecks.count() == 0 and d.case.prechecker is None


@pytest.mark.lifecycle
def test_without_a_precheck_the_acceptance_request_goes_to_the_public_notice(client, regions, bureaus, tmp_path):
    _version, county, people, experts = build_education_world(
        regions=regions, bureaus=bureaus, file=without_precheck(tmp_path, notice=True))
    with at(2026, 5, 20, 9, 0):
        d = declared(client, people, county)
        d.post(people["staff"], "plan", "plan", {"decision": "include"})
        self_checked(client, people, d)
        assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)
        client.force_login(people["staff"])
        response = client.post(reverse("notice_publish"), {"title": "2026年验收公示", "cases": [d.case.pk]})
        assert response.status_code == 302, response.content.decode()[:2000]
    with at(2026, 5, 28, 9, 0):
        assert fire_due_timers() == 1  # the notice closes: the panel is next
        assert state(d.case) == (Stage.PANEL, Outcome.OPEN)
        certificate = reviewed_and_certified(d, people, experts)
    assert certificate.grade.name == "合格"
    names = {t.flow_task.name for t in Task.objects.filter(process=process_for(d.case))}
    assert "await_notice" in names and not names & {"designate", "precheck"}, names
