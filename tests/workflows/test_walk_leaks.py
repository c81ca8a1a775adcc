"""No English and no internal code reaches a judging page or an official document (the walk found
"仅适用于：special", "document.issue", user names such as "prechecker", "yes/no" on the chart)."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from certification import documents
from tests.worlds import run_case

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

# Latin words a Chinese page may show: file formats, hashes, the scheme's item codes (a, b, …), units.
ALLOWED = {"pdf", "html", "sha", "csv", "zip", "png", "jpg", "jpeg", "word", "excel", "xlsx", "qr", "tel", "url",
           "https", "http", "www", "gov", "cn", "example", "invalid", "verify", "cases", "evidence", "condition",
           "report", "documents", "a", "b", "c", "d", "e"}


class _Text(HTMLParser):
    """The text a reader sees (not scripts, styles, attributes, nor what is marked ``translate="no"``: file
    names and addresses, shown as they are)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip, self._verbatim = [], 0, []

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "title")
        if ("translate", "no") in attrs:
            self._verbatim.append(tag)

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "title") and self._skip > 0
        if self._verbatim and self._verbatim[-1] == tag:
            self._verbatim.pop()

    def handle_data(self, data):
        if not self._skip and not self._verbatim:
            self.parts.append(data)


def leaks(html: str, *, start: str = "") -> list[str]:
    if start and start in html:
        html = html[html.index(start):]
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.parts)
    words = re.findall(r"[A-Za-z][A-Za-z_.]*[A-Za-z]|\b[a-z]\b", text)
    return sorted({w for w in words if w.lower().strip(".") not in ALLOWED and not re.fullmatch(r"[A-Z]{1,3}\d*", w)})


def test_the_documents_and_the_timeline_of_a_case_speak_chinese_only(client, world):
    _institution, people, _experts = world
    case = run_case(world)  # approved: its documents issued (audited on the case)
    client.force_login(people["staff"])
    found = {}
    for kind in documents.CASE_DOCUMENTS:
        if documents.case_document_available(kind, case) and documents.CASE_DOCUMENTS[kind][0]:
            found[kind] = leaks(documents.case_document_render(kind, case)[1])
    page = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    found["case timeline"] = [w for w in leaks(page, start="<main") if "." in w]  # audit codes
    assert {k: v for k, v in found.items() if v} == {}


def test_the_process_chart_labels_its_branches_in_chinese(client, world):
    from django.test import override_settings

    _institution, people, _experts = world
    client.force_login(people["staff"])
    with override_settings(LANGUAGE_CODE="zh-hans"):
        chart = client.get(reverse("flow_chart")).content.decode()
    assert ">是<" in chart and ">否<" in chart
    assert ">yes<" not in chart and ">no<" not in chart


def test_the_declaration_form_names_grades_not_their_codes(client, world):
    from tests.worlds import at

    _institution, people, _experts = world
    client.force_login(people["applicant"])
    with at(2026, 2, 1, 9, 0):
        page = client.get(reverse("declare")).content.decode()
    only = re.findall(r"仅适用于：([^<]*)", page)
    assert only and all(not re.search(r"[a-z]", text) for text in only), only
