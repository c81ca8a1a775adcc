"""The province's director opens the dashboard on Monday morning in a real headless browser: the charts are
drawn (SVG, no script), each with its table, and a bar leads to the list behind it; nothing breaks the CSP."""

import time_machine

from certification.enums import InstitutionLevel, Role
from certification.models import Case, Stage
from tests.browser.test_journey import Person, browser, pytestmark, user  # noqa: F401 - the journey's set-up
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import declared_case, local


def test_the_province_dashboard_in_the_browser(browser, live_server, archives_version, regions, bureaus,  # noqa: F811
                                               tmp_path):
    user("director", Role.BUREAU_STAFF, bureaus["province"])
    declarant = UserFactory()
    for n, stage in enumerate([Stage.PRECHECK, Stage.PRECHECK, Stage.NOTICE, Stage.DECLARED]):
        institution = InstitutionFactory(name=f"县直机关{n}", region=regions["county"], level=InstitutionLevel.COUNTY)
        case = declared_case(version=archives_version, institution=institution, bureau=bureaus["county"],
                             declared_by=declarant)
        Case.objects.filter(pk=case.pk).update(stage=stage)

    with time_machine.travel(local(2026, 3, 2, 8, 30)):
        director = Person(browser, live_server, "director")
        director.go("/oversight/dashboard/")
        page = director.page
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert page.locator("h1").inner_text().startswith("工作概览")
        funnel = page.locator("#stages")
        assert funnel.locator("svg rect").count() == 9  # one bar per stage of a running case
        assert funnel.locator("table tr", has_text="预检").locator("td").nth(1).inner_text() == "2"
        funnel.locator("table a", has_text="2").first.click()
        page.wait_for_load_state()
        assert "stage=precheck" in page.url
        assert page.locator("tbody tr").count() == 2

    assert Person.csp_violations == []
