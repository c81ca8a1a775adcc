"""Day one in a province: the paper register of certificates already held, imported from .xlsx (checked cell
by cell, all or nothing, or a dry run), living as issued certificates do, and withdrawn as a whole if wrong."""

import datetime as dt
import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import translation

from certification import permissions
from certification.enums import CertificateStatus, InstitutionLevel, Kind, Role
from certification.exceptions import NotEligible, RuleViolation
from certification.models import AuditEntry, Certificate, CertificateSerial, RegisterBatch
from certification.scheme import shipped_scheme
from certification.services.certificates import certificates_lapse_due, issue_within, register_batch_withdraw
from certification.services.spreadsheets import certificates_import
from notifications.sweeps import recheck_reminders_send
from tests.factories import CertificateFactory, InstitutionFactory, UserFactory, make_uscc
from tests.worlds import PDF, at, local, xlsx_sheet

ARCHIVES = shipped_scheme("archives")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

HEADER = ["持证机关信用代码", "考评方案", "等级", "类别", "证书编号", "发证机关", "发证日期", "有效期至", "确认函文号",
          "审批机关", "扫描件"]
DAY_ONE = local(2026, 3, 2, 9, 0)


def xlsx(rows, header=HEADER) -> io.BytesIO:
    return xlsx_sheet(rows, header)


@pytest.fixture
def officer(province_officer):
    return province_officer


@pytest.fixture
def holders(archives_version, regions):
    return [InstitutionFactory(name=f"县机关{n}", uscc=make_uscc(700 + n), region=regions["county"],
                               level=InstitutionLevel.COUNTY) for n in range(4)]


def row(holder, number, issued, until, *, grade="省二级", kind="晋级", issuer="420000", approver="", scan=""):
    return [holder.uscc, "archives", grade, kind, number, issuer, issued, until, f"鄂档函〔{issued[:4]}〕1号",
            approver, scan]


def register(officer, bureaus, rows, **options):
    with at(2026, 3, 2, 9, 0), translation.override("zh-hans"):
        return certificates_import(actor=officer, bureau=bureaus["province"], content=xlsx(rows),
                                   source="register.xlsx", **options)


def test_a_good_register_is_imported_as_one_batch_keeping_its_printed_numbers(officer, bureaus, holders):
    report = register(officer, bureaus, [
        row(holders[0], "鄂档等证〔2024〕0031号", "2024-05-20", "2027-05-19", approver="420102"),
        row(holders[1], "HB-2025-7", "2025-01-10", "2028-01-09", grade="省一级", kind="复查"),
    ])
    assert (report.rows, report.imported, report.errors, report.notes) == (2, 2, [], [])
    first, second = Certificate.objects.order_by("pk")
    batch = RegisterBatch.objects.get()
    assert (first.number, first.serial, first.status, first.approved_by, first.letter_number) == (
        "鄂档等证〔2024〕0031号", None, CertificateStatus.IN_FORCE, bureaus["county"], "鄂档函〔2024〕1号")
    assert (second.grade.code, second.kind, second.approved_by) == ("first", Kind.RECHECK, bureaus["province"])
    assert (first.register_batch, batch.imported_by, report.batch) == (batch, officer, batch.pk)
    assert AuditEntry.objects.filter(action="certificate.import").count() == 2
    assert AuditEntry.objects.filter(action="register.import", target_id=str(batch.pk)).count() == 1
    # the engine's series goes on after the paper number of its own form, and takes no serial for the others
    assert CertificateSerial.objects.get(year=2024).last == 31
    assert not CertificateSerial.objects.filter(year=2025).exists()


def test_the_engine_numbers_after_the_paper_series_of_the_same_year(officer, bureaus, holders, archives_version):
    register(officer, bureaus, [row(holders[0], "鄂档等证〔2026〕0005号", "2026-01-20", "2029-01-19")])
    from django.db import transaction

    with transaction.atomic():
        issued = issue_within(actor=officer, institution=holders[1], kind=Kind.PROMOTION, approved_by=bureaus["county"],
                              grade=archives_version.grades.get(code="second"), issued_on=dt.date(2026, 3, 2))
    assert issued.number == "鄂档等证〔2026〕0006号"


def test_a_broken_register_is_reported_by_row_and_column_and_nothing_is_stored(officer, bureaus, holders,
                                                                               archives_version):
    CertificateFactory(institution=holders[3], scheme_version=archives_version, issued_by=bureaus["province"],
                       approved_by=bureaus["county"], number="鄂档等证〔2025〕0001号", year=2025, serial=1,
                       issued_on=dt.date(2025, 6, 1))
    report = register(officer, bureaus, [
        row(holders[0], "A-1", "2024-05-20", "2027-05-19"),  # row 2: good
        row(holders[1], "A-1", "2024-05-20", "2027-05-20"),  # row 3: number again, expiry off the rule
        row(holders[0], "A-2", "2025-05-20", "2028-05-19"),  # row 4: a second in force for holders[0]
        row(holders[3], "A-3", "2024-05-20", "2027-05-19"),  # row 5: holds one in force already
        [make_uscc(999), "archives", "省三级", "升级", "", "420100", "2024-13-01", "2027-05-19", "x", "", ""],
        row(holders[2], "鄂档等证〔2025〕0001号", "2025-06-01", "2028-05-31"),  # row 7: the engine's number
    ])
    assert report.imported == 0
    assert Certificate.objects.count() == 1
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (3, "E", "相同的编号已在第2行。"),
        (3, "H", "按方案规定，2024-05-20颁发的证书有效期至2027-05-19，而非2027-05-20。请更正，或注明理由后按证书所印日期接受。"),
        (4, "A", "第2行已为该持证机关登记了本方案下有效的证书。"),
        (5, "A", "县机关3已持有本方案下有效的证书鄂档等证〔2025〕0001号。"),
        (6, "A", f"没有统一社会信用代码为{make_uscc(999)}的机关。"),
        (6, "C", "方案archives没有等级“省三级”。"),
        (6, "D", "请填写“晋级”或“复查”。"),
        (6, "E", "必须填写此单元格。"),
        (6, "F", "此处只登记省档案局颁发的证书。"),
        (6, "G", "“2024-13-01”不是日期（YYYY-MM-DD）。"),
        (7, "E", "编号为鄂档等证〔2025〕0001号的证书已存储。"),
    ]


def test_an_expiry_off_the_rule_is_accepted_with_a_reason_and_noted(officer, bureaus, holders):
    report = register(officer, bureaus, [row(holders[0], "A-1", "2023-05-20", "2026-12-31")],
                      expiry_reason="2023年的证书按旧办法有效期至当年年底")
    assert (report.imported, report.errors) == (1, [])
    assert [(n.row, n.column) for n in report.notes] == [(2, "H")]
    assert "已接受：2023年的证书按旧办法有效期至当年年底" in report.notes[0].message
    assert RegisterBatch.objects.get().expiry_reason == "2023年的证书按旧办法有效期至当年年底"


def test_a_certificate_already_expired_lapses_at_import_and_the_report_says_so(officer, bureaus, holders):
    report = register(officer, bureaus, [row(holders[0], "A-1", "2022-05-20", "2025-05-19"),
                                         row(holders[0], "A-2", "2025-05-20", "2028-05-19", grade="省一级")])
    old, new = Certificate.objects.order_by("pk")
    assert (old.status, new.status) == (CertificateStatus.LAPSED, CertificateStatus.IN_FORCE)
    assert [(n.row, n.message) for n in report.notes] == [(2, "已于2025-05-19到期：证书登记为已失效。")]


def test_a_dry_run_reports_and_stores_nothing(officer, bureaus, holders):
    report = register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19")], dry_run=True)
    assert (report.dry_run, report.ready, report.imported, report.errors) == (True, 1, 0, [])
    assert (Certificate.objects.count(), RegisterBatch.objects.count()) == (0, 0)


def test_only_the_good_rows_are_registered_by_choice(officer, bureaus, holders):
    report = register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19"),
                                         row(holders[1], "A-1", "2024-05-20", "2027-05-19")], good_rows_only=True)
    assert (report.imported, report.bad_rows) == (1, [3])
    assert list(Certificate.objects.values_list("institution", flat=True)) == [holders[0].pk]


def test_only_a_certificate_officer_of_the_province_registers(bureaus, holders):
    staff = UserFactory()
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["province"])
    with pytest.raises(RuleViolation) as refused:
        register(staff, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19")])
    assert refused.value.codes == ["permission.denied"]
    assert Certificate.objects.count() == 0


def test_a_scan_comes_with_the_sheet(officer, bureaus, holders):
    scans = {"a.pdf": ContentFile(PDF, name="a.pdf"), "b.txt": ContentFile(b"hello", name="b.txt")}
    report = register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19", scan="a.pdf"),
                                         row(holders[1], "A-2", "2024-05-20", "2027-05-19", scan="b.txt"),
                                         row(holders[2], "A-3", "2024-05-20", "2027-05-19", scan="c.pdf")],
                      scans=scans, good_rows_only=True)
    assert [(e.row, e.column) for e in report.errors] == [(3, "K"), (4, "K")]
    assert Certificate.objects.get().scan.read() == PDF


# --- Living as issued certificates -------------------------------------------------------------------------


def test_the_next_sweeps_remind_and_lapse_registered_certificates_exactly_once(officer, bureaus, holders):
    holder = UserFactory()
    permissions.role_grant(user=holder, role=Role.APPLICANT, obj=holders[0])
    register(officer, bureaus, [row(holders[0], "A-1", "2023-04-01", "2026-03-31"),
                                row(holders[1], "A-2", "2023-03-03", "2026-03-02")])
    soon, today = Certificate.objects.order_by("pk")
    with at(2026, 3, 3, 0, 30):  # the window's 30-day reminder of the first, the day after the second's expiry
        assert (recheck_reminders_send(), certificates_lapse_due()) == (1, 1)
        assert (recheck_reminders_send(), certificates_lapse_due()) == (0, 0)
    assert holder.notifications.filter(kind="recheck_reminder").count() == 1
    soon.refresh_from_db(), today.refresh_from_db()
    assert (soon.status, today.status) == (CertificateStatus.IN_FORCE, CertificateStatus.LAPSED)


def _declare(institution, grade, now):
    from certification.services.cases import case_declare
    from tests.worlds import all_conditions

    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=institution)
    answers, evidence = all_conditions()
    return case_declare(scheme="archives",
                        actor=user, institution=institution, grade=grade, kind=Kind.PROMOTION, answers=answers,
                        evidence=evidence, now=now)


def test_a_promotion_from_a_registered_second_grade_is_accepted_and_one_from_nothing_refused(officer, bureaus,
                                                                                           holders):
    register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19")])
    case = _declare(holders[0], "first", DAY_ONE)
    assert case.grade.code == "first"
    with pytest.raises(NotEligible) as refused:
        _declare(holders[1], "first", DAY_ONE)
    assert "promotion.step_by_step" in refused.value.codes


def test_the_one_year_wait_counts_from_the_registered_issue_date(officer, bureaus, holders):
    register(officer, bureaus, [row(holders[0], "A-1", "2025-06-20", "2028-06-19")])
    with pytest.raises(NotEligible) as refused:
        _declare(holders[0], "first", DAY_ONE)
    assert "promotion.one_year_wait" in refused.value.codes


def test_a_registered_certificate_can_be_suspended_and_revoked(officer, bureaus, holders):
    from certification.services.certificates import certificate_transition

    register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19")])
    certificate = Certificate.objects.get()
    certificate_transition(actor=officer, certificate=certificate, transition="suspend", reason="核查")
    certificate = certificate_transition(actor=officer, certificate=certificate, transition="revoke", reason="伪造")
    assert certificate.status == CertificateStatus.REVOKED


# --- Withdrawing a batch -------------------------------------------------------------------------------------


def test_a_batch_imported_in_error_is_withdrawn_as_a_whole_and_audited(officer, bureaus, holders):
    register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19"),
                                row(holders[1], "A-2", "2022-05-20", "2025-05-19")])
    batch = RegisterBatch.objects.get()
    with at(2026, 3, 20, 9, 0):
        register_batch_withdraw(actor=officer, batch=batch, reason="导入了错误的表")
    assert set(Certificate.objects.values_list("status", flat=True)) == {CertificateStatus.REVOKED}
    assert set(Certificate.objects.values_list("status_reason", flat=True)) == {
        "导入有误：登记这些证书的导入已撤回。"}
    assert AuditEntry.objects.filter(action="certificate.register_withdrawn").count() == 2
    batch.refresh_from_db()
    assert (batch.withdrawn_by, batch.withdrawal_reason) == (officer, "导入了错误的表")
    with pytest.raises(RuleViolation) as again:
        register_batch_withdraw(actor=officer, batch=batch, reason="再撤一次")
    assert again.value.codes == ["register.already_withdrawn"]


def test_a_batch_cannot_be_withdrawn_after_the_grace_period(officer, bureaus, holders):
    register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19")])
    with at(2026, 4, 2, 9, 1), pytest.raises(RuleViolation) as refused:
        register_batch_withdraw(actor=officer, batch=RegisterBatch.objects.get(), reason="太迟")
    assert refused.value.codes == ["register.grace_over"]
    assert Certificate.objects.get().status == CertificateStatus.IN_FORCE


def test_the_command_imports_the_register_and_its_dry_run_stores_nothing(officer, bureaus, holders, tmp_path):
    path = tmp_path / "register.xlsx"
    path.write_bytes(xlsx([row(holders[0], "A-1", "2024-05-20", "2027-05-19")]).getvalue())
    out = io.StringIO()
    call_command("import_xlsx", "certificates", str(path), "--bureau", "420000", "--user", "officer", "--dry-run",
                 stdout=out)
    assert Certificate.objects.count() == 0
    assert out.getvalue().split() == ["1", "0", "dry-run", "1"]
    call_command("import_xlsx", "certificates", str(path), "--bureau", "420000", "--user", "officer",
                 stdout=io.StringIO())
    assert Certificate.objects.get().register_batch.source == "register.xlsx"


# --- Experts' history -----------------------------------------------------------------------------------------

EMPLOYMENT_HEADER = ["专家姓名", "专家电话", "曾任职单位信用代码", "任职起始日期", "任职截止日期"]


def test_past_employers_import_so_the_conflict_window_holds_from_day_one(bureaus, holders):
    from certification import rules
    from certification.models import Expert, ExpertEmployment
    from certification.selectors import panel_candidates
    from certification.services.spreadsheets import employments_import
    from tests.factories import ExpertFactory

    staff = UserFactory()
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    ExpertFactory(pool=bureaus["county"], name="王五", phone="1")
    ExpertFactory(pool=bureaus["county"], name="赵六", phone="2")
    ExpertFactory(pool=bureaus["county"], name="赵六", phone="3")
    content = xlsx([["王五", "", holders[0].uscc, "2018-01-01", "2024-06-30"],
                    ["赵六", "", holders[1].uscc, "2019-01-01", ""],  # two of that name: the phone is needed
                    ["钱七", "", holders[1].uscc, "2019-01-01", ""],
                    ["王五", "", holders[2].uscc, "2024-07-01", "2024-06-01"]], header=EMPLOYMENT_HEADER)
    with at(2026, 3, 2, 9, 0), translation.override("zh-hans"):
        report = employments_import(actor=staff, bureau=bureaus["county"], content=content, good_rows_only=True)
    assert [(e.row, e.column) for e in report.errors] == [(3, "B"), (4, "A"), (5, "E")]
    assert report.imported == 1
    wang = Expert.objects.get(name="王五")
    assert list(ExpertEmployment.objects.values_list("expert", "institution", "ended_on")) == [
        (wang.pk, holders[0].pk, dt.date(2024, 6, 30))]
    candidate = next(c for c in panel_candidates(pools=[bureaus["county"]]) if c.expert_id == wang.pk)
    refusals = rules.expert_conflicts(candidate, rules.PanelCase(institution_id=holders[0].pk, system_id=None,
                                                                 grade="second"), today=dt.date(2026, 3, 2), scheme=ARCHIVES)
    assert [r.code for r in refusals] == ["panel.recent_employment"]


def test_an_experts_schemes_import_and_bar_them_from_another_schemes_panels(bureaus, archives_version):
    from certification import rules
    from certification.models import Expert
    from certification.selectors import panel_candidates
    from certification.services.spreadsheets import EXPERT_COLUMNS, experts_import

    staff = UserFactory()
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    with translation.override("zh-hans"):
        header = [str(c.label) for c in EXPERT_COLUMNS if c.key in ("name", "term_starts_on", "term_ends_on",
                                                                     "grades", "schemes")]
        report = experts_import(actor=staff, bureau=bureaus["county"], good_rows_only=True, content=xlsx(
            [["孙八", "2025-01-01", "2028-12-31", "second,first", "archives"],
             ["周九", "2025-01-01", "2028-12-31", "", "nosuch"]], header=header))
    assert [(e.row, e.column) for e in report.errors] == [(3, "E")]
    sun = Expert.objects.get()
    assert (sun.grades, sun.schemes, sun.term_ends_on) == (["second", "first"], ["archives"], dt.date(2028, 12, 31))
    candidate = panel_candidates(pools=[bureaus["county"]])[0]
    other = rules.PanelCase(institution_id=0, system_id=None, grade="second", scheme="yueyang-office")
    assert [r.code for r in rules.expert_conflicts(candidate, other, today=dt.date(2026, 3, 2), scheme=ARCHIVES)] == ["panel.scheme"]


def test_the_special_grades_gate_counts_the_registered_grades_of_subordinate_units(officer, bureaus, regions,
                                                                                  archives_version):
    from certification.selectors import declarant_for

    head = InstitutionFactory(name="市档案局机关", uscc=make_uscc(750), region=regions["city"],
                              level=InstitutionLevel.CITY, has_system_guidance=True)
    units = [InstitutionFactory(name=f"下属{n}", uscc=make_uscc(760 + n), region=regions["county"],
                                level=InstitutionLevel.COUNTY, parent=head) for n in range(3)]
    register(officer, bureaus, [row(units[0], "A-1", "2024-05-20", "2027-05-19", grade="省一级"),
                                row(units[1], "A-2", "2024-05-20", "2027-05-19", grade="省一级"),
                                row(units[2], "A-3", "2022-05-20", "2025-05-19", grade="省一级")])  # lapsed
    declarant = declarant_for(head, version=archives_version)
    assert (declarant.subordinate_units, declarant.subordinate_units_graded) == (3, 2)


def test_a_registered_certificate_in_its_recheck_window_is_rechecked_as_an_issued_one(officer, bureaus, holders):
    from certification.services.cases import case_declare
    from tests.worlds import all_conditions

    register(officer, bureaus, [row(holders[0], "A-1", "2023-04-01", "2026-03-31")])
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=holders[0])
    answers, evidence = all_conditions()
    case = case_declare(scheme="archives",
                        actor=user, institution=holders[0], grade="second", kind=Kind.RECHECK, answers=answers,
                        evidence=evidence, now=DAY_ONE)
    held = Certificate.objects.get()
    assert (case.kind, case.renews, held.status) == (Kind.RECHECK, held, CertificateStatus.RECHECK_IN_PROGRESS)
    with pytest.raises(RuleViolation) as refused:  # the register is in use: the import is no longer withdrawn
        register_batch_withdraw(actor=officer, batch=held.register_batch, reason="错表", now=DAY_ONE)
    assert refused.value.codes == ["register.in_use"]


def test_the_dashboards_count_registered_certificates_among_the_expiries_and_list_them(officer, bureaus, holders):
    from certification.dashboard import certificates_listed, dashboard, dashboard_filters
    from tests.worlds import staff_of

    register(officer, bureaus, [row(holders[0], "A-1", "2024-05-20", "2027-05-19"),
                                row(holders[1], "A-2", "2024-06-20", "2027-06-19")])
    staff = staff_of(bureaus["province"])
    board = dashboard(dashboard_filters(staff), now=DAY_ONE)
    months = {bar.label: bar.value for bar in board.expiries}
    assert (months["2027-05"], months["2027-06"]) == (1, 1)
    # the figure links to the list behind it, which holds the registered certificate
    may = next(bar for bar in board.expiries if bar.label == "2027-05")
    params = dict(pair.split("=", 1) for pair in may.query.split("&"))
    listed, _query = certificates_listed(staff, Certificate.objects.all(), params)
    assert [c.number for c in listed] == ["A-1"]
    assert listed[0].is_registered
