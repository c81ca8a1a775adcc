"""Scoring a full 18-item sheet of the archives scheme, against the floor of summing its 18 Decimals.

Keys: ``assess_median_s`` (one sheet), ``floor_median_s`` (summing and rounding 18 Decimals, the least any
scorer must do), ``ratio`` and ``sheets_per_second``. The rules engine is fine while the ratio stays within a
few hundred: a panel scores a handful of sheets, and a ranking of a province's annual results a few thousand.
"""

from decimal import Decimal

from certification.scheme import shipped_scheme
from certification.scoring import Deduction, ItemEntry, assess, q

from . import median_seconds


def _sheet(scheme):
    entries = {}
    for _category, item in scheme.rubrics["standard"].items():
        kind = item.rule.kind
        if kind == "per_missing":
            element = item.rule.elements[0] if item.rule.elements else ""
            entries[item.code] = ItemEntry(deductions=(Deduction(element=element, reason="缺"),))
        elif kind == "sub_criteria":
            sub = item.sub_criteria[0]
            entries[item.code] = ItemEntry(deductions=(Deduction(points=sub.points / 2, element=sub.code,
                                                                 reason="不完整"),))
        elif kind == "sample_check":
            entries[item.code] = ItemEntry(defective=1)
        elif kind == "rate_band":
            entries[item.code] = ItemEntry(rate=Decimal("97"))
        else:
            entries[item.code] = ItemEntry(deductions=(Deduction(points=Decimal("0.5"), reason="扣分"),))
    return entries


def run() -> dict:
    scheme = shipped_scheme("archives")
    entries = _sheet(scheme)
    maxima = [item.max_points for _c, item in scheme.rubrics["standard"].items()]
    result = assess(entries, scheme=scheme)
    assess_s = median_seconds(lambda: assess(entries, scheme=scheme), number=200)
    floor_s = median_seconds(lambda: q(sum(maxima, Decimal(0))), number=2000)
    return {
        "assess_median_s": round(assess_s, 7),
        "floor_median_s": round(floor_s, 9),
        "ratio": round(assess_s / floor_s, 1),
        "sheets_per_second": round(1 / assess_s),
        "total_scored": str(result.total),
    }
