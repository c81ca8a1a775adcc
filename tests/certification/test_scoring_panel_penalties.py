"""The panel's consolidated score of a penalty item (a negative number of points, 此项扣分最多不超过20分) is
decided by the same rules as the members' entries: the pool's cap holds, nothing is refused as "negative"."""

from decimal import Decimal

import pytest

from certification.scheme import SCHEMES_DIR, load_scheme_file
from certification.scoring import Deduction, ItemEntry, assess, assess_points

YUEYANG = load_scheme_file(SCHEMES_DIR / "yueyang-office-2013.yaml")


def full_marks():
    return {item.code: item.max_points for _c, item in YUEYANG.rubrics["standard"].items()}


def test_a_penalty_items_negative_points_count_against_its_pool_capped_at_20():
    points = full_marks()
    points["3.5"] = Decimal(-24)  # four negative reports in 人民日报 and the like, 6 points each
    decided = assess_points(points, rubric="standard", scheme=YUEYANG)
    pool = decided.pools["negative_reports"]
    assert (str(pool.deducted_raw), str(pool.deducted), str(decided.total)) == ("24.00", "20.00", "80.00")
    # the same as the members' entries decide: a member's sheet deducts 4 × 6 on the item
    entered = assess({"3.5": ItemEntry(deductions=tuple(Deduction(points=6, reason="负面报道") for _ in range(4)))},
                     rubric="standard", scheme=YUEYANG)
    assert entered.pools["negative_reports"] == pool and entered.items["3.5"].points == Decimal(-24)


@pytest.mark.parametrize(("code", "value"), [("3.5", "1"), ("3.4", "-1")])
def test_a_penalty_item_above_zero_or_another_item_below_zero_is_refused(code, value):
    points = full_marks()
    points[code] = Decimal(value)
    with pytest.raises(ValueError):
        assess_points(points, rubric="standard", scheme=YUEYANG)
