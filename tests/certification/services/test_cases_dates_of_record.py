"""Dates and links of record are columns of the case and the sheet, not read back from the audit log: the
documents print the acceptance request's and the approval's dates from the case, a case knows its
certificate, a sheet its overdue mark; nothing outside the audit module and the notifications reads an audit
entry's ``before``/``after``."""

import ast
import datetime as dt
import pathlib

import pytest

from certification import documents
from certification.models import AuditEntry, Case, PanelMember, ScoreSheet, SheetKind
from certification.services.review import sheet_overdue
from tests.certification.services.test_cases_recheck_ends import _declare, _to_review
from tests.worlds import SHANGHAI, at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_the_documents_print_the_dates_the_case_records(recheck):
    world = recheck
    case = _declare(world)
    _to_review(world, case)  # acceptance requested on 2026-01-12
    case.refresh_from_db()
    assert case.acceptance_requested_at == dt.datetime(2026, 1, 12, 9, 0, tzinfo=SHANGHAI)
    # a date of record corrected on the case (the audit entry, evidence, keeps the day it happened): the
    # document prints the case's date
    Case.objects.filter(pk=case.pk).update(acceptance_requested_at=dt.datetime(2026, 1, 20, 9, 0, tzinfo=SHANGHAI))
    case.refresh_from_db()
    _template, _html, context = documents.case_document_render("acceptance_request", case)
    assert context["requested_on"] == "2026年1月20日"


def test_a_sheet_is_marked_overdue_once_by_its_own_column(recheck):
    world = recheck
    case = _declare(world)
    _to_review(world, case)
    ScoreSheet.objects.filter(case=case, kind=SheetKind.MEMBER).update(submitted_at=None, total=None)
    member = PanelMember.objects.filter(panel__case=case).order_by("pk").first()
    with at(2026, 3, 1, 9, 0):
        assert sheet_overdue(member=member) is True
        assert sheet_overdue(member=member) is False
    sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=member.expert)
    assert sheet.overdue_at == dt.datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI)
    assert AuditEntry.objects.filter(action="sheet.overdue").count() == 1


AUDIT_READERS = {"certification/services/audit.py", "certification/models/audit.py", "notifications/events.py"}


def test_nothing_but_the_audit_module_and_the_notifications_reads_an_entrys_before_or_after():
    offenders = []
    for app in ("certification", "workflows", "notifications", "config"):
        for path in sorted((ROOT / app).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if "migrations" in path.parts or name in AUDIT_READERS:
                continue
            source = path.read_text(encoding="utf-8")
            if "AuditEntry" not in source:
                continue
            offenders += [f"{name}:{node.lineno}" for node in ast.walk(ast.parse(source))
                          if isinstance(node, ast.Attribute) and node.attr in ("before", "after")
                          and isinstance(node.ctx, ast.Load)]
    assert offenders == []
