"""The dashboards: a bureau sees its region and the bureaus below it at a glance, each figure linking to the list
behind it; the figures come from set-based queries whose number does not grow with the data; the same through
the API and as .xlsx."""

import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from certification.models import Case, Certificate, Outcome, Stage
from tests.factories import CertificateFactory
from tests.worlds import at, declared_case, make_institution, staff_of

pytestmark = pytest.mark.django_db


def _cases(world, archives_version, bureaus, n, *, bureau="county", stage=Stage.DECLARED):
    _institution, people, _experts = world
    made = []
    for _ in range(n):
        case = declared_case(version=archives_version, institution=make_institution(
            world, f"单位{Case.objects.count()}"), bureau=bureaus[bureau], declared_by=people["applicant"])
        Case.objects.filter(pk=case.pk).update(stage=stage)
        made.append(case)
    return made


def _certificates(world, archives_version, bureaus, n):
    for _ in range(n):
        CertificateFactory(institution=make_institution(world, f"持证单位{Certificate.objects.count()}"),
                           scheme_version=archives_version, approved_by=bureaus["county"],
                           issued_by=bureaus["province"], issued_on=dt.date(2024, 6, 1))


def _queries(client, url):
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


@pytest.mark.parametrize("url", ["/oversight/dashboard/", "/api/v1/statistics/dashboard/"])
def test_the_dashboard_takes_the_same_queries_at_two_sizes(client, world, archives_version, bureaus, url):
    director = staff_of(bureaus["province"])
    with at(2026, 3, 1, 9, 0):
        _cases(world, archives_version, bureaus, 1)
        _certificates(world, archives_version, bureaus, 1)
        client.force_login(director)
        few, _page = _queries(client, url)
        _cases(world, archives_version, bureaus, 6, stage=Stage.PRECHECK)
        _cases(world, archives_version, bureaus, 3, bureau="city")
        _certificates(world, archives_version, bureaus, 5)
        many, response = _queries(client, url)

    assert many == few
    if url.startswith("/api/"):
        stages = {row["label"]: row["value"] for row in response.json()["stages"]}
        assert stages["已申报，待列入考评计划"] == 4 and stages["预检"] == 6


def test_the_province_dashboard_counts_its_region_and_links_each_figure(client, world, archives_version, bureaus):
    director = staff_of(bureaus["province"])
    with at(2026, 3, 1, 9, 0):
        _cases(world, archives_version, bureaus, 2, stage=Stage.PRECHECK)
        _cases(world, archives_version, bureaus, 1, bureau="city")
        _certificates(world, archives_version, bureaus, 2)
        client.force_login(director)
        page = client.get("/oversight/dashboard/").content.decode()
        listed = client.get(f"/cases/?within={bureaus['province'].pk}&stage=precheck&outcome=open").content.decode()

    funnel = re.search(r'<section id="stages">(.*?)</section>', page, re.S).group(1)
    assert "<svg" in funnel and "<table" in funnel
    link = re.search(r'<a href="(/cases/\?[^"]*stage=precheck[^"]*)">2</a>', funnel)
    assert link is not None
    assert listed.count("/cases/") - listed.count('href="/cases/?') >= 2
    # the certificates of 2024-06-01 are valid through 2027-05-31: in the expiries, linked to their list
    expiries = re.search(r'<section id="expiries">(.*?)</section>', page, re.S).group(1)
    link = re.search(r'<a href="(/certificates/\?[^"]*expires_from=2027-05-01[^"]*)">2</a>', expiries)
    with at(2026, 3, 1, 9, 0):
        listed = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert listed.count('href="/certificates/') == 2  # the two certificates, each linked to its page


def test_a_county_sees_only_its_own_region(client, world, archives_version, bureaus):
    _institution, people, _experts = world
    with at(2026, 3, 1, 9, 0):
        _cases(world, archives_version, bureaus, 2)
        _cases(world, archives_version, bureaus, 5, bureau="city")
        client.force_login(people["staff"])
        data = client.get("/api/v1/statistics/dashboard/", {"bureau": bureaus["province"].pk}).json()

    assert data["bureau"] == bureaus["county"].pk
    assert sum(row["value"] for row in data["stages"]) == 2


def test_an_applicant_has_no_dashboard(client, world):
    _institution, people, _experts = world
    client.force_login(people["applicant"])

    assert client.get("/oversight/dashboard/").status_code == 404
    assert client.get("/api/v1/statistics/dashboard/").status_code == 404


def test_the_dashboard_exports_to_xlsx(client, world, archives_version, bureaus):
    director = staff_of(bureaus["province"])
    with at(2026, 3, 1, 9, 0):
        _cases(world, archives_version, bureaus, 3)
        Case.objects.filter(pk=Case.objects.first().pk).update(stage=Stage.CLOSED, outcome=Outcome.CERTIFIED)
        client.force_login(director)
        response = client.get("/oversight/dashboard.xlsx")

    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[:3] == ["阶段", "等级", "到期"]
    rows = list(book["阶段"].iter_rows(values_only=True))
    assert rows[0] == ("阶段", "在办案件") and ("已申报，待列入考评计划", 2) in rows


def test_an_experts_workload_links_to_the_running_cases_on_whose_panel_they_sit(client, world, archives_version,
                                                                               bureaus):
    from tests.worlds import run_case

    _institution, _people, experts = world
    case = run_case(world, approve=False)  # reviewed, waiting for approval: its panel still counts
    director = staff_of(bureaus["province"])
    with at(2026, 3, 21, 9, 0):
        _cases(world, archives_version, bureaus, 2)  # running cases without a panel
        client.force_login(director)
        page = client.get("/oversight/dashboard/").content.decode()
        experts_section = re.search(r'<section id="experts">(.*?)</section>', page, re.S).group(1)
        link = re.search(r'<td>' + re.escape(experts[1].name) + r'</td><td><a href="(/cases/\?[^"]*)">1</a>',
                         experts_section)
        assert link is not None, experts_section
        listed = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert re.findall(r'href="/cases/(\d+)/"', listed) == [str(case.pk)]  # that case alone, of three running


def test_the_results_count_each_ended_case_once_and_average_the_submitted_panel_scores(
        client, world, archives_version, bureaus):
    """Pass rate and mean panel score by year and grade: a case with two panel rounds counts once; a member's
    sheet, a panel sheet not submitted and a running case do not count."""
    from decimal import Decimal

    from django.utils import timezone

    from certification.models import ScoreSheet, SheetKind

    _institution, people, experts = world
    with at(2026, 3, 1, 9, 0):
        certified, failed, running = _cases(world, archives_version, bureaus, 3)
        Case.objects.filter(pk=certified.pk).update(stage=Stage.CLOSED, outcome=Outcome.CERTIFIED)
        Case.objects.filter(pk=failed.pk).update(stage=Stage.CLOSED, outcome=Outcome.PANEL_FAILED)
        now = timezone.now()
        for case, kind, round_, total, submitted in [
                (certified, SheetKind.PANEL, 1, "90", now), (certified, SheetKind.PANEL, 2, "80", now),
                (failed, SheetKind.PANEL, 1, "70", now), (failed, SheetKind.PANEL, 2, "10", None),
                (running, SheetKind.PANEL, 1, "10", now)]:
            ScoreSheet.objects.create(case=case, kind=kind, round=round_, total=Decimal(total), submitted_at=submitted)
        ScoreSheet.objects.create(case=failed, kind=SheetKind.MEMBER, expert=experts[0], total=Decimal("10"),
                                  submitted_at=now)
        client.force_login(people["staff"])
        results = client.get("/api/v1/statistics/dashboard/").json()["results"]

    assert [(r["year"], r["grade"], r["ended"], r["certified"], r["pass_rate"], r["mean_score"]) for r in results] == [
        (certified.year, certified.grade.code, 2, 1, 50.0, 80.0)]
