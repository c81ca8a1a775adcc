"""Every document of a case as PDF, read back: names, grade, dates, numbers; rare characters drawn; the
approval basis, the confirmation letter and the certificate frozen with their HTML's SHA-256 in the transaction
that issues them, their PDFs drawn afterwards by the task (called here as the worker would; a real worker in
test_documents_worker.py)."""

import datetime as dt
import hashlib
import io
from pathlib import Path
from unittest import mock

import pytest
from django.db import transaction
from openpyxl import load_workbook
from pypdf import PdfReader

from certification import documents
from certification.enums import Kind
from certification.models import AuditEntry, Case, IssuedDocument, Stage
from certification.scheme import shipped_scheme
from certification.services.audit import audit_verify
from certification.services.cases import case_issue_certificate
from certification.services.documents import (
    DocumentIntegrityError,
    content_hash,
    document_freeze,
    document_pdf,
)
from certification.tasks import document_draw
from tests.certification.test_documents import drawn_glyphs, pdf_text
from tests.factories import CertificateFactory
from tests.worlds import LONG_NAME, RARE, at, make_institution, run_case

ARCHIVES = shipped_scheme("archives")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

LIVE_KINDS = [k for k in documents.CASE_DOCUMENTS if k != "confirmation_letter"]


def frozen(case, kind):
    """The case's frozen document, its PDF drawn by the task's function (as the worker would)."""
    document = IssuedDocument.objects.get(case=case, kind=kind, certificate__isnull=True)
    document_draw(document_id=document.pk)
    document.refresh_from_db()
    return document


def test_approval_freezes_the_documents_data_and_draws_no_pdf_in_its_transaction(world):
    with mock.patch.object(documents, "html_to_pdf", side_effect=AssertionError("a PDF drawn in the approval")):
        case = run_case(world)

    stored = list(IssuedDocument.objects.filter(case=case))
    assert {d.kind for d in stored} == {*documents.BASIS_DOCUMENTS, "confirmation_letter"}
    for document in stored:
        assert (document.file.name, document.sha256, document.size, document.drawn_at) == ("", "", None, None)
        assert document.content_sha256 == hashlib.sha256(document.html.encode()).hexdigest()
    issued = {e.after["document"]: e.after for e in AuditEntry.objects.filter(action="document.issue")}
    assert {pk: after["content_sha256"] for pk, after in issued.items()} == {d.pk: d.content_sha256 for d in stored}


def test_the_task_draws_each_pdf_from_the_frozen_html_with_its_hash(world):
    case = run_case(world)

    results = [document_draw(document_id=d.pk) for d in IssuedDocument.objects.filter(case=case)]

    assert len(results) == 6
    for document in IssuedDocument.objects.filter(case=case):
        stored = document.file.read()
        assert hashlib.sha256(stored).hexdigest() == document.sha256 and document.drawn_at is not None
        assert (document.size, stored[:5]) == (len(stored), b"%PDF-")
    assert "县民政局" in pdf_text(frozen(case, "application_form").file.read())
    drawn = {e.target_id: e.after for e in AuditEntry.objects.filter(action="document.draw")}
    assert {int(pk): after["sha256"] for pk, after in drawn.items()} == dict(
        IssuedDocument.objects.filter(case=case).values_list("pk", "sha256"))
    assert AuditEntry.objects.filter(action="document.issue").count() == 6
    assert audit_verify().ok


def test_the_task_run_twice_stores_one_file(world, media):
    case = run_case(world)
    letter = IssuedDocument.objects.get(case=case, kind="confirmation_letter")

    first = document_draw(document_id=letter.pk)
    second = document_draw(document_id=letter.pk)

    letter.refresh_from_db()
    assert first == second == letter.sha256
    assert [p.name for p in Path(media).rglob("confirmation_letter-*.pdf")] == [Path(letter.file.name).name]
    assert AuditEntry.objects.filter(action="document.draw", target_id=str(letter.pk)).count() == 1


def test_a_frozen_html_changed_afterwards_is_refused_by_the_task(world, media):
    case = run_case(world)
    letter = IssuedDocument.objects.get(case=case, kind="confirmation_letter")
    IssuedDocument.objects.filter(pk=letter.pk).update(html=letter.html + "<p>此函作废</p>")

    assert document_draw(document_id=letter.pk) == "refused"

    letter.refresh_from_db()
    assert (letter.file.name, letter.drawn_at) == ("", None)
    assert list(Path(media, "documents").rglob("*.pdf")) == []
    with pytest.raises(DocumentIntegrityError):
        document_pdf(letter)
    assert content_hash(letter.html) != letter.content_sha256


def test_the_application_form_shows_the_unit_and_the_three_opinions(world):
    case = run_case(world)

    text = pdf_text(frozen(case, "application_form").file.read())

    assert "湖北省机关档案工作目标管理等级考评（复查）申报审批表" in text
    for expected in ("县民政局", case.institution.uscc, "张三", "李四", "初次", "省二级",
                     "审查意见", "材料齐全，符合要求", "考核意见", "达到标准", "评审总分：99.00分",
                     "审批意见", "同意确认为省二级。依据齐全，同意", "2026年3月20日", "2026年1月15日"):
        assert expected in text, expected
    assert len(PdfReader(frozen(case, "application_form").file.open("rb")).pages) == 1  # one sheet, as on paper


def test_the_assessment_form_puts_the_self_score_beside_the_panels_with_the_reasons(world):
    case = run_case(world)

    text = pdf_text(frozen(case, "assessment_form").file.read())

    assert "等级考评表（评审评分表）" in text
    assert "6.004.005.00" in text  # item 1: maximum, self-score, panel score
    assert "评审：档案室温湿度记录不全" in text
    assert "合计100.0098.0099.00" in text
    self_text = pdf_text(documents.html_to_pdf(documents.case_document_render("self_check_form", case)[1]))
    assert "自查：制度未上墙" in self_text and "6.004.00" in self_text


def test_the_confirmation_letter_has_its_number_grade_and_date_in_the_second_grade_model(world):
    case = run_case(world)
    letter = frozen(case, "confirmation_letter")

    text = pdf_text(letter.file.read())

    assert letter.number == f"{case.bureau.name}函〔2026〕1号"
    assert letter.template == "schemes/archives/confirmation_letter_second.html"
    assert letter.number in text
    assert "关于确认县民政局档案工作达到湖北省机关档案工作目标管理省二级的函" in text
    assert "评审总分99.00分" in text and "2026年3月20日" in text
    assert "奖励政策" not in text  # the special/first model's paragraph (第十四条)


def test_letters_are_numbered_without_gaps_per_bureau_and_the_first_grade_has_its_own_model(world, archives_version):
    first = run_case(world)
    assert frozen(first, "confirmation_letter").number.endswith("函〔2026〕1号")
    other = make_institution(world, "县财政局")
    second = run_case(world, institution=other)
    Case.objects.filter(pk=second.pk).update(grade=archives_version.grades.get(code="first"))
    second.refresh_from_db()

    assert frozen(second, "confirmation_letter").number.endswith("函〔2026〕2号")
    _template, html, _context = documents.case_document_render("confirmation_letter", second, number="X")
    assert documents.case_document_template("confirmation_letter", second) == \
        "schemes/archives/confirmation_letter_first.html"
    assert "奖励政策" in pdf_text(documents.html_to_pdf(html))


def test_a_template_change_later_never_alters_an_issued_document(world, settings, tmp_path):
    case = run_case(world)
    letter = frozen(case, "confirmation_letter")
    before = letter.file.read()
    changed = tmp_path / "templates" / "schemes" / "archives"
    changed.mkdir(parents=True)
    (changed / "confirmation_letter_second.html").write_text("<p>改过的模板</p>", encoding="utf-8")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path / "templates", *settings.TEMPLATES[0]["DIRS"]]}]

    assert "改过的模板" in documents.case_document_render("confirmation_letter", case)[1]
    with transaction.atomic():
        again = document_freeze(actor=None, case=case, kind="confirmation_letter")
    assert again.pk == letter.pk
    assert again.file.read() == before and again.sha256 == hashlib.sha256(before).hexdigest()
    assert "改过的模板" not in pdf_text(before) and "改过的模板" not in again.html


def test_freezing_twice_returns_the_stored_document(world):
    case = run_case(world)
    stored = frozen(case, "application_form")

    with transaction.atomic():
        again = document_freeze(actor=None, case=case, kind="application_form")

    assert again.pk == stored.pk
    assert IssuedDocument.objects.filter(case=case, kind="application_form").count() == 1


def test_the_certificate_is_frozen_when_issued_and_drawn_by_the_task_naming_the_case(world, django_capture_on_commit_callbacks):
    _institution, people, _experts = world
    case = run_case(world)

    with at(2026, 4, 1, 9, 0), django_capture_on_commit_callbacks(execute=True):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    issued = IssuedDocument.objects.get(kind="certificate", certificate=certificate)
    assert (issued.file.name, issued.content_sha256) == ("", content_hash(issued.html))

    document_draw(document_id=issued.pk)

    document = IssuedDocument.objects.get(kind="certificate", certificate=certificate)
    stored = document.file.read()
    text = pdf_text(stored)
    assert (document.case, document.number) == (case, certificate.number)
    assert certificate.number in text and "县民政局" in text and "有效期至：2029年3月31日" in text
    assert hashlib.sha256(stored).hexdigest() == document.sha256


def test_the_notice_precheck_roster_and_integrity_notice_carry_their_facts(world):
    case = run_case(world)

    def text(kind):
        return pdf_text(documents.html_to_pdf(documents.case_document_render(kind, case)[1]))

    notice = text("notice_result")
    assert "2026年等级考评公示" in notice and "县民政局" in notice and "公示期间未收到异议" in notice
    assert "2026年3月1日" in notice
    precheck = text("precheck_opinion")
    assert "第1轮预检" in precheck and "归档范围表需细化" in precheck and "材料齐全，符合要求" in precheck
    roster = text("panel_roster")
    assert f"专家0{RARE}（组长）" in roster and "专家1" in roster and "回避声明" in roster
    integrity = text("integrity_notice")
    assert "廉政告知书" in integrity and "027-12345678" in integrity and "不收取任何费用" in integrity


@pytest.mark.parametrize("kind", LIVE_KINDS + ["confirmation_letter"])
def test_every_template_draws_long_names_and_rare_characters(world, kind):
    institution, _people, _experts = world
    institution.name = LONG_NAME
    institution.save()
    case = run_case(world, approve=False)
    if kind == "confirmation_letter":
        Case.objects.filter(pk=case.pk).update(stage=Stage.CERTIFICATE)
        case.refresh_from_db()

    _template, html, _context = documents.case_document_render(kind, case, **(
        {"number": "县档案局函〔2026〕1号"} if kind == "confirmation_letter" else {}))
    pdf = documents.html_to_pdf(html)

    assert LONG_NAME in pdf_text(pdf)
    drawn = drawn_glyphs(pdf)
    for char in RARE + "档案":
        assert drawn.get(char), f"{kind}: {char} has no outline in the embedded fonts"


def test_the_annual_summary_lists_the_years_approvals_as_pdf_and_xlsx(world, bureaus):
    institution, _people, _experts = world
    institution.name = "=HYPERLINK(\"http://x\")" + RARE
    institution.save()
    case = run_case(world)

    text = pdf_text(documents.approvals_summary_pdf(bureaus["city"], 2026, scheme=ARCHIVES))
    book = load_workbook(io.BytesIO(documents.approvals_summary_xlsx(bureaus["city"], 2026, scheme=ARCHIVES)))

    assert f"{bureaus['city'].name}2026年机关档案工作目标管理等级考评审批情况汇总表" in text
    assert "省二级" in text and frozen(case, "confirmation_letter").number in text and "待发证" in text
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[1] == tuple(documents.SUMMARY_HEADERS)
    assert rows[2] == (1, "=HYPERLINK(\"http://x\")" + RARE, "省二级", "晋升", "99.00", case.bureau.name,
                       frozen(case, "confirmation_letter").number, "2026年3月20日", "待发证")
    assert book.active["B3"].data_type == "s"  # the text as typed, never a formula
    assert len(rows) == 3
    assert pdf_text(documents.approvals_summary_pdf(bureaus["city"], 2025, scheme=ARCHIVES)).count("本年度无审批事项") == 1


def test_a_recheck_letter_says_the_grade_is_kept(world, archives_version, bureaus):
    institution, _people, _experts = world
    CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="second",
                       issued_by=bureaus["province"], approved_by=bureaus["county"],
                       issued_on=dt.date(2023, 6, 1), valid_until=dt.date(2026, 5, 31))
    case = run_case(world, kind=Kind.RECHECK, start=(2026, 1, 15, 9, 0))

    text = pdf_text(frozen(case, "confirmation_letter").file.read())
    assert "复查合格，保持湖北省机关档案工作目标管理省二级标准" in text
    assert "复查" in pdf_text(frozen(case, "application_form").file.read())


def test_the_approvals_six_documents_read_the_cases_records_once(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from certification.services.cases import case_approve

    case = run_case(world, approve=False)
    _institution, people, _experts = world
    with at(2026, 3, 20, 10, 0), CaptureQueriesContext(connection) as captured:
        case_approve(actor=people["approver"], case=case, approved=True, reasons="依据齐全，同意")

    reads = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    assert IssuedDocument.objects.filter(case=case).count() == 6
    assert sum('FROM "certification_review"' in sql for sql in reads) <= 2  # the service's and the documents'
    assert sum('FROM "certification_scoreline"' in sql and '"kind" = \'member\'' in sql for sql in reads) == 1
