"""Every page a role opens on a case's way to its certificate loads nothing from outside the site, and reads
in Chinese: no internal code (a stage such as ``precheck``, an action such as ``document.issue``), no English
word where Chinese belongs, no user name where a person's full name belongs.

A crawl with Django's test client: the pages of the design system (home, inbox, case list, matter page, chart,
notifications, certificate pages, the public notices and verification) for each role of the world."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from certification.enums import Role
from certification.permissions import role_grant
from certification.services.cases import case_issue_certificate
from tests.factories import UserFactory
from tests.worlds import at, run_case

pytestmark = [pytest.mark.smoke, pytest.mark.django_db, pytest.mark.usefixtures("media")]

# Words a Chinese page may show in Latin letters: file formats and names of standards.
ALLOWED = {"PDF", "HTML", "SHA", "zip", "xlsx", "QR", "API", "English", "TOTP",
           "JSON", "json", "Open", "Badges"}  # format and standard names (the signed credential: Open Badges 3.0)
RESOURCE_ATTRIBUTES = {"link": "href", "script": "src", "img": "src", "iframe": "src", "source": "src",
                       "video": "src", "audio": "src", "embed": "src", "object": "data"}


class _Page(HTMLParser):
    """A page's resources (link/script/img…) and its visible text, less what is marked translate="no" (a file's
    own name) and the language menu (each language names itself)."""

    def __init__(self):
        super().__init__()
        self.resources: list[str] = []
        self.text: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in RESOURCE_ATTRIBUTES and attrs.get(RESOURCE_ATTRIBUTES[tag]):
            self.resources.append(attrs[RESOURCE_ATTRIBUTES[tag]])
        if tag in ("script", "style", "select") or attrs.get("translate") == "no" or self._skip:
            if tag not in ("br", "input", "img", "meta", "link"):
                self._skip.append(tag)

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def read(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def leaks(text: str, usernames: set[str]) -> set[str]:
    """English words, internal codes (``a.b``, ``a_b``) and user names in a page's visible text."""
    found = set()
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]", text):
        if token in usernames or re.fullmatch(r"[a-z]+(?:[._][a-z]+)+", token):
            found.add(token)
        elif re.fullmatch(r"[A-Za-z]{3,}", token) and token not in ALLOWED:
            found.add(token)
    return found


def outside(resources: list[str]) -> list[str]:
    return [r for r in resources if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", r, re.I)
            and not re.match(r"^https?://testserver/", r)]


@pytest.fixture
def certified(world):
    _institution, people, _experts = world
    case = run_case(world)
    with at(2026, 3, 25, 10, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    return case, certificate


def test_no_page_loads_from_outside_the_site_or_shows_a_code_or_an_english_word(client, world, certified, bureaus):
    _institution, people, experts = world
    case, certificate = certified
    notice = case.notices.get()
    auditor = UserFactory(username="auditor")
    role_grant(user=auditor, role=Role.AUDITOR, obj=bureaus["province"])
    public = [reverse("home"), reverse("notice_list"), reverse("notice_archive"),
              reverse("notice_detail", args=[notice.pk]), reverse("verify"),
              reverse("verify") + "?number=" + certificate.number, reverse("login")]
    own = [reverse("home"), reverse("inbox"), reverse("case_list"), reverse("case_detail", args=[case.pk]),
           reverse("process_chart"), reverse("notifications:inbox")]  # (run_case has no process: no case chart)
    visits = [(None, public)] + [(user, own) for user in
                                 (people["applicant"], people["staff"], people["approver"], experts[0].user, auditor)]
    visits.append((people["officer"], [reverse("home"), reverse("inbox"), reverse("certificates:queue"),
                                       reverse("certificates:detail", args=[certificate.pk])]))
    usernames = set(type(auditor).objects.exclude(full_name="").values_list("username", flat=True))

    found = {}
    for user, urls in visits:
        client.logout()
        if user is not None:
            client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, user)
            page = read(response.content.decode())
            bad = outside(page.resources), leaks(" ".join(page.text), usernames)
            if any(bad):
                found[(str(user), url)] = bad

    assert found == {}


def test_the_crawl_sees_a_leak_where_there_is_one():
    page = read('<html><head><script src="https://cdn.example.org/x.js"></script></head>'
                '<body><p>阶段：precheck</p><p>document.issue</p><span translate="no">report.pdf</span></body></html>')

    assert outside(page.resources) == ["https://cdn.example.org/x.js"]
    assert leaks(" ".join(page.text), {"staff"}) == {"precheck", "document.issue"}


def test_the_error_pages_are_the_sites_own(client, world, certified):
    """A case opened by the wrong user answers 404 with the site's own page (its layout, in Chinese), not the
    page of a library the site is built on (Viewflow ships a 404.html with its own fonts and scripts)."""
    from django.template.loader import render_to_string

    _institution, people, _experts = world
    case, _certificate = certified
    client.force_login(UserFactory())
    response = client.get(reverse("case_detail", args=[case.pk]))
    assert response.status_code == 404
    assert [t.name for t in response.templates][:2] == ["404.html", "base.html"]
    page = read(response.content.decode())
    assert "页面不存在" in page.text and outside(page.resources) == []
    assert not [r for r in page.resources if "/viewflow/" in r], page.resources
    # the server error's page draws without a request or the database
    html = render_to_string("500.html")
    assert "系统错误" in html and "/static/workflows/site.css" in html and "viewflow" not in html
