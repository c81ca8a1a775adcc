"""Each scheme's documents print its own words (issue 15): the text they cite, its word for the assessment, the
titles of its forms, the confirmation letter's number — declared by its file, required there. A case of the
county education scheme or of the Yueyang office scheme prints none of the archives method's words; the
archives' documents print what they always printed."""

import importlib
import re

import pytest
from django.apps import apps
from django.template.loader import render_to_string

from certification import documents
from certification.models import LetterSerial, SchemeVersion
from certification.scheme import SCHEMES_DIR, load_scheme_file, parse_scheme, shipped_scheme
from certification.services.cases import case_declare
from certification.services.documents import letter_next_number
from tests.certification.test_documents import pdf_text
from tests.certification.test_scheme import MINIMAL, edited, scheme_errors
from tests.worlds import at, build_education_world, run_case

ARCHIVES = shipped_scheme("archives")

ARCHIVES_WORDS = re.compile("湖北|鄂|档案|考评")
CASE_KINDS = ("acceptance_request", "integrity_notice", "notice_result", "application_form", "self_check_form",
              "assessment_form", "panel_roster", "confirmation_letter")

REQUIRED = ("letter_number", "basis", "assessment", "work", "self_check_form_title", "assessment_form_title",
            "panel_roster_title", "notice_lead", "integrity_lead", "annual_summary_title", "annual_summary_note")


# --- the file ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", REQUIRED)
def test_a_file_without_a_documents_word_is_refused_naming_it(field):
    line = next(line for line in MINIMAL.splitlines(keepends=True) if line.startswith(f"  {field}:"))
    errors = scheme_errors(edited(MINIMAL, line, ""))
    assert len(errors) == 1
    location, message = errors[0]
    assert location.startswith(f"documents.{field} (line ") and message == "Field required"


@pytest.mark.parametrize(("number", "why"), [
    ("测函〔{year}〕号", "needs {year} and {serial}"),
    ("测函〔{serial}〕号", "needs {year} and {serial}"),
    ("{institution}函〔{year}〕{serial}号", "takes only"),
])
def test_a_letter_number_format_is_checked_like_the_certificate_number(number, why):
    errors = scheme_errors(edited(MINIMAL, '"测函〔{year}〕{serial}号"', f'"{number}"'))
    assert errors[0][0].startswith("documents.letter_number (line ") and why in errors[0][1]


def test_a_words_text_naming_an_unknown_field_is_refused():
    errors = scheme_errors(edited(MINIMAL, '"{bureau}{year}年测试汇总表"', '"{bureau}{grade}汇总表"'))
    assert errors[0][0].startswith("documents.annual_summary_title") and "takes only" in errors[0][1]


def test_a_scheme_may_name_its_own_template_for_a_document_but_only_for_a_case_document():
    spec = parse_scheme(edited(MINIMAL, "  letter_number:", "  templates: {integrity_notice: schemes/x/i.html}\n"
                                                            "  letter_number:"))
    assert spec.documents.template_for("integrity_notice", "documents/integrity_notice.html") == "schemes/x/i.html"
    assert spec.documents.template_for("panel_roster", "documents/panel_roster.html") == "documents/panel_roster.html"
    errors = scheme_errors(edited(MINIMAL, "  letter_number:", "  templates: {certificate: schemes/x/c.html}\n"
                                                               "  letter_number:"))
    assert errors[0][0].startswith("documents.templates")


def test_the_shipped_files_declare_their_own_words():
    words = {path.name: load_scheme_file(path).documents for path in sorted(SCHEMES_DIR.glob("*.yaml"))}
    assert words["archives-v2.yaml"].basis == "《湖北省机关档案工作目标管理等级考评办法》（鄂档规〔2011〕1号）"
    assert words["archives-v1.yaml"] == words["archives-v2.yaml"]
    assert [words[name].assessment for name in ("archives-v2.yaml", "education-county-004.yaml",
                                                 "yueyang-office-2013.yaml")] == ["考评", "督导评估", "考核"]
    for name in ("education-county-004.yaml", "yueyang-office-2013.yaml"):
        printed = [value for value in words[name].model_dump(mode="json").values() if isinstance(value, str)]
        assert not [text for text in printed if ARCHIVES_WORDS.search(text)], name


# --- the migration ----------------------------------------------------------------------------------------
def test_stored_versions_take_the_words_of_their_file_and_the_moved_letters(archives_version, db):
    migration = importlib.import_module("certification.migrations.0036_scheme_documents_words")
    spec = dict(archives_version.spec)
    old = {key: value for key, value in spec["documents"].items() if key not in (*REQUIRED, "templates")}
    old["letters"] = {"first": "documents/confirmation_letter_first.html",
                      "special": "documents/confirmation_letter_first.html"}
    old["letter_default"] = "documents/confirmation_letter_second.html"
    SchemeVersion.objects.filter(pk=archives_version.pk).update(spec={**spec, "documents": old})

    migration.declare_words(apps, None)

    stored = SchemeVersion.objects.get(pk=archives_version.pk)
    assert stored.specification().digest() == archives_version.specification().digest()


# --- the documents of a case of each scheme ---------------------------------------------------------------
def _texts(case) -> dict[str, str]:
    """Each case document's HTML as the case's records stand (the letter with a number of the scheme's format),
    tags removed."""
    out = {}
    for kind in CASE_KINDS:
        extra = {"number": "某局函〔2026〕1号"} if kind == "confirmation_letter" else {}
        _template, html, _context = documents.case_document_render(kind, case, **extra)
        out[kind] = re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", html.split("</style>")[-1]))
    return out


def _without(text: str, names: list[str]) -> str:
    for name in names:
        text = text.replace(name, "")
    return text


@pytest.fixture
def scheme_case(db, regions, bureaus):
    def make(file: str, code: str, grade: str = "qualified"):
        version, county, people, _experts = build_education_world(regions=regions, bureaus=bureaus, file=file)
        with at(2026, 5, 20, 9, 0):
            case = case_declare(actor=people["applicant"], institution=county, grade=grade, kind="promotion",
                                answers={}, evidence={}, scheme=code)
        assert case.scheme_version == version
        return case
    return make


@pytest.mark.parametrize(("file", "code", "words"), [
    ("education-county-004.yaml", "education-county",
     {"acceptance_request": ["根据《云南省县级人民政府教育工作督导评估办法》", "督导评估计划", "完成了教育工作自查",
                             "督导评估自评表", "县乡人民政府教育工作督导评估验收申请审批表"],
      "integrity_notice": ["在教育工作督导评估中实行廉政告知书制度", "督导评估组严格执行"],
      "notice_result": ["现将拟督导评估单位名单", "督导评估等级"],
      "application_form": ["分管教育工作领导", "督导评估组组长", "督导评估组人员名单及回避声明"],
      "self_check_form": ["督导评估自评表", "督导评估项目"],
      "assessment_form": ["督导评估表（评审评分表）", "被督导评估单位"],
      "panel_roster": ["督导评估组人员名单及回避声明"],
      "confirmation_letter": ["教育工作督导评估结果为合格"]}),
    ("yueyang-office-2013.yaml", "yueyang-office",
     {"acceptance_request": ["岳市教办通〔2013〕22号", "考核计划", "完成了办公室工作自查", "自查情况考核表"],
      "integrity_notice": ["在目标管理考核工作中实行廉政告知书制度", "考核组严格执行"],
      "notice_result": ["根据目标管理考核方案", "考核等级"],
      "application_form": ["分管办公室工作领导", "考核组组长", "考核组人员名单及回避声明"],
      "self_check_form": ["自查情况考核表", "考核项目"],
      "assessment_form": ["目标管理考核评分表", "被考核单位"],
      "panel_roster": ["考核组人员名单及回避声明"],
      "confirmation_letter": ["目标管理考核结果为合格"]}),
])
def test_a_case_prints_its_schemes_words_and_none_of_the_archives(scheme_case, bureaus, file, code, words):
    case = scheme_case(file, code)
    texts = _texts(case)
    for kind, expected in words.items():
        for text in expected:
            assert text in texts[kind], (kind, text)
    # the test world's bureaus are archives bureaus (市档案局): their names are the case's, not the scheme's words;
    # and the scheme's own rubric may speak of archives (the Yueyang office's 来文传阅及档案立卷)
    spec = case.scheme_version.specification()
    names = [b.name for b in bureaus.values()] + [item.name for rubric in spec.rubrics.values()
                                                  for _c, item in rubric.items()]
    texts = {kind: _without(text, names) for kind, text in texts.items()}
    leaked = {kind: ARCHIVES_WORDS.findall(text) for kind, text in texts.items() if ARCHIVES_WORDS.search(text)}
    assert leaked == {}
    # the PDFs say the same (read back from what WeasyPrint drew)
    for kind in ("acceptance_request", "integrity_notice"):
        _template, html, _context = documents.case_document_render(kind, case)
        drawn = pdf_text(documents.html_to_pdf(html))
        assert words[kind][0] in drawn and not ARCHIVES_WORDS.search(_without(drawn, names))
    summary = documents.approvals_summary(bureaus["city"], 2026, scheme=case.scheme_version.specification())
    html = render_to_string("documents/annual_summary.html", summary)
    assert summary["title"] == case.scheme_version.specification().documents.annual_summary_title.format(
        bureau=bureaus["city"].name, year=2026)
    assert not ARCHIVES_WORDS.search(_without(re.sub(r"<[^>]+>", "", html.split("</style>")[-1]), names))


def test_an_archives_case_prints_what_it_always_printed(world, bureaus):
    case = run_case(world)
    texts = _texts(case)
    assert ("根据《湖北省机关档案工作目标管理等级考评办法》（鄂档规〔2011〕1号）和" in texts["acceptance_request"]
            and "已填写《湖北省机关档案工作目标管理等级考评（复查）申报审批表》及自查情况考评表" in texts["acceptance_request"])
    assert "根据《湖北省机关档案工作目标管理等级考评办法》第十三条，" in texts["integrity_notice"]
    assert "在机关档案工作目标管理等级考评工作中实行廉政告知书制度" in texts["integrity_notice"]
    assert "现将拟考评机关名单及考评等级予以公示" in texts["notice_result"]
    assert "分管档案工作领导" in texts["application_form"] and "档案总数" in texts["application_form"]
    assert "评审后附考评组人员名单、等级考评表。" in texts["application_form"]
    assert "被考评单位" in texts["panel_roster"] and "考评组于" in texts["panel_roster"]
    assert "湖北省档案管理条例" not in texts["confirmation_letter"]  # the second grade's model
    assert "根据《湖北省机关档案工作目标管理等级考评办法》（鄂档规〔2011〕1号）" in texts["confirmation_letter"]
    summary = documents.approvals_summary(bureaus["city"], 2026, scheme=ARCHIVES)
    assert summary["title"] == f"{bureaus['city'].name}2026年机关档案工作目标管理等级考评审批情况汇总表"
    assert summary["note"] == "按《湖北省机关档案工作目标管理等级考评办法》第十条，市州级档案局于12月20日前报省档案局。"


def test_the_letter_number_is_the_schemes_format_in_the_bureaus_one_series(archives_version, bureaus, db):
    spec = archives_version.specification()
    other = parse_scheme(edited(MINIMAL, '"测函〔{year}〕{serial}号"', '"{bureau}测函〔{year}〕第{serial:03d}号"'))
    county = bureaus["county"]
    assert letter_next_number(bureau=county, year=2026, scheme=spec) == f"{county.name}函〔2026〕1号"
    assert letter_next_number(bureau=county, year=2026, scheme=other) == f"{county.name}测函〔2026〕第002号"
    assert LetterSerial.objects.get(bureau=county, year=2026).last == 2
