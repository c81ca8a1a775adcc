"""The certificate PDF (证书): its text, its fonts, its QR code, and the URL fetcher that keeps user text
from making WeasyPrint read files or reach the network."""

import datetime as dt
import io
import logging
import re

import pytest
from django.test import override_settings
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from certification import documents
from certification.enums import Kind
from certification.scheme import shipped_scheme
from tests.factories import CertificateFactory, InstitutionFactory

ARCHIVES = shipped_scheme("archives")

RARE = "𠮷龘叕"


def pdf_text(pdf: bytes) -> str:
    """All the text of a PDF, with whitespace removed (letter-spacing splits the grade into 省 二 级)."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def drawn_glyphs(pdf: bytes) -> dict[str, bool]:
    """For every character the PDF's fonts map (their ToUnicode CMaps), whether the embedded font program
    has an outline for its glyph.

    WeasyPrint writes a ToUnicode entry even for a character no font had: it then gives it a glyph id past
    the end of the font (``Font.get_unused_glyph_id``), so extracted text looks right while the page shows
    nothing or a box. Looking the glyph up in the embedded font is what tells the two apart."""
    reader = PdfReader(io.BytesIO(pdf))
    found: dict[str, bool] = {}
    for page in reader.pages:
        for font_ref in page["/Resources"]["/Font"].values():
            font = font_ref.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            program = next(descriptor[key].get_object().get_data()
                           for key in ("/FontFile3", "/FontFile2", "/FontFile") if key in descriptor)
            ttfont = TTFont(io.BytesIO(program))
            order = ttfont.getGlyphOrder()
            glyphs = ttfont.getGlyphSet()
            cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
            for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
                for gid_hex, text_hex in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                    text = bytes.fromhex(text_hex).decode("utf-16-be")
                    gid = int(gid_hex, 16)
                    drawn = False
                    if 0 < gid < len(order):
                        pen = BoundsPen(glyphs)
                        glyphs[order[gid]].draw(pen)
                        drawn = pen.bounds is not None
                    found[text] = found.get(text, False) or drawn
    return found


@pytest.fixture
def certificate(archives_version, bureaus, regions):
    institution = InstitutionFactory(name="武汉市江岸区人民政府办公室", region=regions["province"])
    return CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="second",
                              issued_by=bureaus["province"], approved_by=bureaus["province"],
                              issued_on=dt.date(2026, 5, 20), valid_until=dt.date(2029, 5, 19))


@pytest.mark.django_db
def test_certificate_pdf_shows_holder_grade_number_and_validity(certificate):
    pdf = documents.certificate_pdf(certificate)

    assert pdf.startswith(b"%PDF-")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # landscape
    text = pdf_text(pdf)
    assert "湖北省机关档案工作目标管理等级证书" in text
    assert "复查" not in text
    assert "武汉市江岸区人民政府办公室" in text
    assert "省二级" in text
    assert "经考评，达到湖北省机关档案工作目标管理省二级标准，特发此证。" in text
    assert certificate.number in text
    assert "有效期至：2029年5月19日" in text
    assert certificate.issued_by.name in text
    assert "2026年5月20日" in text


@pytest.mark.django_db
def test_recheck_certificate_says_so(certificate):
    certificate.kind = Kind.RECHECK

    assert "湖北省机关档案工作目标管理等级复查合格证书" in pdf_text(documents.certificate_pdf(certificate))


@pytest.mark.django_db
def test_long_names_and_rare_characters_are_drawn(certificate):
    name = "湖北省某某市某某区人民政府办公室机关档案室与信息化管理中心联合办公室" * 2 + RARE
    certificate.institution.name = name

    pdf = documents.certificate_pdf(certificate)

    assert name in pdf_text(pdf)
    drawn = drawn_glyphs(pdf)
    for char in RARE + "湖证":
        assert drawn.get(char), f"{char} has no outline in the embedded fonts"


def test_the_glyph_check_sees_a_missing_glyph():
    # U+0378 is unassigned: no installed font has it, so WeasyPrint maps it past the end of a font.
    pdf = documents.render_pdf("documents/certificate.html", {
        **documents.certificate_context(documents.sample_certificate(ARCHIVES)), "holder": "甲\u0378乙"})

    drawn = drawn_glyphs(pdf)
    assert drawn["甲"]
    assert "\u0378" in drawn and not drawn["\u0378"]


@pytest.mark.django_db
def test_user_markup_is_escaped_and_nothing_is_fetched(certificate, monkeypatch, caplog):
    certificate.institution.name = ('<img src="file:///etc/passwd"><link rel="stylesheet" '
                                    'href="http://example.org/x.css">某单位')
    fetched = []
    original = documents.url_fetcher
    monkeypatch.setattr(documents, "url_fetcher", lambda url, **kw: fetched.append(url) or original(url, **kw))

    html = documents.certificate_html(certificate)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        text = pdf_text(documents.certificate_pdf(certificate))

    assert '&lt;img src=&quot;file:///etc/passwd&quot;&gt;' in html
    assert "<img src=\"file:" not in html and "<link" not in html
    assert 'src="file:///etc/passwd"' in text and "http://example.org/x.css" in text
    assert fetched and all(url.startswith("data:") for url in fetched)  # the QR code only
    assert not [r for r in caplog.records if "example.org" in r.getMessage() or "passwd" in r.getMessage()]


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "http://example.org/",
    "https://example.org/x.css",
    "ftp://example.org/x",
    "../../etc/passwd",
    "/etc/passwd",
    "docstatic://static/../../etc/passwd",
    "docstatic://static/%2e%2e/%2e%2e/etc/passwd",
    "docstatic://static//etc/passwd",
    "docstatic://elsewhere/admin/css/base.css",
    "docstatic://static/no/such/file.css",
])
def test_url_fetcher_refuses_anything_but_static_files_and_data(url):
    with pytest.raises(ValueError):
        documents.url_fetcher(url)


def test_url_fetcher_serves_static_files_and_data_urls():
    static = documents.url_fetcher("docstatic://static/admin/css/base.css")
    assert static.content_type == "text/css" and static.read()
    data = documents.url_fetcher("data:text/plain;base64,5qGj5qGI")
    assert data.content_type == "text/plain" and data.read().decode() == "档案"


@pytest.mark.django_db
@override_settings(CERTIFICATION_PUBLIC_BASE_URL="https://dangan.example.gov.cn/")
def test_qr_code_carries_the_verification_url(certificate):
    url = "https://dangan.example.gov.cn/verify/" + certificate.verification_token

    context = documents.certificate_context(certificate)
    html = documents.certificate_html(certificate)

    assert context["verification_url"] == url
    assert context["qr"].startswith("data:image/svg+xml")
    assert context["qr"] == documents.qr_svg_data_uri(url)
    assert f'alt="{url}"' in html
    assert url in pdf_text(documents.certificate_pdf(certificate))


def test_fonts_are_subset_by_harfbuzz():
    """Without libharfbuzz-subset WeasyPrint falls back to fontTools: 4-5 s a CJK font (see render_pdf)."""
    assert documents.font_subsetter() == "harfbuzz"
