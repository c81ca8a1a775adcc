"""Every document an archive receives is PDF/A-2b: its identification, XMP metadata (title, the issuing bureau as
author, the date of issue, the case's reference and the scheme), an sRGB output intent, tags, and every font
embedded — read back from the real PDFs. The case archive's manifest names each file's format."""

import datetime as dt
import io
import shutil
import subprocess
import zipfile

import pytest
from django.utils import timezone
from pypdf import PdfReader

from certification import documents
from certification.models import IssuedDocument
from certification.services.cases import case_issue_certificate
from certification.services.documents import case_archive
from certification.services.summaries import summary_submit
from certification.tasks import document_draw
from tests.worlds import at, run_case, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"


def archival_facts(pdf: bytes) -> dict:
    """What an archive's intake checks, read off the PDF."""
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = reader.xmp_metadata
    ident = {}
    for node in xmp.rdf_root.getElementsByTagNameNS(RDF, "Description"):
        if node.getAttributeNS(PDFAID, "part"):
            ident = {"part": node.getAttributeNS(PDFAID, "part"),
                     "conformance": node.getAttributeNS(PDFAID, "conformance")}
    intents = [i.get_object() for i in root["/OutputIntents"]]
    fonts, unembedded = set(), []
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descendants = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for face in descendants:
                descriptor = face["/FontDescriptor"].get_object()
                fonts.add(str(face["/BaseFont"]).split("+", 1)[-1])
                if not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    unembedded.append(str(face["/BaseFont"]))
    return {
        "identification": ident,
        "title": (xmp.dc_title or {}).get("x-default"),
        "author": xmp.dc_creator,
        "created": xmp.xmp_create_date,
        "description": (xmp.dc_description or {}).get("x-default"),
        "keywords": xmp.pdf_keywords,
        "output_intent": [(str(i["/S"]), "/DestOutputProfile" in i) for i in intents],
        "tagged": (root.get("/MarkInfo", {}).get("/Marked"), "/StructTreeRoot" in root),
        "lang": root.get("/Lang"),
        "fonts": fonts,
        "unembedded": unembedded,
    }


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None)


def _scheme(case) -> str:
    return f"{case.scheme_version.title}（第{case.scheme_version.number}版）"


@pytest.fixture
def certified(world):
    """A case approved and certified: its five basis documents and letter frozen, its certificate issued."""
    case = run_case(world)
    _institution, people, _experts = world
    with at(2026, 3, 25, 10, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    return case, certificate


def test_every_frozen_document_is_pdf_a_2b_with_its_bureau_date_reference_and_scheme(certified):
    case, certificate = certified
    stored = list(IssuedDocument.objects.filter(case=case).order_by("id"))
    assert {d.kind for d in stored} == {*documents.BASIS_DOCUMENTS, "confirmation_letter", "certificate"}

    for document in stored:
        document_draw(document_id=document.pk)
        document.refresh_from_db()
        facts = archival_facts(document.file.read())

        assert facts["identification"] == {"part": "2", "conformance": "B"}, document.kind
        assert facts["output_intent"] == [("/GTS_PDFA1", True)], document.kind
        assert facts["tagged"] == (True, True), document.kind
        assert facts["lang"] == "zh-CN", document.kind
        assert facts["unembedded"] == [], document.kind
        assert facts["fonts"] and all("CJK" in f for f in facts["fonts"]), (document.kind, facts["fonts"])
        assert facts["title"], document.kind
        assert facts["created"] == _utc(document.issued_at), document.kind
        if document.kind == "certificate":
            assert facts["author"] == [certificate.issued_by.name]
            assert facts["description"] == f"编号：{certificate.number}；考评方案：{_scheme(case)}"
            assert facts["keywords"] == f"{certificate.number}, {_scheme(case)}"
        else:
            assert facts["author"] == [case.bureau.name], document.kind
            assert facts["description"] == f"编号：{case.reference}；考评方案：{_scheme(case)}", document.kind
            assert facts["keywords"] == f"{case.reference}, {_scheme(case)}", document.kind


def test_a_document_printed_from_the_records_is_archival_too(certified):
    case, _certificate = certified
    with at(2026, 4, 2, 9, 30):
        pdf = documents.html_to_pdf(documents.case_document_render("panel_roster", case)[1],
                                    documents.case_pdf_record(case))
        now = timezone.now()

    facts = archival_facts(pdf)

    assert (facts["identification"], facts["author"], facts["created"]) == (
        {"part": "2", "conformance": "B"}, [case.bureau.name], _utc(now))


def test_the_annual_summary_sent_to_the_province_is_pdf_a_2b_by_its_bureau(world, bureaus):
    run_case(world)
    with at(2026, 12, 10, 9, 0):
        sent = summary_submit(actor=staff_of(bureaus["city"]), bureau=bureaus["city"], scheme="archives", year=2026)

    facts = archival_facts(sent.file.read())

    assert (facts["identification"], facts["author"], facts["description"]) == (
        {"part": "2", "conformance": "B"}, [bureaus["city"].name],
        "编号：2026年审批情况汇总表；考评方案：湖北省机关档案工作目标管理等级考评")
    assert facts["created"] == _utc(sent.sent_at)


def test_the_case_archives_manifest_names_each_files_format(certified):
    case, _certificate = certified
    for document in IssuedDocument.objects.filter(case=case):
        document_draw(document_id=document.pk)

    with zipfile.ZipFile(io.BytesIO(case_archive(case))) as archive:
        manifest = archive.read(f"{case.reference}/SHA256SUMS.txt").decode().splitlines()

    formats = {line.split()[1]: line.split("(", 1)[1].split(";")[0] for line in manifest}
    ours = {name: fmt for name, fmt in formats.items() if name.startswith("documents/")}
    assert ours == {f"documents/{kind}.pdf": "PDF/A-2b" for kind in (*documents.CASE_DOCUMENTS, "certificate")}
    uploads = {name: fmt for name, fmt in formats.items() if name.startswith("uploads/")}
    assert uploads and set(uploads.values()) == {"PDF 1.7"}  # the applicant's files, named for what they are
    assert formats["timeline.csv"] == "CSV, UTF-8"


def test_a_pdf_drawn_before_the_documents_were_archival_is_named_for_what_it_is():
    from weasyprint import HTML

    assert documents.pdf_format(HTML(string="<p>旧文件</p>").write_pdf()) == "PDF 1.7"


@pytest.mark.skipif(shutil.which("verapdf") is None,
                    reason="veraPDF is not installed: it is distributed from its own site and Maven, not from PyPI, "
                           "Debian or npm, the only registries this machine reaches; the PDF/A identification, "
                           "output intent, tags, metadata and fonts are checked above instead")
def test_verapdf_validates_the_certificate_as_pdf_a_2b(certified, tmp_path):  # pragma: no cover - where installed
    _case, certificate = certified
    path = tmp_path / "certificate.pdf"
    path.write_bytes(documents.certificate_pdf(certificate))
    command = [shutil.which("verapdf"), "--flavour", "2b", "--format", "text", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own file
    assert result.stdout.startswith("PASS"), result.stdout
