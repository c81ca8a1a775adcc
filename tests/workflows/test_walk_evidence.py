"""Those who judge a case open every piece of its evidence from the page where they judge: the declaration's
evidence, each round's narrative report and rectification explanation (the walk found them shown as text
without a link, the documents page listing no upload, the pre-checker without the case file)."""

import re

import pytest
from django.urls import reverse

from tests.workflows.test_flows import clock, declare, rubric_codes, to_precheck
from tests.worlds import pdf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "clock")]
__all__ = ["clock"]  # the autouse clock of the flow tests: inside the declaration window


def evidence_links(page: str) -> list[str]:
    return re.findall(r'href="(/cases/\d+/evidence/[a-z]+/\d+/)"', page)


def test_the_prechecker_opens_the_conditions_evidence_and_the_report_inline_from_the_precheck_page(client, world):
    _institution, people, _experts = world
    d = declare(client, world)
    to_precheck(d, world)
    client.force_login(people["prechecker"])
    page = client.get(d.url("precheck")).content.decode()
    links = sorted(set(evidence_links(page)))
    assert len(links) == 5  # four conditions met with evidence, and the narrative report
    for link in links:
        response = client.get(link)
        assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
        assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert 'target="_blank"' in page and "汇报材料.pdf" in page


def test_a_rectification_round_keeps_the_first_report_and_shows_its_explanation(client, world):
    _institution, people, _experts = world
    d = declare(client, world)
    to_precheck(d, world)
    d.post(people["prechecker"], "precheck", "decide", {"decision": "return", "summary": "归档范围表未审批"})
    for code in rubric_codes(d.case):
        d.item(people["applicant"], "rectify", code)
    d.post(people["applicant"], "rectify", "report", files={"report-report": pdf("整改报告.pdf")})
    refused = d.post(people["applicant"], "rectify", "submit", {"explanation": "  "}, expect=200)
    from tests.worlds import field_error

    assert field_error(refused, "submit-explanation") == ["该字段是必填项。"]
    d.post(people["applicant"], "rectify", "submit", {"explanation": "归档范围表已报档案局审批"})
    client.force_login(people["prechecker"])
    page = client.get(d.url("precheck")).content.decode()
    assert ("汇报材料.pdf" in page, "整改报告.pdf" in page, "归档范围表已报档案局审批" in page) == (True, True, True)
    docs = client.get(reverse("documents:case_documents", args=[d.case.pk])).content.decode()
    assert len(set(evidence_links(docs))) == 6


def test_another_applicant_gets_404_on_the_evidence(client, world):
    from tests.factories import UserFactory

    _institution, people, _experts = world
    d = declare(client, world)
    row = d.case.prerequisites.exclude(evidence="").first()
    client.force_login(UserFactory())
    assert client.get(reverse("documents:case_evidence", args=[d.case.pk, "condition", row.pk])).status_code == 404
    client.force_login(people["applicant"])
    assert client.get(reverse("documents:case_evidence", args=[d.case.pk, "condition", row.pk])).status_code == 200
    assert client.get(reverse("documents:case_evidence", args=[d.case.pk, "objection", row.pk])).status_code == 404
