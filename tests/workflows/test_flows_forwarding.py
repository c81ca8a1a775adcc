"""The process of a special-grade case below the province, driven through the task pages: the city bureau's
forwarding queue, the province's plan, and a pre-check the province delegates to the city (第十条)."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.models import Case, Precheck, Stage
from tests.factories import CertificateFactory, InstitutionFactory, UserFactory
from tests.workflows.test_flows import Driver, rubric_codes
from tests.worlds import PDF, all_conditions, at, pdf
from workflows import actions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def people(bureaus):
    def person(role, bureau, name):
        user = UserFactory(full_name=name)
        permissions.role_grant(user=user, role=role, obj=bureaus[bureau])
        return user
    return {"province": person(Role.BUREAU_STAFF, "province", "省局员"),
            "city": person(Role.BUREAU_STAFF, "city", "市局员"),
            "city_prechecker": person(Role.PRECHECKER, "city", "市预检员"),
            "county": person(Role.BUREAU_STAFF, "county", "县局员")}


@pytest.fixture
def system_head(archives_version, regions, bureaus, people):
    """A county institution guiding a system of units (one holds the second grade), and its applicant."""
    institution = InstitutionFactory(name="县水利局", region=regions["county"], level=InstitutionLevel.COUNTY,
                                     has_system_guidance=True)
    unit = InstitutionFactory(name="县水利局下属站", region=regions["county"], level=InstitutionLevel.COUNTY,
                              parent=institution)
    CertificateFactory(institution=unit, scheme_version=archives_version, grade_code="second",
                       issued_by=bureaus["province"], approved_by=bureaus["county"], issued_on=dt.date(2025, 6, 1))
    people["applicant"] = UserFactory(full_name="申报人")
    permissions.role_grant(user=people["applicant"], role=Role.APPLICANT, obj=institution)
    return institution


@pytest.fixture
def first_grade(system_head, archives_version, bureaus):
    """The institution holds the first grade since 2024-06-01: it may declare the special grade."""
    CertificateFactory(institution=system_head, scheme_version=archives_version, grade_code="first",
                       issued_by=bureaus["province"], approved_by=bureaus["city"], issued_on=dt.date(2024, 6, 1))
    return system_head


def declare(client, institution, people, *, grade, kind):
    answers, evidence = all_conditions()
    case = actions.case_declare(scheme="archives",
                                actor=people["applicant"], institution=institution, grade=grade, kind=kind,
                                answers=answers, evidence=evidence, gates={"online_archiving": True})
    return Driver(client, case)


def inbox(client, user):
    client.force_login(user)
    return client.get(reverse("inbox")).content.decode()


def test_a_county_special_recheck_waits_in_the_citys_queue_then_in_the_provinces_plan(
        client, system_head, people, archives_version, bureaus):
    CertificateFactory(institution=system_head, scheme_version=archives_version, grade_code="special",
                       issued_by=bureaus["province"], approved_by=bureaus["province"],
                       issued_on=dt.date(2023, 5, 10), valid_until=dt.date(2026, 5, 9))
    with at(2026, 2, 1, 9, 0):
        d = declare(client, system_head, people, grade="special", kind=Kind.RECHECK)
        ref = d.case.reference
        assert (ref in inbox(client, people["city"]), ref in inbox(client, people["province"]),
                ref in inbox(client, people["county"])) == (True, False, False)
        d.post(people["province"], "forward", "forward", expect=409)  # the province does not forward
        d.post(people["city"], "forward", "forward")
        assert (ref in inbox(client, people["city"]), ref in inbox(client, people["province"])) == (False, True)
        d.post(people["city"], "plan", "plan", {"decision": "include"}, expect=409)  # the province plans
        d.post(people["province"], "plan", "plan", {"decision": "include"})
    d.case.refresh_from_db()
    assert (d.case.stage, d.case.bureau, d.case.planning_bureau) == (
        Stage.PLANNED, bureaus["city"], bureaus["province"])


def test_after_the_first_quarter_the_forward_task_refuses_with_the_date(client, first_grade, people):
    with at(2026, 3, 20, 9, 0):
        d = declare(client, first_grade, people, grade="special", kind=Kind.PROMOTION)
    with at(2026, 4, 1, 0, 0):
        response = d.post(people["city"], "forward", "forward", expect=200)
    assert "本年度申报的报送期限（2026-03-31）已过。" in response.content.decode()
    d.case.refresh_from_db()
    assert d.case.forwarded_at is None


def to_designate(d, people):
    """Forwarded and planned in the first quarter; the applicant's self-check submitted."""
    d.post(people["city"], "forward", "forward")
    d.post(people["province"], "plan", "plan", {"decision": "include"})
    for code in rubric_codes(d.case):
        d.item(people["applicant"], "self_check", code)
    d.post(people["applicant"], "self_check", "report", files={"report-report": pdf("汇报材料.pdf")})
    d.post(people["applicant"], "self_check", "integrity", {"acknowledged": "on"})
    d.post(people["applicant"], "self_check", "submit")


def test_a_delegated_precheck_is_the_citys_while_delegated_and_returns_to_the_province(client, first_grade, people,
                                                                                      bureaus):
    with at(2026, 2, 1, 9, 0):
        d = declare(client, first_grade, people, grade="special", kind=Kind.PROMOTION)
        to_designate(d, people)
        d.post(people["city"], "designate", "designate", {"prechecker": people["city_prechecker"].pk}, expect=409)
        response = d.post(people["province"], "designate", "delegate")
        assert response["Location"] == reverse("case_detail", args=[d.case.pk])
        # the same task is now the city's: the province can no longer take it
        d.post(people["province"], "designate", "designate", {"prechecker": people["city_prechecker"].pk},
               expect=409)
        d.post(people["city"], "designate", "designate", {"prechecker": people["city_prechecker"].pk})
        code = rubric_codes(d.case)[0]
        d.post(people["city_prechecker"], "precheck", "report",
               {"decision": "pass", "summary": "市局预检：材料齐全，建议通过", f"opinion_{code}": "制度需更新"},
               files={"report-attachment": SimpleUploadedFile("预检结果.pdf", PDF, content_type="application/pdf")})
        d.post(people["city"], "decide_precheck", "decide", {"decision": "accept", "reason": "同意"}, expect=409)
        client.force_login(people["province"])
        task_page = client.get(d.url("decide_precheck")).content.decode()
        case_page = client.get(reverse("case_detail", args=[d.case.pk])).content.decode()
        assert ("市局预检：材料齐全，建议通过" in task_page, "市局预检：材料齐全，建议通过" in case_page,
                "受托预检的机关" in case_page) == (True, True, True)
        d.post(people["province"], "decide_precheck", "decide", {"decision": "accept", "reason": "同意市局预检意见"})
    d.case.refresh_from_db()
    assert (d.case.stage, d.case.precheck_bureau, d.case.prechecker) == (
        Stage.NOTICE, bureaus["city"], people["city_prechecker"])
    assert Precheck.objects.values_list("decision", "delegated_to", "decided_by", "decision_reason").get() == (
        "pass", bureaus["city"].pk, people["province"].pk, "同意市局预检意见")
    assert Case.objects.get(pk=d.case.pk).notices.count() == 0  # waiting for the province's notice
