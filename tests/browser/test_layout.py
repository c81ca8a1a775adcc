"""The pages read on a 1366×768 laptop and on a 10-inch tablet held upright (800×1280) without scrolling
sideways: the page is never wider than the screen (a wide table scrolls inside its own frame), and the role's
navigation stays in reach."""

import time_machine
from django.urls import reverse

from certification.services.cases import case_issue_certificate
from tests.browser.test_journey import PASSWORD, Person, browser, pytestmark  # noqa: F401 - the journey's set-up
from tests.worlds import local, run_case

SCREENS = {"laptop": {"width": 1366, "height": 768}, "tablet": {"width": 800, "height": 1280}}


def wider_than_the_screen(page) -> int:
    """How many CSS pixels the page runs past the screen's right edge (0: none)."""
    return page.evaluate("() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)")


def test_every_role_reads_its_pages_on_a_laptop_and_a_tablet(browser, live_server, world,  # noqa: F811
                                                          django_capture_on_commit_callbacks):
    _institution, people, _experts = world
    case = run_case(world)
    with time_machine.travel(local(2026, 3, 25, 10, 0)), django_capture_on_commit_callbacks(execute=True):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    for person in ("applicant", "staff"):
        people[person].set_password(PASSWORD)
        people[person].save()
    pages = [reverse("home"), reverse("inbox"), reverse("case_list"), reverse("case_detail", args=[case.pk]),
             reverse("documents:case_documents", args=[case.pk]), reverse("notifications:inbox")]
    public = [reverse("notice_list"), reverse("notice_detail", args=[case.notices.get().pk]),
              reverse("verify") + "?number=" + certificate.number]
    too_wide = {}
    with time_machine.travel(local(2026, 3, 26, 9, 0)):
        for screen, size in SCREENS.items():
            visits = [(Person(browser, live_server, "applicant", viewport=size), pages + [reverse("declare")]),
                      (Person(browser, live_server, "staff", viewport=size), pages + [reverse("late_inclusions")]),
                      (Person.anonymous(browser, live_server, viewport=size), public)]
            for person, urls in visits:
                for url in urls:
                    person.go(url)
                    overflow = wider_than_the_screen(person.page)
                    if overflow:
                        too_wide[(screen, url)] = overflow
                    if person.page.locator(".site-nav").count():  # the role's navigation is on screen
                        assert person.page.locator(".site-nav a").first.is_visible(), (screen, url)
    assert too_wide == {}
    assert Person.accessibility == [] and Person.csp_violations == []
