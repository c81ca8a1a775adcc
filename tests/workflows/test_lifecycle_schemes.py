"""Every shipped scheme runs a case end to end through the pages (issue 15, "Must show" 5).

One test, parametrised over the current version of each scheme in certification/schemes/ (a scheme shipped
later is picked up, and fails until it has its scenario below): a case is declared on the declaration page and
taken through every task page by its users, with the clock moved and the beat's functions run in-process, to
the certificate the province's officer issues from the queue page. The stages it goes through are read from the
scheme's own file (``stages.notice``, ``stages.recheck``); the certificate's number and title are the scheme's
own, and no page or document of the case shows another scheme's words. Then, where the scheme has a recheck,
the clock moves into the recheck window and the recheck goes through the pages to its renewed certificate;
where it has none, the clock moves past the certificate's expiry, the daily sweep the beat runs lapses it, and
the public verification page says so.

The scenarios, keyed by scheme code:

- archives (archives-v2.yaml, 鄂档规〔2011〕1号): a county organ's promotion to 省二级, scored by deductions,
  with the public notice, renewed by a recheck three years on;
- education-county (education-county-004.yaml): a county government's self-assessment for 先进 with a self-score
  per item (a bonus item outside the 100 points), the 初检 returned for rectification, the acceptance requested
  again, the higher inspection group scoring in three weighted groups; a one-vote veto of 先进 on 3.2 (D级危房)
  makes the group award 合格; no notice and no recheck: the one-year grade lapses;
- yueyang-office (yueyang-office-2013.yaml, 岳市教办通〔2013〕22号): an office's assessment for 合格 with
  per-occurrence deductions (迟交 0.2 each, 无人接听 capped at the item's 5 points), awards pro rata against a
  quota and capped awards, and a penalty pool capped at 20 points; the notice and the recheck as its file says.

(This folds in the county education case of the former tests/workflows/test_flows_schemes.py, its assertions
kept. Withdrawal, refusals, objections and the other branches of the flow are tests/workflows/test_flows.py's.)"""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS

from certification import rules
from certification.documents import CASE_DOCUMENTS
from certification.enums import CertificateStatus
from certification.models import Case, IssuedDocument, OnsiteStep, Outcome, SheetKind, Stage
from certification.scheme import load_scheme_file, shipped_scheme_files
from certification.tasks import fire_due_timers, lapse_expired_certificates
from tests.workflows.test_flows import Driver, rubric_codes, sign_recusal, state
from tests.worlds import SHANGHAI, _Errors, build_education_world, build_world, local, pdf
from workflows.engine import process_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def current_scheme_files():
    """The shipped file of each scheme's current version (the highest version of its code): archives-v1 is
    superseded by archives-v2."""
    latest = {}
    for path in shipped_scheme_files():
        spec = load_scheme_file(path)
        if spec.code not in latest or spec.version > latest[spec.code][0]:
            latest[spec.code] = (spec.version, path)
    return {code: path for code, (_version, path) in sorted(latest.items())}


CURRENT = current_scheme_files()

#: Per scheme: where its world comes from, the bureaus' names, the dates, the grade declared, the entries of
#: the self-check and of each member's sheet per item (the fields of the item's form on the page), the
#: conclusion, what the panel awards and the lines it scores, and the words of the other schemes its pages and
#: documents must not show.
SCENARIOS = {
    "archives": {
        "world": "archives",
        "declared": (2026, 1, 15, 9, 0),
        "grade": "second",
        "self": {"1.1": {"deduction": "2", "reason": "自查：制度未上墙"}},
        "member": {"1.1": {"deduction": "3", "reason": "评审：档案室温湿度记录不全"}},
        "conclusion": "达到省二级标准",
        "awarded": ("省二级", None),
        "lines": {},
        "notice_title": "2026年机关档案工作目标管理等级考评公示",
        "foreign": ("督导评估", "岳阳", "岳教办", "教育局办公室"),
    },
    "education-county": {
        "world": "education",
        "bureaus": {"province": "省人民政府教育督导室", "city": "市人民政府教育督导室", "county": "县教育局"},
        "declared": (2026, 5, 20, 9, 0),
        "grade": "advanced",
        "rectify": True,  # 篇4: 初检, 整改, then 申报验收
        "self": {"B1": {"units": "1"}},  # 篇7: a bonus ground, outside the 100 points
        "member": {
            "B1": {"units": "1"},
            "3.2": {"deduction": "3", "reason": "D级危房占校舍总面积16.21%", "veto": "on",
                    "veto_reason": "D级危房比例远超3%"},
        },
        "conclusion": "达到先进分值，危房一票否决，按合格呈报",
        "awarded": ("合格", "98.00"),  # 100 − 3 + 1 (B1); the veto of 先进 on 3.2 awards 合格 (篇5)
        "lines": {"3.2": "7.00", "B1": "1.00"},
        # 档案 too: the engine's own words are neutral (考评机关, 主管部门), the archives scheme's are its file's.
        "foreign": ("湖北", "鄂", "档案", "岳阳", "岳教办"),
    },
    "yueyang-office": {
        "world": "education",
        "bureaus": {"province": "省教育厅", "city": "市教育局", "county": "县教育局"},
        "declared": (2026, 3, 2, 9, 0),
        "grade": "qualified",
        "self": {},  # the office's 自查 finds nothing to deduct; the awards need their counts (below)
        "member": {
            "2.2": {"count_late": "2", "reason": "开学工作汇报迟交两次"},  # 迟交1次扣0.2分
            "2.4": {"units": "2"},  # 采纳1条计1分
            "3.2": {"achieved": "4"},  # 4 of the county's quota of 5, pro rata
            "3.3": {"units": "1"},  # 一般稿件1篇计2分
            "3.4": {"units": "7"},  # 此项计分最多不超过5分
            "3.5": {"deduction": "24", "reason": "人民日报等刊发负面报道4条，每条扣6分"},  # 最多不超过20分
            "6.1": {"count_no_answer": "3", "reason": "值班时间内三次无人接听电话"},  # 2 each, at most 5
        },
        "conclusion": "达到合格",
        # 15 + (20 − 0.4 − 1) + (25 − 2 − 3 − 20) + 15 + 10 + (15 − 5)
        "awarded": ("合格", "68.60"),
        "lines": {"2.2": "4.60", "2.4": "2.00", "3.2": "8.00", "3.3": "2.00", "3.4": "5.00", "6.1": "0.00"},
        "notice_title": "2026年县（市）区教育局办公室目标管理考核公示",
        "foreign": ("湖北", "鄂", "机关档案", "督导评估"),
    },
}

#: Fields every item of a scheme's rubric needs on its form, by rule kind, unless the scenario says otherwise
#: (an award counts nothing until its count is entered).
DEFAULT_ENTRY = {"capped_award": {"units": "0"}, "pro_rata": {"achieved": "0"}}


class PageDriver(Driver):
    """The Driver of tests/workflows/test_flows.py, who also opens each task's page (once per node and user)
    before posting to it, as a user does; every page read is kept, for the words it shows."""

    def __init__(self, client, case, pages):
        super().__init__(client, case)
        self.pages, self.opened = pages, set()

    def open(self, user, node):
        if (node, user.pk) not in self.opened:
            self.client.force_login(user)
            response = self.client.get(self.url(node, user))
            assert response.status_code == 200, response.content.decode()[:3000]
            self.pages[f"{node} ({user.username})"] = response.content.decode()
            self.opened.add((node, user.pk))

    def post(self, user, node, action, data=None, files=None, expect=302):
        self.open(user, node)
        self.client.force_login(user)
        payload = {"action": action, **{f"{action}-{k}": v for k, v in (data or {}).items()}}
        response = self.client.post(self.url(node, user), {**payload, **(files or {})})
        assert response.status_code == expect, (node, action, errors_shown(response))
        return response

    def item(self, user, node, code, **fields):
        self.open(user, node)
        return super().item(user, node, code, **fields)

    def read(self, user, name, url, status=200):
        """Open a page of the case (as ``user``, or as anyone when None) and keep it."""
        if user is None:
            self.client.logout()
        else:
            self.client.force_login(user)
        response = self.client.get(url)
        assert response.status_code == status, (name, response.content.decode()[:3000])
        self.pages[name] = response.content.decode()
        return response


def errors_shown(response) -> dict:
    """Every error a refused page shows, by the field it stands beside."""
    parser = _Errors()
    parser.feed(response.content.decode())
    return parser.found


def entry(spec, grade, code, given):
    item = spec.rubric_for(grade).item(code)
    return given.get(code, DEFAULT_ENTRY.get(item.rule.kind, {}))


def make_world(scenario, path, *, regions, bureaus):
    """(institution, people, experts) of the scenario's world; every shipped scheme is loaded, so that a page
    showing another scheme's words would show them."""
    from certification.services.schemes import scheme_load

    for other in CURRENT.values():
        scheme_load(spec=load_scheme_file(other), source=other.name)
    for level, name in scenario.get("bureaus", {}).items():
        bureaus[level].name = name
        bureaus[level].save()
    if scenario["world"] == "archives":
        return build_world(regions=regions, bureaus=bureaus)
    _version, institution, people, experts = build_education_world(regions=regions, bureaus=bureaus,
                                                                   file=path.name)
    return institution, people, experts


def declare(client, world, spec, scenario, kind, pages):
    institution, people, _experts = world
    client.force_login(people["applicant"])
    data = {"scheme": spec.code, "institution": institution.pk, "grade": scenario["grade"], "kind": kind}
    for p in spec.prerequisites:
        data[f"answer_{p.code}"] = "yes"
        data[f"evidence_{p.code}"] = pdf(f"{p.code}.pdf")
    response = client.post(reverse("declare"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    case = Case.objects.get(institution=institution, outcome=Outcome.OPEN)
    assert (case.scheme_version.scheme.code, case.scheme_version.number, case.kind) == (spec.code, spec.version, kind)
    return PageDriver(client, case, pages)


def self_check(d, world, spec, scenario, node="self_check"):
    _institution, people, _experts = world
    grade = scenario["grade"]
    for code in rubric_codes(d.case):
        d.item(people["applicant"], node, code, **entry(spec, grade, code, scenario["self"]))
    if node == "self_check":
        d.post(people["applicant"], node, "report", files={"report-report": pdf("自评报告.pdf")})
        d.post(people["applicant"], node, "integrity", {"acknowledged": "on"})
        d.post(people["applicant"], node, "submit")
    else:
        d.post(people["applicant"], node, "submit", {"explanation": "已按初检意见整改，申请验收"})


def through_the_pages(client, world, spec, scenario, *, kind, declared, pages):
    """Declare at ``declared`` and take the case through every task page to its certificate, which the officer
    issues from the queue page; returns (the driver, the certificate)."""
    _institution, people, experts = world
    panel = experts[:3]
    with time_machine.travel(declared, tick=False):
        d = declare(client, world, spec, scenario, kind, pages)
        d.post(people["staff"], "plan", "plan", {"decision": "include"})
        self_check(d, world, spec, scenario)
        d.post(people["staff"], "designate", "designate", {"prechecker": people["prechecker"].pk})
        if scenario.get("rectify"):
            d.post(people["prechecker"], "precheck", "decide",
                   {"decision": "return", "summary": "初检：危房改造台账不全，限期整改"})
            assert state(d.case) == (Stage.RECTIFICATION, Outcome.OPEN)
    if scenario.get("rectify"):
        with time_machine.travel(declared + dt.timedelta(days=3), tick=False):
            self_check(d, world, spec, scenario, node="rectify")
            assert state(d.case) == (Stage.PRECHECK, Outcome.OPEN)
    moment = declared + dt.timedelta(days=3 if scenario.get("rectify") else 0)
    with time_machine.travel(moment, tick=False):
        d.post(people["prechecker"], "precheck", "decide", {"decision": "pass", "summary": "初检合格，材料齐全"})
        passing = next(text for name, text in d.pages.items() if name.startswith("precheck "))
        # The pre-checker's pass says where the case goes: its notice, or its panel where the scheme has none.
        assert ("通过，进入公示" in passing, "通过，进入评审" in passing) == (spec.stages.notice, not spec.stages.notice)
        if spec.stages.notice:
            assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)
            client.force_login(people["staff"])
            response = client.post(reverse("notice_publish"), {"title": scenario["notice_title"],
                                                               "cases": [d.case.pk]})
            assert response.status_code == 302, response.content.decode()[:3000]
            closes_at = d.case.notices.get().closes_at
            assert fire_due_timers() == 0  # the notice's timer waits for its closing time
            moment = closes_at + dt.timedelta(minutes=1)
        else:
            assert state(d.case) == (Stage.PANEL, Outcome.OPEN)  # the scheme has no public notice
    with time_machine.travel(moment, tick=False):
        if spec.stages.notice:
            assert fire_due_timers() == 1
            assert state(d.case) == (Stage.PANEL, Outcome.OPEN)
        groups = {e.pk: spec.panel.groups[n % len(spec.panel.groups)].code
                  for n, e in enumerate(panel)} if spec.panel.groups else {}
        d.post(people["staff"], "form_panel", "form", {"members": [e.pk for e in panel], "chair": panel[0].pk,
                                                       **{f"group_{pk}": g for pk, g in groups.items()}})
        for expert in panel:
            sign_recusal(client, d.case, expert.user)
            for code in rubric_codes(d.case):
                d.item(expert.user, "score", code, **entry(spec, scenario["grade"], code, scenario["member"]))
            d.post(expert.user, "score", "submit")
        chair = panel[0].user
        for step in OnsiteStep.values:
            d.post(chair, "onsite", "step", {"step": step})
        d.post(chair, "onsite", "done")
        d.post(chair, "conclude", "consolidate", {})
        d.post(chair, "conclude", "conclude", {"conclusion": scenario["conclusion"]})
        assert state(d.case) == (Stage.APPROVAL, Outcome.OPEN)
        d.post(people["approver"], "approve", "decide", {"decision": "approve", "reasons": "依据齐全，同意"})
        assert state(d.case) == (Stage.CERTIFICATE, Outcome.OPEN)
        client.force_login(people["officer"])
        response = client.post(reverse("certificates:queue"), {"cases": [d.case.pk], "issue": "1"})
        assert response.status_code == 302, response.content.decode()[:3000]
    assert state(d.case) == (Stage.CLOSED, Outcome.CERTIFIED)
    assert process_for_case_done(d.case)
    return d, d.case.institution.certificates.order_by("-pk").first()


def process_for_case_done(case) -> bool:
    process = process_for(case)
    leftover = Task.objects.filter(process=process).exclude(status__in=["DONE", "CANCELED"])
    return process.status == PROCESS.DONE and not leftover.exists()


def check_the_case(d, world, spec, scenario, certificate):
    """The panel's score and award, the stages the process went through, the certificate's number and title in
    the scheme's own words, and no other scheme's words on any page or document of the case."""
    _institution, people, _experts = world
    case = d.case
    panel_sheet = case.sheets.get(kind=SheetKind.PANEL)
    awarded, total = scenario["awarded"]
    if total is not None:
        assert str(panel_sheet.total) == total
    lines = {line.item_code: str(line.points) for line in panel_sheet.lines.all()}
    assert {code: lines[code] for code in scenario["lines"]} == scenario["lines"]
    assert certificate.grade.name == awarded
    review = case.review  # the grade the panel awards, where it is not the one declared (award_lower)
    assert (review.awarded_grade or case.grade).name == awarded
    names = {t.flow_task.name for t in Task.objects.filter(process=process_for(case))}
    assert {"plan", "self_check", "designate", "precheck", "form_panel", "score", "onsite", "conclude",
            "approve", "end_certified"} <= names
    assert ("await_notice" in names) == spec.stages.notice
    assert ("rectify" in names) == bool(scenario.get("rectify"))

    documents = spec.documents
    year = certificate.issued_on.year
    assert certificate.number == documents.certificate_number_for(year, certificate.serial or 1)
    title = documents.certificate_title_for(certificate.kind)
    statement = documents.certificate_statement.format(grade=awarded)

    d.read(people["applicant"], "case", reverse("case_detail", args=[case.pk]))
    d.read(people["staff"], "case (bureau)", reverse("case_detail", args=[case.pk]))
    d.read(people["staff"], "documents", reverse("documents:case_documents", args=[case.pk]))
    for kind in CASE_DOCUMENTS:  # each document of the case the page offers, as printed (or frozen)
        d.client.force_login(people["staff"])
        response = d.client.get(reverse("documents:case_document_html", args=[case.pk, kind]))
        assert response.status_code in (200, 404), (kind, response.status_code)
        if response.status_code == 200:
            d.pages[f"document {kind}"] = response.content.decode()
    assert {"document application_form", "document confirmation_letter"} <= set(d.pages)
    # a scheme without a public notice has no notice result, frozen or printed
    frozen = set(IssuedDocument.objects.filter(case=case, certificate__isnull=True).values_list("kind", flat=True))
    assert ("notice_result" in frozen) == ("document notice_result" in d.pages) == spec.stages.notice
    # the certificate as frozen when it was issued: the HTML its PDF is printed from
    printed = certificate.documents.get(kind="certificate").html
    d.pages["certificate (printed)"] = printed
    assert certificate.number in printed and title in printed and statement in printed
    d.read(people["officer"], "certificate", reverse("certificates:detail", args=[certificate.pk]))
    public = d.read(None, "verification", reverse("verify_token", args=[certificate.verification_token]))
    assert certificate.number in public.content.decode()

    own = str(spec.to_json())
    printed = {name: text for name, text in d.pages.items() if name.startswith(("document ", "certificate (printed)"))}
    for words, where in ((scenario["foreign"], d.pages), (scenario.get("foreign_in_documents", ()), printed)):
        for word in words:
            assert word not in own, f"{word!r} is the scheme's own word: not another scheme's"
            shown = [name for name, text in where.items() if word in text]
            assert shown == [], f"{spec.code}: {word!r} (another scheme's word) on {shown}"


@pytest.mark.lifecycle
@pytest.mark.parametrize("code", list(CURRENT))
def test_a_case_of_each_shipped_scheme_runs_through_the_pages_to_its_certificate_and_beyond(
        client, regions, bureaus, code):
    assert code in SCENARIOS, (f"the shipped scheme {code!r} ({CURRENT[code].name}) has no scenario: add one to "
                               f"SCENARIOS in {__name__}")
    path, scenario = CURRENT[code], SCENARIOS[code]
    spec = load_scheme_file(path)
    world = make_world(scenario, path, regions=regions, bureaus=bureaus)
    _institution, people, _experts = world

    pages: dict[str, str] = {}
    d, certificate = through_the_pages(client, world, spec, scenario, kind="promotion",
                                       declared=local(*scenario["declared"]), pages=pages)
    check_the_case(d, world, spec, scenario, certificate)
    assert certificate.kind == "promotion" and certificate.status == CertificateStatus.IN_FORCE
    assert certificate.valid_until == certificate.issued_on.replace(
        year=certificate.issued_on.year + spec.times.validity_years) - dt.timedelta(days=1)

    if spec.stages.recheck:
        # into the recheck window, on a day the scheme's declaration window is open, at nine in the morning
        first_day, last_day = rules.recheck_window(certificate.valid_until, scheme=spec)
        opens, closes = (tuple(int(p) for p in day.split("-")) for day in
                         (spec.times.declaration_opens, spec.times.declaration_closes))
        day = next(first_day + dt.timedelta(days=n) for n in range((last_day - first_day).days + 1)
                   if opens <= ((first_day + dt.timedelta(days=n)).month, (first_day + dt.timedelta(days=n)).day)
                   <= closes)
        d.case.institution.refresh_from_db()
        renewal_pages: dict[str, str] = {}
        again, renewed = through_the_pages(
            client, world, spec, scenario, kind="recheck",
            declared=dt.datetime.combine(day, dt.time(9, 0), tzinfo=SHANGHAI), pages=renewal_pages)
        check_the_case(again, world, spec, scenario, renewed)
        certificate.refresh_from_db()
        assert renewed.kind == "recheck" and renewed.status == CertificateStatus.IN_FORCE
        assert renewed.supersedes == certificate and certificate.status == CertificateStatus.SUPERSEDED
        assert renewed.valid_until > certificate.valid_until
    else:
        # no recheck: the grade stands until its expiry; the day after, the beat's daily sweep lapses it
        after = dt.datetime.combine(certificate.valid_until, dt.time(23, 59), tzinfo=SHANGHAI)
        with time_machine.travel(after, tick=False):
            assert lapse_expired_certificates() == 0
        with time_machine.travel(after + dt.timedelta(minutes=6), tick=False):
            assert lapse_expired_certificates() == 1
            assert lapse_expired_certificates() == 0  # once
        certificate.refresh_from_db()
        assert certificate.status == CertificateStatus.LAPSED
        client.logout()
        page = client.get(reverse("verify_token", args=[certificate.verification_token])).content.decode()
        assert str(CertificateStatus.LAPSED.label) in page and certificate.number in page
