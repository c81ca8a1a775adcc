"""One journey in a real headless browser (Debian's Chromium driven by Playwright): from an institution's
declaration, through every role's task pages, to the issued certificate's public page.

Every page the journey visits is checked by axe-core (``axe.min.js`` beside this file, axe-core 4.14.1 from
its npm package, MPL-2.0): a serious or critical accessibility violation fails the test. A second test goes
through the sign-in form and the verification form with the keyboard alone."""

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from certification import permissions
from certification.enums import InstitutionLevel, Role
from certification.models import Case, Outcome
from certification.tasks import fire_due_timers
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory
from tests.signin import authenticator_for, totp_now
from tests.worlds import local
from workflows.engine import process_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("media"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed"),
]
PASSWORD = "journey-pass-1"
AXE = (Path(__file__).parent / "axe.min.js").read_text(encoding="utf-8")
# Not the site's own pages: Swagger UI's page of the API, and a document's own printed HTML (sandboxed: no
# script runs in it, axe-core neither).
NOT_AUDITED = re.compile(r"^/api/|/documents/[\w-]+\.html$")


def axe_violations(page) -> list[str]:
    """The serious and critical violations axe-core finds on the page (WCAG 2.1 A and AA and best practice).
    Evaluated through the browser's debugging protocol, which the page's Content-Security-Policy does not
    apply to: the page itself still loads nothing but its own scripts."""
    page.evaluate(AXE)
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
    }""")
    return [f"{page.url}: {violation}" for violation in found]


@pytest.fixture
def browser(monkeypatch):
    from django.core.cache import cache
    from playwright.sync_api import sync_playwright

    cache.clear()  # the public pages' rate limits count from zero
    Person.csp_violations.clear()
    Person.accessibility.clear()
    Person.audited.clear()
    Person.leaked.clear()
    # the test's ORM calls run beside Playwright's event loop (for this test only: a deployment must not set it)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
    from django.db import connections

    connections.close_all()  # the ORM calls made beside Playwright's loop opened their own connection


def user(username, role=None, obj=None):
    u = UserFactory(username=username)
    u.set_password(PASSWORD)
    u.save()
    if role:
        permissions.role_grant(user=u, role=role, obj=obj)
    return u


class Person:
    # What the browser reported breaking the Content-Security-Policy, on any page anyone visited in the test
    # (Chromium says so on the console: "Refused to … because it violates the following Content Security
    # Policy directive …").
    csp_violations: list[str] = []
    # What axe-core found serious or critical on any page anyone visited in the test.
    accessibility: list[str] = []
    audited: set[str] = set()
    # What the pages showed that a Chinese reader should not see: an internal code, an English word, a user
    # name where a person's name belongs (the crawl's rule, tests/workflows/test_pages_clean.py).
    leaked: dict[str, set[str]] = {}

    def __init__(self, browser, live_server, username, *, viewport=None):
        self.page = browser.new_page(locale="zh-CN", **({"viewport": viewport} if viewport else {}))
        self.page.on("console", lambda message: self.csp_violations.append(
            f"{self.page.url}: {message.text} (at {message.location.get('url')}:{message.location.get('lineNumber')})")
                     if "Content Security Policy" in message.text else None)
        self.base = live_server.url
        if username is None:  # a member of the public: no sign-in
            return
        self.go(reverse("login"))
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is not None:  # a privileged role: the second step, a code of the authenticator
            self.go(reverse("otp_verify"))
            self.page.fill("input[name=code]", totp_now(device))
            self.page.click("form:has(input[name=code]) button[type=submit]")
            self.page.wait_for_load_state()

    @classmethod
    def anonymous(cls, browser, live_server, *, viewport=None):
        return cls(browser, live_server, None, viewport=viewport)

    def go(self, path):
        self.page.goto(self.base + path)
        self.audit()

    def audit(self):
        """axe-core on the page now shown, once per page (its path without the numbers: one task page
        stands for the same task of another case)."""
        self.page.wait_for_load_state()
        key = re.sub(r"\d+", "N", self.page.url.split("?")[0].removeprefix(self.base))
        if key not in self.audited and not NOT_AUDITED.search(key):
            self.audited.add(key)
            before = len(self.csp_violations)
            self.accessibility.extend(axe_violations(self.page))
            del self.csp_violations[before:]  # what axe-core itself tried while it looked: not the page's doing
            self.scan()

    def scan(self):
        from tests.workflows.test_pages_clean import leaks, read

        if self.page.url.startswith(self.base + "/api/"):
            return  # the API's documentation is in English, for programmers
        from django.contrib.auth import get_user_model

        usernames = set(get_user_model().objects.values_list("username", flat=True))
        found = leaks(" ".join(read(self.page.content()).text), usernames)
        if found:
            self.leaked.setdefault(self.page.url.removeprefix(self.base), set()).update(found)

    def open_task(self, title):
        self.go(reverse("inbox"))
        self.page.locator("main").get_by_role("link", name=title).first.click()  # not a like-named menu link
        self.audit()

    def form(self, action):
        return self.page.locator(f"form:has(input[name=action][value={action}])").first

    def submit(self, action):
        self.form(action).locator("button[type=submit]").click()
        self.page.wait_for_load_state()
        self.audit()


def test_a_declaration_to_its_certificate_in_the_browser(browser, live_server, archives_version, regions, bureaus,
                                                        tmp_path):
    county, province = bureaus["county"], bureaus["province"]
    institution = InstitutionFactory(name="县民政局", region=regions["county"], level=InstitutionLevel.COUNTY)
    user("applicant", Role.APPLICANT, institution)
    user("staff", Role.BUREAU_STAFF, county)
    user("prechecker", Role.PRECHECKER, county)
    authenticator_for(user("approver", Role.APPROVER, county))  # privileged roles sign in with a second factor
    authenticator_for(user("officer", Role.CERTIFICATE_OFFICER, province))
    for n in range(3):
        ExpertFactory(pool=county, user=user(f"expert{n}"), term_starts_on=dt.date(2025, 1, 1),
                      term_ends_on=dt.date(2032, 12, 31))
    evidence = tmp_path / "证明.pdf"
    evidence.write_bytes(b"%PDF-1.7\n%\xe2\xe3\n")

    with time_machine.travel(local(2026, 2, 2, 9, 0)):
        applicant = Person(browser, live_server, "applicant")
        declare_in_browser(applicant, "second", evidence)
        case = Case.objects.get(institution=institution)
        staff = Person(browser, live_server, "staff")
        planned_and_self_checked(staff, applicant, evidence)
        prechecker = Person(browser, live_server, "prechecker")
        prechecker.open_task("预检")
        prechecker.form("decide").locator("input[value=pass]").check()
        prechecker.form("decide").locator("textarea[name=decide-summary]").fill("符合要求")
        prechecker.submit("decide")

        published(staff)

    with time_machine.travel(local(2026, 2, 10, 0, 5)):
        fire_due_timers()  # the beat task: the notice closes
        staff.open_task("组建评审组")
        staff.submit("form")
        case.refresh_from_db()
        experts = [m.expert.user.username for m in case.panel.memberships.order_by("pk")]
        codes = [i.code for _c, i in case.scheme_version.specification().rubric_for("second").items()]
        for username in experts:
            signed_and_scored(Person(browser, live_server, username), codes)
        chaired(Person(browser, live_server, case.panel.memberships.get(is_chair=True).expert.user.username),
                 "达到二级标准")

        approver = Person(browser, live_server, "approver")
        approved(approver)
        case.refresh_from_db()
        assert case.stage == "certificate"

        officer = Person(browser, live_server, "officer")
        issue_in_browser(officer, case)
        case.refresh_from_db()
        assert case.outcome == Outcome.CERTIFIED
        fire_due_timers()  # the beat task: the process sees the certificate and ends
        assert case_process_finished(case)
        certificate = case.institution.certificates.get()
        officer.go(reverse("verify_token", args=[certificate.verification_token]))
        text = officer.page.content()
        assert certificate.number in text and "县民政局" in text

        # the API's documentation draws from our own static files, under the same policy
        officer.go(reverse("api:docs"))
        officer.page.wait_for_selector(".swagger-ui .info .title")
        assert officer.page.locator(".swagger-ui .info .title").inner_text().startswith("Graded certification API")
        staff.go(reverse("documents:case_document_html", args=[case.pk, "notice_result"]))
        assert "公示" in staff.page.content()
        # the pages of the design system, each role's own
        for person in (applicant, staff, approver, officer):
            for path in (reverse("home"), reverse("inbox"), reverse("case_list"),
                         reverse("case_detail", args=[case.pk]), reverse("notifications:inbox")):
                person.go(path)
        for path in (reverse("case_process", args=[case.pk]), reverse("notice_list"), reverse("notice_archive"),
                     reverse("verify") + "?number=" + certificate.number, reverse("certificates:detail",
                                                                                  args=[certificate.pk])):
            officer.go(path)
    assert Person.accessibility == []
    assert Person.csp_violations == []
    assert Person.leaked == {}
    assert len(Person.audited) >= 15  # the journey's pages (18 kinds) were checked, not one


def declare_in_browser(applicant, grade, evidence):
    """The applicant declares for ``grade``: four conditions met, each with its evidence, two not applicable."""
    applicant.go(reverse("declare"))
    page = applicant.page
    page.select_option("select[name=grade]", grade)
    for code in ("registration", "central_management", "no_safety_incident", "electronic_records"):
        page.check(f"input[name=answer_{code}][value=yes]")
        page.set_input_files(f"input[name=evidence_{code}]", str(evidence))
    for code in ("transfer", "public_information"):
        page.check(f"input[name=answer_{code}][value=na]")
    page.get_by_role("button", name="提交申报").click()
    page.wait_for_load_state()
    assert "申报成功" in page.content()


def planned_and_self_checked(staff, applicant, evidence):
    """The bureau includes the case in its plan; the applicant self-checks every item, attaches its report,
    acknowledges the integrity notice and asks for acceptance; the bureau designates its pre-checker."""
    staff.open_task("列入考评计划")
    staff.form("plan").locator("input[value=include]").check()
    staff.submit("plan")
    applicant.open_task("自查与验收申请")
    for form in applicant.page.locator("form:has(input[name=action][value=item])").all():
        with applicant.page.expect_response(lambda r: r.request.method == "POST"):  # saved, with or without a reload
            form.locator("button[type=submit]").click()
        applicant.page.wait_for_load_state()
    applicant.form("report").locator("input[type=file]").set_input_files(str(evidence))
    applicant.submit("report")
    applicant.form("integrity").locator("input[type=checkbox]").check()
    applicant.submit("integrity")
    applicant.submit("submit")
    assert "已办理" in applicant.page.content()
    staff.open_task("指定预检人员")
    staff.submit("designate")


def signed_and_scored(member, codes):
    """A member signs the recusal declaration, scores every item and submits the sheet."""
    member.open_task("评审打分")  # the declaration comes first: signed, the task opens
    member.submit("sign")
    member.open_task("评审打分")
    for code in codes:  # no split confirmed by the chair: every member scores every item
        # each item saves without a reload (static/workflows/sheet.js): wait for its answer
        with member.page.expect_response(lambda r: r.request.method == "POST"):
            member.page.locator(f"#item-{code} button[type=submit]").click()
    member.submit("submit")


def chaired(chair, conclusion):
    """The chair records every on-site step, consolidates the sheets and concludes."""
    chair.open_task("记录现场评审环节")
    options = chair.form("step").locator("select[name=step-step] option")
    for index in range(options.count()):
        chair.form("step").locator("select[name=step-step]").select_option(index=index)
        chair.submit("step")
    chair.submit("done")
    chair.open_task("合议与评审结论")
    chair.submit("consolidate")
    chair.form("conclude").locator("textarea[name=conclude-conclusion]").fill(conclusion)
    chair.submit("conclude")


def published(staff):
    """The bureau publishes the public notice listing the case."""
    staff.go(reverse("notice_publish"))
    staff.page.fill("input[name=title]", "2026年第一批档案工作等级考评公示")
    staff.page.locator("input[name=cases]").first.check()
    staff.page.get_by_role("button", name="发布").click()
    staff.page.wait_for_load_state()


def approved(approver):
    """The approver approves the case, with the basis."""
    approver.open_task("审批")
    approver.form("decide").locator("input[value=approve]").check()
    approver.form("decide").locator("textarea[name=decide-reasons]").fill("依据齐全，同意")
    approver.submit("decide")


def case_process_finished(case) -> bool:
    return process_for(case).status == "DONE"


def issue_in_browser(officer, case):
    """The province's certificate officer issues it from the queue."""
    officer.go(reverse("certificates:queue"))
    officer.page.check(f"#case-{case.pk}")
    officer.page.locator("button[name=issue]").click()
    officer.page.wait_for_load_state()
    case.refresh_from_db()
    number = case.certificate.number
    assert "/certificates/" in officer.page.url and number in officer.page.content()


def test_the_keyboard_alone_signs_in_and_verifies_a_certificate(browser, live_server, archives_version, regions,
                                                              bureaus):
    from tests.factories import CertificateFactory

    institution = InstitutionFactory(name="县档案馆", region=regions["county"], level=InstitutionLevel.COUNTY)
    certificate = CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="second",
                                     issued_by=bureaus["province"], approved_by=bureaus["county"],
                                     issued_on=dt.date(2026, 5, 20), valid_until=dt.date(2029, 5, 19))
    user("keyboard", Role.APPLICANT, institution)
    page = browser.new_page(locale="zh-CN")

    def tab_to(selector, limit=40):
        """Press Tab until the element ``selector`` has the focus (as a person reaching it would)."""
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    page.goto(live_server.url + reverse("login"))
    tab_to("input[name=username]")
    page.keyboard.type("keyboard")
    tab_to("input[name=password]", limit=3)
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/accounts/login/" not in page.url and "退出" in page.content()

    page.goto(live_server.url + reverse("verify"))
    tab_to("input[name=number]")
    page.keyboard.type(certificate.number.replace("〔", "").replace("〕", ""))  # typed without the brackets
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert certificate.number in page.content() and "县档案馆" in page.content()
    assert axe_violations(page) == []


def qr_codes_in(pdf: bytes, tmp_path) -> list[str]:
    """What a phone reads from the QR codes printed on the PDF's first page: the page drawn by poppler's
    ``pdftoppm`` at 200 dpi, the codes read by ZXing (zxing-cpp)."""
    import subprocess

    import zxingcpp
    from PIL import Image

    source = tmp_path / "certificate.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", "-f", "1", str(source),  # noqa: S603, S607
                    str(tmp_path / "page")], check=True)
    return [code.text for code in zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))]


def test_a_rectification_an_objection_and_a_replaced_member_in_the_browser(
        browser, live_server, archives_version, regions, bureaus, tmp_path, settings):
    """A city organ's first-grade promotion, from the pages alone: returned for rectification and resubmitted,
    an objection filed on the public notice and resolved by lowering the grade, a member who declares a
    conflict replaced, the certificate issued; its printed QR code, read from the PDF, opens its public
    verification; the province's auditor reads the case."""
    from tests.factories import CertificateFactory

    settings.CERTIFICATION_PUBLIC_BASE_URL = live_server.url  # the QR code names the site the test serves
    city, province = bureaus["city"], bureaus["province"]
    institution = InstitutionFactory(name="市财政局", region=regions["city"], level=InstitutionLevel.CITY)
    CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="second",
                       issued_by=province, approved_by=city, issued_on=dt.date(2024, 5, 20),
                       valid_until=dt.date(2027, 5, 19))  # 省二级 for two years: it may ask for 省一级
    user("applicant", Role.APPLICANT, institution)
    user("staff", Role.BUREAU_STAFF, city)
    user("prechecker", Role.PRECHECKER, city)
    authenticator_for(user("approver", Role.APPROVER, city))
    authenticator_for(user("officer", Role.CERTIFICATE_OFFICER, province))
    authenticator_for(user("auditor", Role.AUDITOR, province))
    for n in range(4):  # three seats and one expert to replace a member
        ExpertFactory(pool=city, user=user(f"expert{n}"), name=f"专家{n}", term_starts_on=dt.date(2025, 1, 1),
                      term_ends_on=dt.date(2032, 12, 31))
    evidence = tmp_path / "证明.pdf"
    evidence.write_bytes(b"%PDF-1.7\n%\xe2\xe3\n")

    with time_machine.travel(local(2026, 2, 2, 9, 0)):
        applicant = Person(browser, live_server, "applicant")
        declare_in_browser(applicant, "first", evidence)
        case = Case.objects.get(institution=institution)
        staff = Person(browser, live_server, "staff")
        planned_and_self_checked(staff, applicant, evidence)
        # the pre-checker returns the case for rectification, with an opinion on an item
        prechecker = Person(browser, live_server, "prechecker")
        prechecker.open_task("预检")
        decide = prechecker.form("decide")
        decide.locator("input[value=return]").check()
        decide.locator("textarea[name=decide-summary]").fill("案卷整理不规范")
        decide.locator("textarea[name^=decide-opinion_]").first.fill("归档范围表需细化")
        decide.locator("input[name=decide-days]").fill("15")
        prechecker.submit("decide")
        case.refresh_from_db()
        assert case.stage == "rectification"

    with time_machine.travel(local(2026, 2, 9, 9, 0)):
        # the applicant reads the opinion beside the items, rectifies and explains what was rectified
        applicant.open_task("整改后重新提交")
        assert "归档范围表需细化" in applicant.page.content()
        for form in applicant.page.locator("form:has(input[name=action][value=item])").all():
            with applicant.page.expect_response(lambda r: r.request.method == "POST"):
                form.locator("button[type=submit]").click()
            applicant.page.wait_for_load_state()
        applicant.form("submit").locator("textarea[name=submit-explanation]").fill("已按预检意见细化归档范围表")
        applicant.submit("submit")
        prechecker.open_task("预检")
        assert "已按预检意见细化归档范围表" in prechecker.page.content()
        prechecker.form("decide").locator("input[value=pass]").check()
        prechecker.form("decide").locator("textarea[name=decide-summary]").fill("已整改，符合要求")
        prechecker.submit("decide")
        published(staff)
        notice = case.notices.get()
        assert list(case.prechecks.order_by("round").values_list("decision", flat=True)) == ["return", "pass"]

    with time_machine.travel(local(2026, 2, 10, 15, 0)):
        # a member of the public objects on the notice's own page, under a real name with a phone number
        public = Person.anonymous(browser, live_server)
        public.go(reverse("notice_detail", args=[notice.pk]))
        public.page.fill("input[name=name]", "张三")
        public.page.fill("input[name=contact]", "13800000000")
        public.page.fill("textarea[name=grounds]", "该局档案库房温湿度长期不达标")
        public.page.get_by_role("button", name="提交异议").click()
        public.page.wait_for_load_state()
        public.audit()
        objection = case.objections.get()
        assert "您的异议已收到" in public.page.content() and objection.receipt in public.page.content()
        assert (objection.name, objection.contact, objection.anonymous) == ("张三", "13800000000", False)

    with time_machine.travel(local(2026, 2, 18, 0, 5)):
        fire_due_timers()  # the notice closes; the objection holds the case
        staff.open_task("处理异议")
        assert "该局档案库房温湿度长期不达标" in staff.page.content()
        resolve = staff.form("resolve")
        resolve.locator("select[name=resolve-decision]").select_option("downgraded")
        resolve.locator("select[name=resolve-grade]").select_option("second")
        resolve.locator("textarea[name=resolve-reason]").fill("经核实部分属实：库房温湿度记录不全，按省二级考评")
        staff.submit("resolve")
        case.refresh_from_db()
        assert case.grade.code == "second" and case.stage == "panel"

        staff.open_task("组建评审组")
        staff.submit("form")
        case.refresh_from_db()
        seats = list(case.panel.memberships.select_related("expert__user").order_by("pk"))
        leaving = next(m for m in seats if not m.is_chair)
        # a member declares a conflict of interest instead of signing; the bureau names a replacement
        member = Person(browser, live_server, leaving.expert.user.username)
        member.open_task("评审打分")
        member.form("conflict").locator("textarea[name=conflict-reason]").fill("三年内曾在该局任职")
        member.submit("conflict")
        staff.go(reverse("case_detail", args=[case.pk]))
        assert f"{leaving.expert.name}已声明回避并退出评审组" in staff.page.content()
        staff.page.get_by_role("link", name="指定替补成员").click()
        staff.audit()
        spare = next(f"expert{n}" for n in range(4) if f"expert{n}" not in {m.expert.user.username for m in seats})
        staff.page.locator("select[name=expert]").select_option(label=spare.replace("expert", "专家"))
        staff.page.get_by_role("button", name="提交").click()
        staff.page.wait_for_load_state()
        current = case.panel.memberships.filter(conflict_declared_at__isnull=True)
        names = sorted(m.expert.user.username for m in current)
        assert leaving.expert.user.username not in names and spare in names and len(names) == 3
        codes = [i.code for _c, i in case.scheme_version.specification().rubric_for("second").items()]
        for username in names:
            signed_and_scored(Person(browser, live_server, username), codes)
        chaired(Person(browser, live_server, case.panel.memberships.get(is_chair=True).expert.user.username),
                "达到二级标准")
        approved(Person(browser, live_server, "approver"))
        officer = Person(browser, live_server, "officer")
        issue_in_browser(officer, case)
        certificate = case.certificate

    with time_machine.travel(local(2026, 2, 18, 10, 0)):
        # the certificate's PDF as the holder receives it; a phone reads its QR code and opens the public page
        pdf = officer.page.request.get(live_server.url + reverse("certificates:pdf", args=[certificate.pk]))
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        urls = [text for text in qr_codes_in(pdf.body(), tmp_path) if text.startswith("http")]
        assert len(urls) == 1 and urls[0].startswith(live_server.url + "/verify/")
        phone = Person.anonymous(browser, live_server)
        phone.page.goto(urls[0])
        phone.audit()
        text = phone.page.content()
        assert certificate.number in text and "市财政局" in text and "省二级" in text

        # the province's auditor reads the case below it, its documents and its objection
        auditor = Person(browser, live_server, "auditor")
        auditor.go(reverse("case_detail", args=[case.pk]))
        text = auditor.page.content()
        assert "经核实部分属实：库房温湿度记录不全，按省二级考评" in text and certificate.number in text
        auditor.go(reverse("documents:case_documents", args=[case.pk]))
    assert Person.accessibility == []
    assert Person.csp_violations == []
    assert Person.leaked == {}
