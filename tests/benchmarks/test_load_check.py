"""The load run's checker (benchmarks/load/check.py) finds what it is there to find: a score acknowledged but not
stored, an item stored twice on one sheet, a gap in a year's certificate numbers."""

import datetime as dt

import pytest
from django.db import connection

from benchmarks.load.check import check
from certification.models import Certificate, CertificateSerial, Grade, ScoreLine, ScoreSheet, SheetKind
from tests.worlds import declared_case

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql]


def _posted(case, item, *, saved=True):
    return {"username": "expert0", "case": case.pk, "task": 0, "item": item, "deduction": "0.5",
            "reason": f"负载测试 expert0 {item}", "status": 302 if saved else 500, "saved": saved}


@pytest.fixture
def sheet(world, archives_version, bureaus):
    institution, people, experts = world
    case = declared_case(version=archives_version, institution=institution, bureau=bureaus["county"],
                         declared_by=people["applicant"])
    return ScoreSheet.objects.create(case=case, kind=SheetKind.MEMBER, expert=experts[0])


def _line(sheet, item):
    return ScoreLine.objects.create(sheet=sheet, item_code=item, points=0, entry={
        "deductions": [{"points": "0.5", "reason": f"负载测试 expert0 {item}"}]})


def test_scores_stored_once_as_posted_pass(sheet):
    _line(sheet, "1.1")
    report = check({"scores": [_posted(sheet.case, "1.1")]}, {})
    assert report["ok"], report
    assert report["scores"]["acknowledged"] == 1 and report["scores"]["stored_lines"] == 1


def test_a_lost_score_and_a_duplicated_line_are_reported(sheet):
    with connection.cursor() as cursor:  # a state the constraint forbids; rolled back with the test
        cursor.execute(f"ALTER TABLE {ScoreLine._meta.db_table} DROP CONSTRAINT one_line_per_item")
    _line(sheet, "1.1")
    _line(sheet, "1.1")
    report = check({"scores": [_posted(sheet.case, "1.1"), _posted(sheet.case, "1.2")]}, {})
    assert not report["ok"]
    assert report["scores"]["lost"] == [f"expert0 case {sheet.case.pk} item 1.2"]
    assert report["scores"]["duplicated"] == [f"sheet {sheet.pk} item 1.1: 2 lines"]


def test_a_wrong_value_is_reported_and_an_unacknowledged_save_is_not_lost(sheet):
    line = _line(sheet, "1.1")
    line.entry = {"deductions": [{"points": "0.4", "reason": "负载测试 expert0 1.1"}]}
    line.save()
    report = check({"scores": [_posted(sheet.case, "1.1"), _posted(sheet.case, "1.3", saved=False)]}, {})
    assert len(report["scores"]["mismatched"]) == 1 and report["scores"]["lost"] == []


def _certificates(world, archives_version, bureaus, serials):
    institution, _people, _experts = world
    grade = Grade.objects.get(version=archives_version, code="second")
    for serial in serials:
        Certificate.objects.create(
            number=Certificate.format_number(2026, serial, version=archives_version), year=2026, serial=serial, institution=institution,
            grade=grade, issued_on=dt.date(2026, 6, 1), valid_until=dt.date(2029, 6, 1), status="superseded",
            issued_by=bureaus["province"], approved_by=bureaus["county"])
    CertificateSerial.objects.create(scheme=archives_version.scheme, year=2026, last=max(serials))


def test_gapless_numbers_pass(world, archives_version, bureaus):
    _certificates(world, archives_version, bureaus, [1, 2, 3])
    report = check({}, {})
    assert report["certificates"] == {"years": {"archives/2026": 3}, "problems": []}


def test_a_gap_in_the_numbers_is_reported(world, archives_version, bureaus):
    _certificates(world, archives_version, bureaus, [1, 2, 4])
    report = check({}, {})
    assert not report["ok"]
    assert report["certificates"]["problems"] == ["archives/2026: gaps at serials [3]"]
