"""The score sheet as the walk found it, mended: a deduction above the item's points is refused beside the field,
a sub-criterion not met is not deducted twice, nothing counts before it is scored, a saved item brings the
page back at that item (or, from the sheet's script, only the item and the totals change), and a rectification
round starts from the round before."""

import pytest

from certification.models import ScoreSheet, SheetKind
from tests.workflows.test_flows import clock, declare, rubric_codes, to_precheck
from tests.worlds import field_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "clock")]
__all__ = ["clock"]  # the autouse clock of the flow tests: inside the declaration window


def planned(client, world):
    _institution, people, _experts = world
    d = declare(client, world)
    d.post(people["staff"], "plan", "plan", {"decision": "include"})
    client.force_login(people["applicant"])
    return d, people


def post_item(d, code, **fields):
    payload = {"action": "item", "item": code, **{f"item-{code}-{k}": v for k, v in fields.items()}}
    return d.client.post(d.url("self_check"), payload)


def test_a_deduction_above_the_items_points_is_refused_beside_the_field(client, world):
    d, _people = planned(client, world)
    response = post_item(d, "1", deduction="8", reason="制度不全")  # item 1 is worth 6 points
    assert response.status_code == 200
    assert field_error(response, "item-1-deduction") == ["确保该值小于或等于6。"]
    assert 'value="制度不全"' in response.content.decode() or "制度不全</textarea>" in response.content.decode()
    assert not ScoreSheet.objects.get(case=d.case, kind=SheetKind.SELF).lines.exists()


def test_the_service_refuses_a_deduction_above_the_items_points_and_a_shortfall_counted_twice(client, world):
    from decimal import Decimal

    from certification.exceptions import RuleViolation
    from certification.scoring import Deduction, ItemEntry
    from certification.services.sheets import self_check_sheet, sheet_record

    d, people = planned(client, world)
    sheet = self_check_sheet(actor=people["applicant"], case=d.case)
    with pytest.raises(RuleViolation) as above:
        sheet_record(actor=people["applicant"], sheet=sheet, item_code="2",
                     entry=ItemEntry(deductions=(Deduction(points=Decimal(8), reason="缺"),)))
    with pytest.raises(RuleViolation) as twice:
        sheet_record(actor=people["applicant"], sheet=sheet, item_code="1",
                     entry=ItemEntry(deductions=(Deduction(points=Decimal(2), reason="缺"),), unmet=frozenset("a"),
                                     reason="缺"))
    assert (above.value.codes, twice.value.codes) == (["sheet.deduction_above_max"], ["sheet.deducted_twice"])
    assert above.value.refusals[0].params["field"] == "deduction"


def test_nothing_counts_before_it_is_scored_and_a_saved_item_comes_back_at_the_item(client, world):
    d, _people = planned(client, world)
    page = client.get(d.url("self_check")).content.decode()
    assert "已评18项中的0项：得0.00分（这些项目满分0.00分）；尚有100.00分的项目未评。" in page
    assert "100.00</strong>" not in page
    saved = post_item(d, "2", deduction="1", reason="缺少一项")
    assert saved.status_code == 302 and saved.url.endswith("#item-2")
    page = client.get(saved.url).content.decode()
    assert "已评18项中的1项：得5.00分（这些项目满分6.00分）；尚有94.00分的项目未评。" in page


def test_the_sheets_script_gets_the_page_back_without_a_redirect(client, world):
    d, _people = planned(client, world)
    payload = {"action": "item", "item": "18", "item-18-deduction": "1", "item-18-reason": "迟报"}
    response = client.post(d.url("self_check"), payload, HTTP_X_SHEET_ITEM="18")
    page = response.content.decode()
    assert response.status_code == 200 and 'id="item-18"' in page and "已评18项中的1项" in page
    client.get("/")  # the script's static file is referenced from the sheet
    assert "workflows/sheet.js" in page


def test_a_rectification_round_starts_from_the_round_before(client, world):
    _institution, people, _experts = world
    d = declare(client, world)
    to_precheck(d, world)
    d.post(people["prechecker"], "precheck", "decide", {"decision": "return", "summary": "需整改"})
    client.force_login(people["applicant"])
    page = client.get(d.url("rectify")).content.decode()
    first, second = ScoreSheet.objects.filter(case=d.case, kind=SheetKind.SELF).order_by("round")
    assert second.round == 2
    assert {line.item_code: line.points for line in second.lines.all()} == \
        {line.item_code: line.points for line in first.lines.all()}
    assert len(rubric_codes(d.case)) == second.lines.count()
    assert f"已评{len(rubric_codes(d.case))}项中的{len(rubric_codes(d.case))}项" in page
