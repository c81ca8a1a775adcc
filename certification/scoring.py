"""Rubric scoring (DESIGN §3.5): an item's score under each rule kind, category and total, pass or fail per grade.

Pure functions over a :class:`~certification.scheme.SchemeSpec`. Scores are ``Decimal`` with two places. An
item's score is clamped to its bounds, and every clamp is reported in :attr:`ItemScore.clamps`, never hidden.
What a sheet records per item follows real practice: the points deducted and the reason (扣分, 扣分原因),
or the facts a rule counts (units awarded, a rate, defective files in a sample).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from .scheme import Category, Item, Rubric, SchemeSpec

ZERO = Decimal("0")
CENT = Decimal("0.01")


def q(value: Decimal) -> Decimal:
    """Round to two places, half up, as score sheets do."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value, name: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal or an int, not a float")
    return Decimal(value)


@dataclass(frozen=True)
class Deduction:
    """One line of a score sheet: points deducted with the reason, or an occurrence counted.

    ``points`` for free deductions (and for a sub-criterion when ``element`` names it); ``occurrence`` and
    ``count`` for ``per_occurrence``; ``element`` for ``per_missing`` (a missing element).
    """

    points: Decimal | None = None
    reason: str = ""
    occurrence: str = ""
    count: int = 1
    element: str = ""


@dataclass(frozen=True)
class ItemEntry:
    """What was recorded for one item (by the applicant's self-check or a panel member)."""

    deductions: tuple[Deduction, ...] = ()
    units: Decimal | None = None  # capped_award: units earned (e.g. pieces adopted)
    achieved: Decimal | None = None  # pro_rata: what was achieved against the quota
    rate: Decimal | None = None  # rate_band: a percentage, 0–100
    defective: int | None = None  # sample_check: defective files in the sample
    unmet: frozenset[str] = frozenset()  # sub_criteria: sub-criteria not met at all
    bonus: Decimal = ZERO  # extra points claimed for merit
    veto: bool = False  # the item's veto condition is confirmed
    reason: str = ""  # why points are lost beyond the deduction lines (e.g. sub-criteria not met)
    veto_reason: str = ""  # why the veto condition is confirmed


@dataclass(frozen=True)
class Clamp:
    """A bound the rule's raw result crossed: ``floor`` (0), ``ceiling`` (the maximum or a cap),
    ``bonus_cap`` (a bonus above its share), ``deduction_cap`` (an item's max deduction), ``sub_criterion``
    (a deduction above a sub-criterion's points) or ``pool_cap`` (a penalty pool's cap)."""

    kind: str
    limit: Decimal
    before: Decimal


@dataclass(frozen=True)
class ItemScore:
    code: str
    max_points: Decimal
    points: Decimal
    raw: Decimal  # before any clamp
    bonus: Decimal = ZERO  # bonus awarded (within points)
    clamps: tuple[Clamp, ...] = ()
    key: bool = False
    veto: bool = False
    failed_key_subs: tuple[str, ...] = ()  # key (★) sub-criteria not met, or whose points were all deducted

    @property
    def clamped(self) -> bool:
        return bool(self.clamps)


@dataclass(frozen=True)
class PoolScore:
    code: str
    cap: Decimal
    deducted_raw: Decimal
    deducted: Decimal

    @property
    def clamped(self) -> bool:
        return self.deducted != self.deducted_raw


@dataclass(frozen=True)
class CategoryScore:
    code: str
    max_points: Decimal
    points: Decimal


@dataclass(frozen=True)
class GradeResult:
    grade: str
    passed: bool
    # codes: pass_line, key_item_zero:<item>, key_sub_criterion:<item>.<sub>, category_floor:<cat>, veto:<item>
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assessment:
    rubric: str
    items: Mapping[str, ItemScore]
    categories: Mapping[str, CategoryScore]
    pools: Mapping[str, PoolScore]
    total: Decimal
    grades: Mapping[str, GradeResult]
    placed_grade: str | None  # the highest score-decided grade passed, or None
    vetoes: tuple[str, ...] = ()
    failed_by_veto: bool = False
    unscored: tuple[str, ...] = field(default=())
    failed_key_subs: tuple[str, ...] = ()  # "<item>.<sub>" of every key sub-criterion failed
    bonus_raw: Decimal = ZERO  # the bonus items' points before the cap in total (the total counts the capped)

    def passes(self, grade: str) -> bool:
        return self.grades[grade].passed


@dataclass(frozen=True)
class Award:
    """What a case declared for ``declared`` is awarded: the grade itself, a lower grade the scheme allows
    (``award_lower``) with the reasons the declared grade was missed, or nothing (``grade`` None)."""

    declared: str
    grade: str | None
    reasons: tuple[str, ...] = ()  # the declared grade's failing reasons, where it was not awarded

    @property
    def lower(self) -> bool:
        return self.grade is not None and self.grade != self.declared


def award(assessment: Assessment, declared: str, *, scheme: SchemeSpec) -> Award:
    """The grade awarded on an assessment for a case declared for ``declared``. Where the declared grade is
    missed and the scheme lets it award a lower tier, the highest lower score-decided grade of the same
    rubric that passes is awarded (a veto of the declared tier, or a score placing the case lower); a veto
    that fails the whole assessment awards nothing."""
    result = assessment.grades[declared]
    if result.passed:
        return Award(declared, declared)
    grade = scheme.grade(declared)
    if grade.award_lower and not assessment.failed_by_veto:
        lower = [g for g in scheme.grades_by_rank() if g.rank < grade.rank and g.code in assessment.grades
                 and assessment.grades[g.code].passed]
        if lower:
            return Award(declared, lower[-1].code, result.reasons)
    return Award(declared, None, result.reasons)


# --- One item ---------------------------------------------------------------------------------------------
def _check_deduction(d: Deduction, item: Item) -> None:
    if d.points is not None and _decimal(d.points, "points") < 0:
        raise ValueError(f"item {item.code}: a deduction cannot be negative")
    if d.count < 0:
        raise ValueError(f"item {item.code}: an occurrence count cannot be negative")


def _raw_points(item: Item, entry: ItemEntry) -> tuple[Decimal, list[Clamp], Decimal | None]:
    """The rule's result before the item's bounds; also clamps found on the way and a custom ceiling."""
    rule = item.rule
    clamps: list[Clamp] = []
    ceiling: Decimal | None = None
    free = sum((_decimal(d.points, "points") for d in entry.deductions if d.points is not None and not d.element
                and not d.occurrence), ZERO)
    for d in entry.deductions:
        _check_deduction(d, item)

    if rule.kind in ("deduction", "penalty"):
        deducted = free
    elif rule.kind == "per_occurrence":
        rates = {o.code: o.points for o in rule.occurrences}
        deducted = free
        for d in entry.deductions:
            if d.occurrence:
                if d.occurrence not in rates:
                    raise ValueError(f"item {item.code}: unknown occurrence {d.occurrence!r}")
                deducted += rates[d.occurrence] * d.count
    elif rule.kind == "per_missing":
        missing = [d.element for d in entry.deductions if d.element]
        if rule.elements:
            unknown = [e for e in missing if e not in rule.elements]
            if unknown:
                raise ValueError(f"item {item.code}: unknown element(s) {unknown}")
        deducted = free + rule.points * len(set(missing))
    elif rule.kind == "sample_check":
        defective = entry.defective or 0
        if defective < 0 or defective > rule.sample_size:
            raise ValueError(f"item {item.code}: defective files must be between 0 and {rule.sample_size}")
        deducted = free + rule.points * defective
    elif rule.kind == "sub_criteria":
        subs = {s.code: s for s in item.sub_criteria}
        unknown = [c for c in entry.unmet if c not in subs]
        unknown += [d.element for d in entry.deductions if d.element and d.element not in subs]
        if unknown:
            raise ValueError(f"item {item.code}: unknown sub-criteria {sorted(set(unknown))}")
        deducted = free
        for code, sub in subs.items():
            if code in entry.unmet:
                deducted += sub.points
                continue
            lost = sum((_decimal(d.points or 0, "points") for d in entry.deductions if d.element == code), ZERO)
            if lost > sub.points:
                clamps.append(Clamp("sub_criterion", sub.points, lost))
                lost = sub.points
            deducted += lost
    else:
        deducted = None

    if deducted is not None:
        if rule.max_deduction is not None and deducted > rule.max_deduction:
            clamps.append(Clamp("deduction_cap", rule.max_deduction, deducted))
            deducted = rule.max_deduction
        base = item.max_points if rule.kind != "penalty" else ZERO
        return base - deducted, clamps, ceiling

    if rule.kind == "capped_award":
        units = _decimal(entry.units or 0, "units")
        if units < 0:
            raise ValueError(f"item {item.code}: units cannot be negative")
        ceiling = rule.cap if rule.cap is not None else item.max_points
        return units * rule.points - free, clamps, ceiling
    if rule.kind == "pro_rata":
        achieved = _decimal(entry.achieved or 0, "achieved")
        if achieved < 0:
            raise ValueError(f"item {item.code}: achieved cannot be negative")
        ceiling = rule.cap if rule.cap is not None else item.max_points
        return item.max_points * achieved / rule.quota - free, clamps, ceiling
    if rule.kind == "rate_band":
        if entry.rate is None:
            raise ValueError(f"item {item.code}: a rate is needed")
        rate = _decimal(entry.rate, "rate")
        if not ZERO <= rate <= 100:
            raise ValueError(f"item {item.code}: a rate is between 0 and 100")
        if rate >= rule.full_at:
            value = item.max_points
        elif rate <= rule.zero_at:
            value = ZERO
        else:
            value = item.max_points * (rate - rule.zero_at) / (rule.full_at - rule.zero_at)
        return value - free, clamps, ceiling
    raise AssertionError(f"rule kind {rule.kind} not handled")  # the scheme validates kinds


def failed_key_sub_criteria(item: Item, entry: ItemEntry | None) -> tuple[str, ...]:
    """The item's key (★) sub-criteria that count as failed: not met at all, or with deductions that take all
    of its points. A failed key sub-criterion blocks the grades whose ``key_item_zero_blocks`` is set."""
    if entry is None or item.rule.kind != "sub_criteria":
        return ()
    failed = []
    for sub in item.sub_criteria:
        if not sub.key:
            continue
        lost = sum((_decimal(d.points or 0, "points") for d in entry.deductions if d.element == sub.code), ZERO)
        if sub.code in entry.unmet or lost >= sub.points:
            failed.append(sub.code)
    return tuple(failed)


def score_item(item: Item, entry: ItemEntry | None = None, *, category: Category | None = None) -> ItemScore:
    """An item's score from what was recorded, clamped to its bounds with every clamp reported."""
    entry = entry or ItemEntry()
    raw, clamps, ceiling = _raw_points(item, entry)
    raw_total = raw

    bonus = _decimal(entry.bonus, "bonus")
    if bonus < 0:
        raise ValueError(f"item {item.code}: a bonus cannot be negative")
    if bonus and item.bonus is None:
        raise ValueError(f"item {item.code} awards no bonus")
    if item.bonus is not None and bonus:
        base = item.max_points if item.bonus.of == "item" or category is None else category.max_points
        bonus_cap = q(base * item.bonus.share)
        if bonus > bonus_cap:
            clamps.append(Clamp("bonus_cap", bonus_cap, bonus))
            bonus = bonus_cap
        raw_total = raw + _decimal(entry.bonus, "bonus")

    upper = ceiling if ceiling is not None else item.max_points
    points = raw
    if item.rule.kind == "penalty":
        if points > ZERO:
            clamps.append(Clamp("ceiling", ZERO, points))
            points = ZERO
    else:
        if points < ZERO:
            clamps.append(Clamp("floor", ZERO, q(points)))
            points = ZERO
        if points > upper:
            clamps.append(Clamp("ceiling", upper, q(points)))
            points = upper
    points += bonus
    return ItemScore(
        code=item.code,
        max_points=item.max_points,
        points=q(points),
        raw=q(raw_total),
        bonus=q(bonus),
        clamps=tuple(clamps),
        key=item.key,
        veto=entry.veto and item.veto is not None,
        failed_key_subs=failed_key_sub_criteria(item, entry),
    )


# --- A whole sheet ----------------------------------------------------------------------------------------
def assess(
    entries: Mapping[str, ItemEntry],
    *,
    rubric: str | None = None,
    scheme: SchemeSpec,
) -> Assessment:
    """Score a sheet against a rubric and decide pass or fail for every score-decided grade using it.

    ``entries`` maps item codes to what was recorded; an item with no entry is scored on an empty entry and
    listed in ``unscored``. Vetoes count only where the item carries a veto and the entry confirms it.
    """
    rubric_code = rubric or scheme.grades_by_rank()[0].rubric
    spec: Rubric = scheme.rubrics[rubric_code]
    known = {item.code for _c, item in spec.items()}
    stray = sorted(set(entries) - known)
    if stray:
        raise ValueError(f"no such item(s) in rubric {rubric_code}: {stray}")

    items: dict[str, ItemScore] = {}
    for category, item in spec.items():
        items[item.code] = score_item(item, entries.get(item.code), category=category)
    return _decide(items, rubric_code=rubric_code, scheme=scheme,
                   unscored=tuple(code for code in items if code not in entries))


def key_sub_criteria(rubric: Rubric) -> list[tuple[Item, str]]:
    """Every key (★) sub-criterion of a rubric: (item, sub-criterion code), in the rubric's order."""
    return [(item, sub.code) for _c, item in rubric.items() for sub in item.sub_criteria if sub.key]


def assess_points(
    points: Mapping[str, Decimal],
    *,
    vetoes: Iterable[str] = (),
    failed_key_subs: Iterable[str] = (),
    rubric: str | None = None,
    scheme: SchemeSpec,
) -> Assessment:
    """Decide from item points the panel recorded directly (its consolidated score per item), the vetoes it
    confirmed and the key sub-criteria it found failed (``"<item>.<sub>"``), by the same rules as
    :func:`assess`."""
    rubric_code = rubric or scheme.grades_by_rank()[0].rubric
    spec: Rubric = scheme.rubrics[rubric_code]
    vetoes = set(vetoes)
    stray = sorted((set(points) | vetoes) - {item.code for _c, item in spec.items()})
    if stray:
        raise ValueError(f"no such item(s) in rubric {rubric_code}: {stray}")
    known_keys = {f"{item.code}.{sub}" for item, sub in key_sub_criteria(spec)}
    failed = set(failed_key_subs)
    if failed - known_keys:
        raise ValueError(f"no such key sub-criterion in rubric {rubric_code}: {sorted(failed - known_keys)}")
    items: dict[str, ItemScore] = {}
    for _category, item in spec.items():
        value = q(_decimal(points.get(item.code, ZERO), "points"))
        if item.rule.kind == "penalty":  # a penalty item only deducts: its points are zero or below
            if value > 0:
                raise ValueError(f"item {item.code}: a penalty item's points cannot be above 0")
        elif value < 0:
            raise ValueError(f"item {item.code}: points cannot be negative")
        items[item.code] = ItemScore(code=item.code, max_points=item.max_points, points=value, raw=value,
                                     key=item.key, veto=item.code in vetoes and item.veto is not None,
                                     failed_key_subs=tuple(s.code for s in item.sub_criteria
                                                           if f"{item.code}.{s.code}" in failed))
    return _decide(items, rubric_code=rubric_code, scheme=scheme,
                   unscored=tuple(code for code in items if code not in points))


def _decide(items: dict[str, ItemScore], *, rubric_code: str, scheme: SchemeSpec,
            unscored: tuple[str, ...]) -> Assessment:
    """Pools, categories, total and pass or fail per score-decided grade, from the items' scores."""
    spec: Rubric = scheme.rubrics[rubric_code]
    pools: dict[str, PoolScore] = {}
    relief_by_category: dict[str, Decimal] = {}
    for pool in spec.pools:
        members = [(c, i) for c, i in spec.items() if i.pool == pool.code]
        deducted_raw = -sum((items[i.code].points for _c, i in members), ZERO)
        deducted = min(deducted_raw, pool.cap)
        pools[pool.code] = PoolScore(pool.code, pool.cap, q(deducted_raw), q(deducted))
        if members:
            cat = members[0][0].code
            relief_by_category[cat] = relief_by_category.get(cat, ZERO) + (deducted_raw - deducted)

    categories: dict[str, CategoryScore] = {}
    bonus_raw = ZERO
    for c in spec.categories:
        points = q(sum((items[i.code].points for i in c.items), ZERO) + relief_by_category.get(c.code, ZERO))
        if c.bonus:  # stand-alone bonus items: capped in total, outside the rubric's points
            bonus_raw = points
            points = q(min(points, c.max_points))
        categories[c.code] = CategoryScore(c.code, c.max_points, points)
    total = q(sum((c.points for c in categories.values()), ZERO))
    bonus_categories = {c.code for c in spec.categories if c.bonus}

    vetoes = [code for code, s in items.items() if s.veto]
    fail_veto = any(spec.item(code).veto.scope == "fail" for code in vetoes)
    tier_vetoed = {g for code in vetoes if spec.item(code).veto.scope == "tier" for g in spec.item(code).veto.grades}
    zero_keys = [code for code, s in items.items() if s.key and s.points == ZERO]
    failed_subs = [f"{code}.{sub}" for code, s in items.items() for sub in s.failed_key_subs]

    grades: dict[str, GradeResult] = {}
    for grade in scheme.grades_by_rank():
        if grade.rubric != rubric_code or grade.decision != "score":
            continue
        reasons: list[str] = []
        if total < grade.pass_line:
            reasons.append("pass_line")
        if grade.key_item_zero_blocks:
            reasons += [f"key_item_zero:{code}" for code in zero_keys]
            reasons += [f"key_sub_criterion:{code}" for code in failed_subs]
        if grade.category_floor_share is not None:
            reasons += [
                f"category_floor:{c.code}"
                for c in categories.values()
                if c.code not in bonus_categories and c.points < c.max_points * grade.category_floor_share
            ]
        if fail_veto:
            reasons += [f"veto:{code}" for code in vetoes if spec.item(code).veto.scope == "fail"]
        elif grade.code in tier_vetoed:
            reasons += [f"veto:{code}" for code in vetoes if grade.code in spec.item(code).veto.grades]
        grades[grade.code] = GradeResult(grade.code, not reasons, tuple(reasons))

    passed = [g for g in scheme.grades_by_rank() if g.code in grades and grades[g.code].passed]
    return Assessment(
        rubric=rubric_code,
        items=items,
        categories=categories,
        pools=pools,
        total=total,
        grades=grades,
        placed_grade=passed[-1].code if passed else None,
        vetoes=tuple(vetoes),
        failed_by_veto=fail_veto,
        unscored=unscored,
        failed_key_subs=tuple(failed_subs),
        bonus_raw=bonus_raw,
    )


# --- Panel consolidation and aggregation -----------------------------------------------------------------
@dataclass(frozen=True)
class Consolidation:
    """One item's proposals brought together. ``prefill`` is the chair's starting point under ``consensus``
    (the mean) and the panel's score under ``mean`` or ``trimmed_mean`` (the formula, on this item's
    proposals: the highest and lowest dropped when ``trimmed_mean_min_scores`` members or more scored it)."""

    prefill: Decimal
    spread: Decimal
    flagged: bool  # proposals further apart than the scheme's share of the item's maximum


def consolidate_item(proposals: Iterable[Decimal], max_points: Decimal, *, scheme: SchemeSpec,
                     groups: Iterable[str] | None = None) -> Consolidation:
    """``groups``, under ``weighted_groups``: each proposal's scorer group, in the order of ``proposals``."""
    values = [_decimal(p, "proposal") for p in proposals]
    if not values:
        raise ValueError("no proposals to consolidate")
    spread = max(values) - min(values)
    method = "mean" if scheme.panel.aggregation == "consensus" else scheme.panel.aggregation
    if method == "weighted_groups":
        prefill = aggregate_groups(zip(list(groups or ()), values, strict=True), scheme=scheme)
    else:
        prefill = aggregate_totals(values, method=method, scheme=scheme)
    return Consolidation(
        prefill=prefill,
        spread=q(spread),
        flagged=spread > max_points * scheme.panel.discrepancy_share,
    )


def aggregate_totals(totals: Iterable[Decimal], *, method: str | None = None, scheme: SchemeSpec
                     ) -> Decimal:
    """Members' totals aggregated by ``mean`` or ``trimmed_mean`` (highest and lowest dropped when at least
    ``trimmed_mean_min_scores`` scored). ``consensus`` has no formula: the chair records the panel's score."""
    method = method or scheme.panel.aggregation
    values = sorted(_decimal(t, "total") for t in totals)
    if not values:
        raise ValueError("no totals to aggregate")
    if method == "trimmed_mean" and len(values) >= scheme.panel.trimmed_mean_min_scores:
        values = values[1:-1]
    elif method not in ("mean", "trimmed_mean"):
        raise ValueError(f"aggregation {method!r} has no formula; the chair records the panel's score")
    return q(sum(values, ZERO) / len(values))


def aggregate_groups(scores: Iterable[tuple[str, Decimal]], *, scheme: SchemeSpec) -> Decimal:
    """``weighted_groups``: the mean of each scorer group's scores, weighted by the group's weight (e.g. three
    groups at 40/30/30). ``scores`` are (group code, score) pairs; every group of the scheme must have scored."""
    known = {g.code for g in scheme.panel.groups}
    by_group: dict[str, list[Decimal]] = {}
    for group, value in scores:
        if group not in known:
            raise ValueError(f"no such scorer group {group!r}")
        by_group.setdefault(group, []).append(_decimal(value, "score"))
    missing = [g.code for g in scheme.panel.groups if g.code not in by_group]
    if missing:
        raise ValueError(f"scorer group(s) without a score: {missing}")
    return q(sum((g.weight * sum(by_group[g.code], ZERO) / len(by_group[g.code]) for g in scheme.panel.groups),
                 ZERO))


def propose_assignment(rubric: Rubric, members: Iterable, *, every_member_scores_every_item: bool = False
                       ) -> dict:
    """The system's split of a rubric's items among the panel's members (DESIGN §3.5: by category, balanced by
    points). With ``every_member_scores_every_item`` each member has every item.

    Categories are the units handed out; while there are fewer units than members, the largest unit of several
    items is split into its items. The units then go, largest first (rubric order breaks ties), each to the
    member with the fewest points so far (the first such member in ``members`` order). Every item goes to
    exactly one member; a member may get nothing only when the rubric has fewer items than the panel has
    members. Returns ``{member: [item codes in rubric order]}`` for every member given."""
    members = list(members)
    if not members:
        raise ValueError("a panel has at least one member")
    order = {item.code: n for n, (_c, item) in enumerate(rubric.items())}
    if every_member_scores_every_item:
        return {m: list(order) for m in members}
    units = [[(i.code, i.max_points) for i in c.items] for c in rubric.categories]
    while len(units) < len(members):
        splittable = [u for u in units if len(u) > 1]
        if not splittable:
            break
        largest = max(splittable, key=lambda u: (sum(p for _c, p in u), -order[u[0][0]]))
        at = units.index(largest)
        units[at:at + 1] = [[part] for part in largest]
    units.sort(key=lambda u: (-sum(p for _c, p in u), order[u[0][0]]))
    load = {n: ZERO for n in range(len(members))}
    given: dict[int, list[str]] = {n: [] for n in range(len(members))}
    for unit in units:
        n = min(load, key=lambda k: (load[k], k))
        load[n] += sum(p for _c, p in unit)
        given[n] += [code for code, _p in unit]
    return {members[n]: sorted(codes, key=order.__getitem__) for n, codes in given.items()}


def onsite_passes(votes_for: int, members: int, *, scheme: SchemeSpec) -> bool:
    """An on-site evaluation passes with at least the scheme's majority (two thirds) of the members."""
    if members < 1 or not 0 <= votes_for <= members:
        raise ValueError("votes must be between 0 and the number of members")
    majority = Fraction(scheme.panel.onsite_majority).limit_denominator(1000)
    return Fraction(votes_for, members) >= majority


# --- Stored form of an entry -----------------------------------------------------------------------------
def entry_from_dict(data: Mapping) -> ItemEntry:
    """An :class:`ItemEntry` from its stored (JSON) form; numbers arrive as strings or ints, never floats."""

    def dec(value):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("a stored score is a string or an int, not a float")
        return Decimal(str(value))

    deductions = tuple(
        Deduction(points=dec(d.get("points")), reason=d.get("reason", ""), occurrence=d.get("occurrence", ""),
                  count=int(d.get("count", 1)), element=d.get("element", ""))
        for d in data.get("deductions", ())
    )
    return ItemEntry(
        deductions=deductions, units=dec(data.get("units")), achieved=dec(data.get("achieved")),
        rate=dec(data.get("rate")), defective=None if data.get("defective") is None else int(data["defective"]),
        unmet=frozenset(data.get("unmet", ())), bonus=dec(data.get("bonus")) or ZERO, veto=bool(data.get("veto")),
        reason=data.get("reason") or "", veto_reason=data.get("veto_reason") or "",
    )


def entry_to_dict(entry: ItemEntry) -> dict:
    """The stored (JSON) form of an entry: decimals as strings, empty parts left out."""
    out: dict = {}
    if entry.deductions:
        out["deductions"] = [
            {k: v for k, v in (("points", None if d.points is None else str(d.points)), ("reason", d.reason),
                               ("occurrence", d.occurrence), ("count", d.count if d.occurrence else None),
                               ("element", d.element)) if v not in (None, "")}
            for d in entry.deductions
        ]
    for name in ("units", "achieved", "rate"):
        if getattr(entry, name) is not None:
            out[name] = str(getattr(entry, name))
    if entry.defective is not None:
        out["defective"] = entry.defective
    if entry.unmet:
        out["unmet"] = sorted(entry.unmet)
    if entry.bonus:
        out["bonus"] = str(entry.bonus)
    if entry.veto:
        out["veto"] = True
    if entry.reason:
        out["reason"] = entry.reason
    if entry.veto_reason:
        out["veto_reason"] = entry.veto_reason
    return out
