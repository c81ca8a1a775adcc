"""The test world shared by the suite: the Asia/Shanghai clock, an uploaded PDF, and a case taken through every
stage with the services. The fixtures that build the world (``world``, ``media``) are in tests/conftest.py."""

import datetime as dt
import io
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.models import Case, Grade, OnsiteStep, ScoreSheet, SheetKind, Stage
from certification.scoring import Deduction, ItemEntry
from certification.services.cases import (
    case_acknowledge_integrity,
    case_approve,
    case_attach_report,
    case_declare,
    case_designate_prechecker,
    case_plan_include,
    case_precheck_decide,
    case_request_acceptance,
)
from certification.services.notices import notice_close, notice_publish
from certification.services.panels import panel_form, panel_member_sign_recusal
from certification.services.review import panel_consolidate, review_conclude, review_record_step
from certification.services.sheets import self_check_sheet, sheet_record, sheet_submit
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"
RARE = "𠮷龘叕"
LONG_NAME = "湖北省某某市某某区人民政府办公室机关档案室与信息化管理中心联合办公室" * 2 + RARE
PEOPLE = ("applicant", "staff", "prechecker", "approver", "officer")


def local(*args) -> dt.datetime:
    """An aware datetime on the Asia/Shanghai clock: ``local(2026, 3, 1, 9, 0)``."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


def at(*args):
    """The clock stopped at that Asia/Shanghai time: ``with at(2026, 3, 1, 9, 0): ...``."""
    return time_machine.travel(local(*args), tick=False)


def pdf(name="evidence.pdf", content=PDF):
    """An uploaded PDF."""
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def xlsx_sheet(rows, header) -> io.BytesIO:
    """An .xlsx workbook as a user fills one in: the header, then the rows (read back from the start)."""
    book = Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def build_world(*, regions, bureaus):
    """A county institution (县民政局) and its people, each with one role: the applicant; the county bureau's
    staff, prechecker and approver; the province's certificate officer; four experts of the county's pool
    (users ``expert0`` to ``expert3``, the first one's name with rare characters). Returns (institution,
    people, experts)."""
    county, province = bureaus["county"], bureaus["province"]
    county.supervision_phone = "027-12345678"
    county.save()
    people = {name: UserFactory(username=name) for name in PEOPLE}
    institution = InstitutionFactory(name="县民政局", region=regions["county"], level=InstitutionLevel.COUNTY,
                                     head="张三", contact_name="李四", contact_phone="0710-1234567")
    permissions.role_grant(user=people["applicant"], role=Role.APPLICANT, obj=institution)
    permissions.role_grant(user=people["staff"], role=Role.BUREAU_STAFF, obj=county)
    permissions.role_grant(user=people["prechecker"], role=Role.PRECHECKER, obj=county)
    permissions.role_grant(user=people["approver"], role=Role.APPROVER, obj=county)
    permissions.role_grant(user=people["officer"], role=Role.CERTIFICATE_OFFICER, obj=province)
    experts = [ExpertFactory(pool=county, user=UserFactory(username=f"expert{n}"),
                             name=f"专家{n}{RARE if n == 0 else ''}",
                             term_starts_on=dt.date(2025, 1, 1), term_ends_on=dt.date(2032, 12, 31))
               for n in range(4)]
    return institution, people, experts


EDUCATION_FILE = "education-county-004.yaml"


def build_education_world(*, regions, bureaus, file=EDUCATION_FILE):
    """A shipped scheme loaded (by default the county education scheme of seeds/004); a county government,
    assessed by the city (篇5), the city's people (applicant of the county, staff, pre-checker, approver; the
    province's certificate officer) and three experts of the city's pool appointed for that scheme. Returns
    (version, county, people, experts)."""
    from certification.scheme import SCHEMES_DIR, load_scheme_file
    from certification.services.schemes import scheme_load

    path = SCHEMES_DIR / file
    version = scheme_load(spec=load_scheme_file(path), source=path.name).version
    city = bureaus["city"]
    people = {name: UserFactory(username=name) for name in PEOPLE}
    county = InstitutionFactory(name="元江县人民政府", region=regions["county"], level=InstitutionLevel.COUNTY)
    permissions.role_grant(user=people["applicant"], role=Role.APPLICANT, obj=county)
    permissions.role_grant(user=people["staff"], role=Role.BUREAU_STAFF, obj=city)
    permissions.role_grant(user=people["prechecker"], role=Role.PRECHECKER, obj=city)
    permissions.role_grant(user=people["approver"], role=Role.APPROVER, obj=city)
    permissions.role_grant(user=people["officer"], role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    experts = [ExpertFactory(pool=city, user=UserFactory(username=f"expert{n}"), name=f"督导{n}",
                             schemes=[version.scheme.code]) for n in range(3)]
    return version, county, people, experts


class _Errors(HTMLParser):
    """The errors of a page as Django renders them: ``<ul class="errorlist" id="id_<field>_error">`` beside
    a field, ``<ul class="errorlist nonfield">`` (or a page's ``<p class="error">``) above the form."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, list[str]] = {}
        self._field: str | None = None
        self._in_item = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "p" and "error" in classes:  # a page's own error paragraph, above its form
            self._field = "__all__"
            self._in_item = True
            self.found.setdefault("__all__", []).append("")
        elif tag == "ul" and "errorlist" in classes:
            ident = attrs.get("id") or ""
            self._field = "__all__" if "nonfield" in classes or not ident else \
                ident.removeprefix("id_").removesuffix("_error")
            self.found.setdefault(self._field, [])
        elif tag == "li" and self._field is not None:
            self._in_item = True
            self.found[self._field].append("")

    def handle_endtag(self, tag):
        if tag in ("ul", "p"):
            self._field = None
            self._in_item = False
        elif tag == "li":
            self._in_item = False

    def handle_data(self, data):
        if self._in_item and self._field is not None:
            self.found[self._field][-1] += data.strip()


def page_errors(response, field: str = "__all__") -> list[str]:
    """The errors a page shows for one field (beside it), or above the form (``__all__``), as the user reads
    them."""
    parser = _Errors()
    parser.feed(response.content.decode())
    return parser.found.get(field, [])


def field_error(response, field: str) -> list[str]:
    """The errors the page shows beside ``field``."""
    return page_errors(response, field)


def sign_panel(panel):
    """Every member of ``panel`` signs the recusal declaration (回避声明), as each does before seeing the case;
    returns the panel."""
    for seat in panel.memberships.select_related("expert__user"):
        panel_member_sign_recusal(actor=seat.expert.user, member=seat)
    return panel


def staff_of(bureau, **fields):
    """A new user (with these ``UserFactory`` fields) on the staff of ``bureau``."""
    user = UserFactory(**fields)
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureau)
    return user


def declared_case(*, version, institution, bureau, declared_by):
    """A second-grade promotion case of 2026 just declared by ``declared_by`` (made directly, without the
    services), its reference the next free one."""
    return Case.objects.create(
        institution=institution, scheme_version=version, kind=Kind.PROMOTION, year=2026, bureau=bureau,
        grade=Grade.objects.get(version=version, code="second"), declared_at=timezone.now(), declared_by=declared_by,
        reference=f"2026{Case.objects.count() + 1:06d}")


def make_institution(world, name):
    """Another applicant of the county, acting through the same applicant user."""
    institution, people, _experts = world
    other = InstitutionFactory(name=name, region=institution.region, level=InstitutionLevel.COUNTY)
    permissions.role_grant(user=people["applicant"], role=Role.APPLICANT, obj=other)
    return other


def all_conditions():
    """The answers to every condition of a declaration (four met, two not applicable) and the evidence of each
    one met."""
    answers = {c: "yes" for c in ("registration", "central_management", "no_safety_incident", "electronic_records")}
    answers.update(transfer="na", public_information="na")
    evidence = {c: pdf(f"{c}.pdf") for c, a in answers.items() if a == "yes"}
    return answers, evidence


def run_case(world, *, institution=None, grade="second", kind=Kind.PROMOTION, start=(2026, 1, 15, 9, 0),
             approve=True):
    """Take one declaration through every stage up to (and with ``approve``, through) approval. The self-check
    deducts two points on the first item with a reason; one member deducts three with another reason."""
    default, people, experts = world
    institution = institution or default
    year = start[0]
    with at(*start):
        answers, evidence = all_conditions()
        case = case_declare(scheme="archives",
                            actor=people["applicant"], institution=institution, grade=grade, kind=kind,
                            answers=answers, evidence=evidence)
        case_plan_include(actor=people["staff"], case=case)
        sheet = self_check_sheet(actor=people["applicant"], case=case)
        items = [i for _c, i in case.scheme_version.specification().rubrics["standard"].items()]
        for n, item in enumerate(items):
            entry = ItemEntry(deductions=(Deduction(points=2, reason="自查：制度未上墙"),)) if n == 0 else ItemEntry()
            sheet_record(actor=people["applicant"], sheet=sheet, item_code=item.code, entry=entry)
        sheet_submit(actor=people["applicant"], sheet=sheet)
        case_attach_report(actor=people["applicant"], case=case, upload=pdf("汇报材料.pdf"))
        case_acknowledge_integrity(actor=people["applicant"], case=case)
        case_designate_prechecker(actor=people["staff"], case=case, prechecker=people["prechecker"])
        case_request_acceptance(actor=people["applicant"], case=case)
        case_precheck_decide(actor=people["prechecker"], case=case, passed=True, summary="材料齐全，符合要求",
                             opinions={items[1].code: "归档范围表需细化"})
    with at(year, 3, 1, 10, 0):
        notice = notice_publish(actor=people["staff"], bureau=case.bureau, cases=[case], title=f"{year}年等级考评公示")
    with at(year, 3, 9, 0, 0):
        notice_close(notice=notice)
        panel = panel_form(actor=people["staff"], case=case, members=experts[:3], chair=experts[0])
        sign_panel(panel)  # each member signs the recusal declaration before seeing the case
        for m, member in enumerate(panel.members.order_by("pk")):
            member_sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=member)
            for item in items:
                entry = (ItemEntry(deductions=(Deduction(points=3, reason="评审：档案室温湿度记录不全"),))
                         if item is items[0] and m == 0 else ItemEntry())
                sheet_record(actor=member.user, sheet=member_sheet, item_code=item.code, entry=entry)
            sheet_submit(actor=member.user, sheet=member_sheet)
        chair = experts[0].user
        panel_consolidate(actor=chair, case=case)
        for step in OnsiteStep.values:
            review_record_step(actor=chair, case=case, step=step)
        review_conclude(actor=chair, case=case, conclusion="达到标准")
    if approve:
        with at(year, 3, 20, 10, 0):
            case_approve(actor=people["approver"], case=case, approved=True, reasons="依据齐全，同意")
    case.refresh_from_db()
    return case


def approved_cases(n, *, version, regions, bureaus):
    """``n`` second-grade cases of county institutions, approved and waiting for their certificate (made
    directly, without the stages before: for the batch tests, where only the issuing is under test)."""
    declarant = UserFactory()
    grade = Grade.objects.get(version=version, code="second")
    cases = []
    for i in range(n):
        institution = InstitutionFactory(name=f"县直单位{i}", region=regions["county"], level=InstitutionLevel.COUNTY)
        cases.append(Case.objects.create(
            institution=institution, scheme_version=version, kind=Kind.PROMOTION, year=2026,
            bureau=bureaus["county"], grade=grade, declared_at=timezone.now(), declared_by=declarant,
            reference=f"2026{i + 1:06d}", stage=Stage.CERTIFICATE))
    return cases
