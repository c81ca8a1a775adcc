"""The one .xlsx writer: no exported cell is ever a formula, text reads back as typed, numbers stay numbers, and
no other module writes a workbook."""

import ast
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from certification import permissions
from certification.enums import Role
from certification.xlsx import new_workbook, workbook_bytes
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
FORMULA_NAME = '=HYPERLINK("http://x","y")'


def _cells(content: bytes):
    book = load_workbook(io.BytesIO(content))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


@pytest.mark.django_db
def test_the_case_list_export_writes_an_institution_named_as_a_formula_as_its_text(client, make_case, bureaus):
    make_case(name=FORMULA_NAME, region="city", bureau="city")
    staff = UserFactory()
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    client.force_login(staff)

    content = client.get(reverse("export_cases")).content

    cells = _cells(content)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    applicant = load_workbook(io.BytesIO(content)).active["B2"]
    assert (applicant.value, applicant.data_type, applicant.quotePrefix) == (FORMULA_NAME, "s", True)


def test_text_that_could_start_a_formula_is_text_and_numbers_stay_numbers():
    book = new_workbook()
    book.active.append(["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "普通", -5, Decimal("-1.50"),
                        dt.date(2026, 3, 1), 0])
    book.create_sheet("second")["A1"] = "=2+2"

    first, second = load_workbook(io.BytesIO(workbook_bytes(book))).worksheets

    row = list(first[1])
    # (a carriage return reads back as itself with lxml, as a line feed with Python's own XML parser)
    values = [(c.value.replace("\r", "\n"), c.data_type, c.quotePrefix) for c in row[:7]]
    assert values == [
        ("=1+1", "s", True), ("+1", "s", True), ("-1", "s", True), ("@SUM(A1)", "s", True), ("\t=1", "s", True),
        ("\n=1", "s", True), ("普通", "s", False)]
    assert [(c.value, c.data_type) for c in row[7:]] == [
        (-5, "n"), (-1.5, "n"), (dt.datetime(2026, 3, 1), "d"), (0, "n")]
    assert (second["A1"].value, second["A1"].data_type) == ("=2+2", "s")


def _writers(path: Path) -> list[str]:
    """Where a module imports openpyxl's Workbook, or opens a workbook it could save (not read-only)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("openpyxl"):
            found += [f"{path}:{node.lineno} imports Workbook" for a in node.names if a.name == "Workbook"]
        elif isinstance(node, ast.Attribute) and node.attr == "Workbook":
            found.append(f"{path}:{node.lineno} uses openpyxl.Workbook")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "load_workbook":
            read_only = any(k.arg == "read_only" and getattr(k.value, "value", None) is True for k in node.keywords)
            if not read_only:
                found.append(f"{path}:{node.lineno} opens a workbook it could save")
    return found


def test_no_module_but_the_writer_writes_a_workbook():
    writer = ROOT / "certification" / "xlsx.py"
    sources = [p for folder in ("certification", "workflows", "notifications", "config", "benchmarks", "scripts")
               for p in (ROOT / folder).rglob("*.py") if p != writer]

    assert sources and [w for p in sources for w in _writers(p)] == []
    assert _writers(writer) != []  # the check sees the one writer
