from decimal import Decimal

import pytest
from django.utils import timezone

from certification import permissions, scoring
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Grade, ScoreLine, Stage
from certification.scoring import Deduction, ItemEntry
from certification.services.sheets import self_check_sheet, sheet_assessment, sheet_record, sheet_submit
from tests.factories import InstitutionFactory, UserFactory

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


@pytest.fixture
def planned(archives_version, regions, bureaus):
    institution = InstitutionFactory(region=regions["county"], level=InstitutionLevel.COUNTY)
    applicant = UserFactory()
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    case = Case.objects.create(
        institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
        bureau=bureaus["county"], grade=Grade.objects.get(version=archives_version, code="second"),
        declared_at=timezone.now(), declared_by=applicant, reference="2026000001", stage=Stage.PLANNED,
    )
    return case, applicant


def deduct(points, reason="缺少记录"):
    return ItemEntry(deductions=(Deduction(points=Decimal(points), reason=reason),))


def test_the_self_check_records_a_deduction_with_its_reason_and_the_rule_gives_the_score(planned):
    case, applicant = planned
    sheet = self_check_sheet(actor=applicant, case=case)
    line = sheet_record(actor=applicant, sheet=sheet, item_code="18", entry=deduct("0.5", "宣传信息报送不足"))
    assert (line.points, line.entry) == (Decimal("1.50"), {"deductions": [{"points": "0.5",
                                                                          "reason": "宣传信息报送不足"}]})


def test_a_deduction_beyond_the_item_is_refused_beside_the_deduction(planned):
    # The walk: a deduction of 8 on a 6-point item was taken (and floored, with an English note); it is refused.
    case, applicant = planned
    sheet = self_check_sheet(actor=applicant, case=case)
    with pytest.raises(RuleViolation) as exc:
        sheet_record(actor=applicant, sheet=sheet, item_code="18", entry=deduct("5"))
    assert (exc.value.codes, exc.value.refusals[0].params["field"]) == (["sheet.deduction_above_max"], "deduction")
    assert ScoreLine.objects.count() == 0
    line = sheet_record(actor=applicant, sheet=sheet, item_code="18", entry=deduct("2"))
    assert (line.points, line.clamps) == (Decimal("0.00"), [])


def test_a_deduction_without_a_reason_is_refused(planned):
    case, applicant = planned
    sheet = self_check_sheet(actor=applicant, case=case)
    with pytest.raises(RuleViolation) as exc:
        sheet_record(actor=applicant, sheet=sheet, item_code="18", entry=deduct("1", reason=" "))
    assert exc.value.codes == ["sheet.reason_required"]
    assert ScoreLine.objects.count() == 0


@pytest.mark.parametrize(("item_code", "entry", "code"), [
    ("99", ItemEntry(), "sheet.unknown_item"),
    ("18", deduct("-1"), "sheet.bad_entry"),
    ("2", ItemEntry(deductions=(Deduction(element="无此制度", reason="缺"),)), "sheet.bad_entry"),
])
def test_bad_entries_are_refused_with_the_item_named(planned, item_code, entry, code):
    case, applicant = planned
    sheet = self_check_sheet(actor=applicant, case=case)
    with pytest.raises(RuleViolation) as exc:
        sheet_record(actor=applicant, sheet=sheet, item_code=item_code, entry=entry)
    assert exc.value.codes == [code]


def test_submitting_needs_every_item_and_then_locks_the_sheet(planned):
    case, applicant = planned
    sheet = self_check_sheet(actor=applicant, case=case)
    sheet_record(actor=applicant, sheet=sheet, item_code="18", entry=ItemEntry())
    with pytest.raises(RuleViolation) as exc:
        sheet_submit(actor=applicant, sheet=sheet)
    assert exc.value.codes == ["sheet.incomplete"]
    assert len(exc.value.refusals[0].params["items"]) == 17

    spec = case.scheme_version.specification()
    for _category, item in spec.rubrics["standard"].items():
        if item.code != "18":
            sheet_record(actor=applicant, sheet=sheet, item_code=item.code, entry=ItemEntry())
    sheet_submit(actor=applicant, sheet=sheet)
    sheet.refresh_from_db()
    assert (sheet.locked, sheet.total) == (True, sheet_assessment(sheet).total)

    with pytest.raises(RuleViolation) as exc:
        sheet_record(actor=applicant, sheet=sheet, item_code="18", entry=deduct("1"))
    assert exc.value.codes == ["sheet.locked"]
    with pytest.raises(RuleViolation):
        sheet_submit(actor=applicant, sheet=sheet)
    assert AuditEntry.objects.filter(action="sheet.submit").count() == 1


def test_the_sheet_total_is_the_rubric_scoring_of_its_lines(planned):
    case, applicant = planned
    sheet = self_check_sheet(actor=applicant, case=case)
    sheet_record(actor=applicant, sheet=sheet, item_code="2",
                 entry=ItemEntry(deductions=(Deduction(element="鉴定销毁", reason="无鉴定销毁制度"),)))
    expected = scoring.assess({"2": ItemEntry(deductions=(Deduction(element="鉴定销毁", reason="x"),))},
                              scheme=case.scheme_version.specification())
    assert sheet_assessment(sheet).items["2"].points == expected.items["2"].points == Decimal("5.00")


def test_only_the_applicant_opens_and_writes_its_self_check(planned, regions):
    case, applicant = planned
    stranger = UserFactory()
    permissions.role_grant(user=stranger, role=Role.APPLICANT, obj=InstitutionFactory(region=regions["county"]))
    with pytest.raises(RuleViolation):
        self_check_sheet(actor=stranger, case=case)
    sheet = self_check_sheet(actor=applicant, case=case)
    with pytest.raises(RuleViolation) as exc:
        sheet_record(actor=stranger, sheet=sheet, item_code="18", entry=ItemEntry())
    assert exc.value.codes == ["sheet.not_yours"]


def test_the_self_check_is_closed_before_the_plan(planned):
    case, applicant = planned
    Case.objects.filter(pk=case.pk).update(stage=Stage.DECLARED)
    with pytest.raises(RuleViolation) as exc:
        self_check_sheet(actor=applicant, case=case)
    assert exc.value.codes == ["sheet.not_open"]


def test_entries_survive_their_stored_form():
    entry = ItemEntry(deductions=(Deduction(points=Decimal("0.2"), reason="迟报", occurrence="late", count=3),),
                      rate=Decimal("97.5"), unmet=frozenset({"a"}), bonus=Decimal("1"), veto=True)
    assert scoring.entry_from_dict(scoring.entry_to_dict(entry)) == entry
