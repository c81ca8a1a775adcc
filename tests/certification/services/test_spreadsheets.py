"""Spreadsheet import (every row checked, bad cells reported by row and column, all or nothing or only the good
rows) and the .xlsx exports."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Expert, Grade, Institution, ScoreSheet, SheetKind, Stage
from certification.scheme import shipped_scheme
from certification.services.spreadsheets import (
    experts_import,
    import_template,
    institutions_import,
    score_ranking,
)
from tests.factories import InstitutionFactory, UserFactory, make_uscc
from tests.worlds import xlsx_sheet

ARCHIVES = shipped_scheme("archives")

pytestmark = pytest.mark.django_db
HEADER = ["名称", "统一社会信用代码", "行政级别", "区划代码", "是否指导系统", "上级机关信用代码"]


def xlsx(rows, header=HEADER) -> io.BytesIO:
    return xlsx_sheet(rows, header)


@pytest.fixture
def staff(bureaus):
    user = UserFactory(username="staff")
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    return user


GOOD = [["市档案馆", make_uscc(501), "市级", "420100", "是", ""],
        ["县民政局", make_uscc(502), "county", 420102, "否", make_uscc(501)]]
BROKEN = [
    ["市档案馆", make_uscc(501), "市级", "420100", "是", ""],  # row 2: good
    ["", "12345", "县级", "420102", "否", ""],  # row 3: no name, a short code
    ["县财政局", make_uscc(503), "部级", "999999", "也许", ""],  # row 4: level, region, yes/no
    ["县教育局", make_uscc(501), "county", "420102", "", make_uscc(999)],  # row 5: duplicate code, unknown parent
    ["乡政府", make_uscc(504), "township", "420100", "", ""],  # row 6: region at the wrong level
    ["省厅", make_uscc(505), "provincial", "420000", "", ""],  # row 7: not under the city bureau
]


def test_a_good_sheet_is_imported_with_parents_and_audited(staff, bureaus, regions):
    with translation.override("zh-hans"):
        report = institutions_import(actor=staff, bureau=bureaus["city"], content=xlsx(GOOD), source="a.xlsx")
    child = Institution.objects.get(name="县民政局")
    assert (report.rows, report.imported, report.errors) == (2, 2, [])
    assert (child.level, child.region, child.parent.name) == (InstitutionLevel.COUNTY, regions["county"], "市档案馆")
    assert AuditEntry.objects.filter(action="institution.import").count() == 2


def test_a_broken_sheet_is_reported_by_row_and_column_in_chinese_and_nothing_is_imported(staff, bureaus):
    with translation.override("zh-hans"):
        report = institutions_import(actor=staff, bureau=bureaus["city"], content=xlsx(BROKEN))
    assert report.imported == 0
    assert Institution.objects.count() == 0
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (3, "A", "必须填写此单元格。"),
        (3, "B", "统一社会信用代码应为18位，当前为5位。"),
        (4, "C", "“部级”不是行政级别。"),
        (4, "D", "没有区划代码为999999的地区。"),
        (4, "E", "请填写“是”或“否”。"),
        (5, "B", "该代码与第2行重复。"),
        (5, "F", f"没有统一社会信用代码为{make_uscc(999)}的机关（已存储的或本表中无误的行均没有）。"),
        (6, "D", "该级别的机关应位于乡（镇）级行政区域。"),
        (7, "D", "地区省不在市档案局辖区内。"),
    ]
    assert report.bad_rows == [3, 4, 5, 6, 7]


def test_the_report_speaks_english_to_an_english_user(staff, bureaus):
    with translation.override("en"):
        report = institutions_import(actor=staff, bureau=bureaus["city"], content=xlsx(BROKEN))
    assert (report.errors[0].header, report.errors[0].message) == ("Name", "This cell must be filled in.")


def test_only_the_good_rows_are_imported_by_choice_and_the_others_reported(staff, bureaus):
    report = institutions_import(actor=staff, bureau=bureaus["city"], content=xlsx(BROKEN), good_rows_only=True)
    assert (report.imported, report.bad_rows) == (1, [3, 4, 5, 6, 7])
    assert list(Institution.objects.values_list("name", flat=True)) == ["市档案馆"]


def test_a_missing_column_is_reported_on_the_header_row(staff, bureaus):
    with translation.override("zh-hans"):
        report = institutions_import(actor=staff, bureau=bureaus["city"],
                                     content=xlsx([["甲"]], header=["名称"]))
    assert [(e.row, e.message) for e in report.errors][:1] == [(1, "缺少“统一社会信用代码”列。")]
    assert Institution.objects.count() == 0


def test_a_file_that_is_not_a_workbook_is_refused(staff, bureaus):
    with pytest.raises(RuleViolation) as refused:
        institutions_import(actor=staff, bureau=bureaus["city"], content=io.BytesIO(b"name,uscc\n"))
    assert refused.value.codes == ["import.not_xlsx"]


def test_only_the_bureaus_staff_may_import(bureaus):
    other = UserFactory()
    permissions.role_grant(user=other, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    with pytest.raises(RuleViolation):
        institutions_import(actor=other, bureau=bureaus["city"], content=xlsx(GOOD))
    assert Institution.objects.count() == 0


def test_experts_are_imported_into_the_pool_with_their_user(staff, bureaus, regions):
    employer = InstitutionFactory(region=regions["city"], level="city")
    user = UserFactory(username="zhuanjia")
    header = ["姓名", "聘任起始日期", "聘任终止日期", "工作单位信用代码", "评审级别", "可评审等级", "用户名"]
    rows = [["王五", dt.date(2026, 1, 1), "2028-12-31", employer.uscc, "市级", "second, first", "zhuanjia"],
            ["赵六", "2026-01-01", "2025-12-31", make_uscc(998), "", "", "nobody"]]
    with translation.override("zh-hans"):
        report = experts_import(actor=staff, bureau=bureaus["city"], content=xlsx(rows, header=header),
                                good_rows_only=True)
    expert = Expert.objects.get()
    assert (expert.name, expert.pool, expert.employer, expert.user, expert.grades, expert.reviewer_level) == (
        "王五", bureaus["city"], employer, user, ["second", "first"], "city")
    assert permissions.has_role(user, Role.EXPERT)
    assert [(e.row, e.column) for e in report.errors] == [(3, "C"), (3, "D"), (3, "G")]


def test_the_template_has_the_columns_of_the_import(staff, bureaus):
    with translation.override("zh-hans"):
        book = load_workbook(io.BytesIO(import_template("institutions")))
    header = [c.value for c in book.worksheets[0][1]]
    assert header[:6] == HEADER
    with translation.override("zh-hans"):
        report = institutions_import(actor=staff, bureau=bureaus["city"], content=xlsx(GOOD, header=header))
    assert report.imported == 2


def test_the_import_page_offers_the_template_and_reports_a_broken_sheet(client, staff, bureaus):
    client.force_login(staff)
    assert client.get(reverse("spreadsheet_template", args=["institutions"]))["Content-Type"].startswith(
        "application/vnd.openxmlformats")
    upload = xlsx(BROKEN)
    upload.name = "broken.xlsx"
    response = client.post(reverse("spreadsheets"), {"kind": "institutions", "bureau": bureaus["city"].pk,
                                                      "good_rows_only": "none", "file": upload})
    page = response.content.decode()
    assert response.status_code == 400
    assert "没有区划代码为999999的地区。" in page and "未导入任何数据" in page
    assert Institution.objects.count() == 0


def test_the_import_page_is_not_for_a_user_without_a_bureau(client, bureaus):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("spreadsheet_template", args=["institutions"])).status_code == 404
    assert client.post(reverse("spreadsheets"), {"kind": "institutions"}).status_code == 404


def test_the_command_imports_all_or_nothing(tmp_path, staff, bureaus):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(xlsx(BROKEN).getvalue())
    with pytest.raises(CommandError):
        call_command("import_xlsx", "institutions", str(path), bureau="420100", user="staff")
    assert Institution.objects.count() == 0
    call_command("import_xlsx", "institutions", str(path), bureau="420100", user="staff", good_rows_only=True)
    assert Institution.objects.count() == 1


@pytest.fixture
def scored(archives_version, regions, bureaus):
    now = timezone.now()
    cases = []
    for n, (panel, own) in enumerate([("88.50", "90"), ("92.00", "95"), ("88.50", None), (None, "99")]):
        case = Case.objects.create(
            institution=InstitutionFactory(name=f"机关{n}", region=regions["city"], level="city"),
            scheme_version=archives_version, kind=Kind.PROMOTION, year=2026, bureau=bureaus["city"],
            grade=Grade.objects.get(version=archives_version, code="second"), declared_at=now,
            declared_by=UserFactory(), reference=f"2026-{n}", stage=Stage.APPROVAL)
        for kind, total in ((SheetKind.PANEL, panel), (SheetKind.SELF, own)):
            if total:
                ScoreSheet.objects.create(case=case, kind=kind, submitted_at=now, total=Decimal(total))
        cases.append(case)
    return cases


def test_the_ranking_puts_the_highest_panel_score_first_and_ties_share_a_rank(scored):
    rows = score_ranking(Case.objects.all())
    assert [(r.rank, r.case.reference, r.panel_total, r.self_total) for r in rows] == [
        (1, "2026-1", Decimal("92.00"), Decimal("95.00")),
        (2, "2026-0", Decimal("88.50"), Decimal("90.00")),
        (2, "2026-2", Decimal("88.50"), None),
    ]


def test_the_exports_hold_only_the_users_cases(client, scored, staff, archives_version, regions):
    client.force_login(staff)
    ranking = load_workbook(io.BytesIO(client.get(reverse("export_ranking"), {"year": 2026}).content)).active
    cases = load_workbook(io.BytesIO(client.get(reverse("export_cases")).content)).active
    assert [row[1] for row in ranking.iter_rows(min_row=2, values_only=True)] == ["2026-1", "2026-0", "2026-2"]
    assert sorted(row[0] for row in cases.iter_rows(min_row=2, values_only=True)) == [
        "2026-0", "2026-1", "2026-2", "2026-3"]
    stranger = UserFactory()
    client.force_login(stranger)
    empty = load_workbook(io.BytesIO(client.get(reverse("export_cases")).content)).active
    assert empty.max_row == 1


def test_the_annual_summary_export_is_the_documents_summary(client, staff, bureaus, archives_version):
    """One annual summary: the spreadsheet page exports the same workbook the documents print."""
    from certification import documents

    client.force_login(staff)
    exported = load_workbook(io.BytesIO(client.get(reverse("export_annual_summary"), {
        "year": 2026, "bureau": bureaus["city"].pk, "scheme": "archives"}).content)).active
    printed = load_workbook(io.BytesIO(documents.approvals_summary_xlsx(bureaus["city"], 2026, scheme=ARCHIVES))).active
    assert [list(r) for r in exported.iter_rows(values_only=True)] == [
        list(r) for r in printed.iter_rows(values_only=True)]
    assert exported["A1"].value.endswith("审批情况汇总表")


def test_the_annual_summary_of_another_bureau_answers_404(client, staff, bureaus, archives_version):
    client.force_login(staff)
    city = {"year": 2026, "bureau": bureaus["city"].pk}
    assert client.get(reverse("export_annual_summary"), {**city, "scheme": "archives"}).status_code == 200
    # a summary is a scheme's: none named, or one the bureau does not run, is not found
    assert client.get(reverse("export_annual_summary"), city).status_code == 404
    assert client.get(reverse("export_annual_summary"), {**city, "scheme": "yueyang-office"}).status_code == 404
    assert client.get(reverse("export_annual_summary"),
                      {"year": 2026, "bureau": bureaus["province"].pk, "scheme": "archives"}).status_code == 404


def test_the_annual_summary_export_offers_only_the_schemes_the_users_bureaus_run(client, staff, bureaus,
                                                                                 archives_version):
    from certification.scheme import shipped_scheme, shipped_scheme_file
    from certification.services.schemes import scheme_load

    scheme_load(spec=shipped_scheme("education-county"), source=shipped_scheme_file("education-county").name)
    client.force_login(staff)
    assert 'value="education-county"' in client.get(reverse("spreadsheets")).content.decode()  # names none: all
    bureaus["city"].schemes = ["archives"]
    bureaus["city"].save()
    page = client.get(reverse("spreadsheets")).content.decode()
    assert 'name="scheme"' in page and 'value="archives"' in page and 'value="education-county"' not in page
