"""Rubric scoring (DESIGN §3.5): an item's score under each rule kind, clamps, categories, total, pass or fail.

Pure functions, no database. Most tests score against ``SCHEME``: the top half of the shipped archives scheme
(grades, pass lines 80/90, panel parameters) copied here, with a small rubric of the tests' own, so they do not
depend on the 18 shipped items. The examples are the sources' own: 岳阳市教育局 2013 (0.2 per late report),
岳阳 2007 (bonus up to 30 % of the item) and 元江县 (91.5 points, 先进 → 合格 by a veto). Scores are ``Decimal`` with two places: ``str(points) == "2.00"`` checks both value and places.
"""

from decimal import Decimal

import pytest

from certification import rules
from certification.scheme import parse_scheme, shipped_scheme
from certification.scoring import Clamp, Deduction, ItemEntry, assess, assess_points, score_item

D = Decimal

ARCHIVES_TOP = """\
code: archives
version: 1
title: 湖北省机关档案工作目标管理等级考评
title_en: Graded assessment of government organs' archives work (Hubei)
source: 鄂档规〔2011〕1号
effective_from: "2011-01-01"
time_zone: Asia/Shanghai

grades:
  - code: second
    name: 省二级
    name_en: Provincial grade two
    rank: 1
    decision: score
    pass_line: 80
    rubric: standard
    key_item_zero_blocks: false
  - code: first
    name: 省一级
    name_en: Provincial grade one
    rank: 2
    decision: score
    pass_line: 90
    rubric: standard
    key_item_zero_blocks: true
  - code: special
    name: 省特级
    name_en: Provincial special grade
    rank: 3
    decision: onsite
    rubric: special
    open_to: [provincial, city, county]
    requires_system_guidance: true

promotion:
  step_by_step: true
  wait_years: 1

prerequisites:
  - code: registration
    text: 依法办理了档案登记
    text_en: Archives registration done as the law requires
  - code: central_management
    text: 机关档案实行了集中统一管理
    text_en: The organ's archives are centrally managed
  - code: transfer
    text: 按规定向同级国家综合档案馆移交了到期档案
    text_en: Archives that are due have been transferred to the state archives of the same level
    na_allowed: true
  - code: public_information
    text: 按要求向同级国家综合档案馆报送了已公开现行文件和相关信息
    text_en: Published current documents have been sent to the state archives of the same level
    na_allowed: true
  - code: no_safety_incident
    text: 两年内没有发生档案丢失、被盗、损毁、失泄密等档案安全事故
    text_en: No archives-safety incident (loss, theft, damage, leak) in the last two years
    check: incident_window
  - code: electronic_records
    text: 机关电子文件管理规范安全
    text_en: Electronic records are managed safely and to standard

gates:
  - code: subordinate_units_graded
    text: 所属单位及系统档案工作90%以上达到省二级以上
    text_en: At least 90 % of subordinate units hold provincial grade two or above
    grades: [special]
    check: subordinate_share
    min_share: 0.90
    min_grade: second
  - code: online_archiving
    text: 实现电子文件在线归档
    text_en: Electronic records are archived online
    grades: [special]

authority:
  provincial:
    second:  {promotion: {assess: province}, recheck: {assess: province}}
    first:   {promotion: {assess: province}, recheck: {assess: province}}
    special: {promotion: {assess: province}, recheck: {assess: province}}
  city:
    second:  {promotion: {assess: city}, recheck: {assess: city}}
    first:   {promotion: {assess: city}, recheck: {assess: city}}
    special: {promotion: {assess: province}, recheck: {assess: city, file_with: province}}
  county:
    second:  {promotion: {assess: county}, recheck: {assess: county}}
    first:   {promotion: {assess: city}, recheck: {assess: county, file_with: city}}
    special: {promotion: {assess: province}, recheck: {assess: city, file_with: province}}
  township:
    second:  {promotion: {assess: county}, recheck: {assess: county}}
    first:   {promotion: {assess: city}, recheck: {assess: county, file_with: city}}

panel:
  sizes:
    - {bureau_level: province, institution_level: county, grade: special, min: 7, max: 9}
    - {distance: 0, min: 3, max: 5}
    - {distance: 1, min: 5, max: 7}
    - {min: 5, max: 7}
  aggregation: consensus
  trimmed_mean_min_scores: 5
  discrepancy_share: 0.30
  conflict_employment_years: 3
  onsite_majority: 2/3
  onsite_sample_units: 3

stages: {precheck: true, notice: true, recheck: true}
times:
  declaration_opens: "01-01"
  declaration_closes: "03-31"
  special_forward_by: "03-31"
  rectification_days: 30
  notice_days: 7
  panel_scoring_days: 14
  panel_reminder_days_before: [3, 1]
  validity_years: 3
  recheck_window: {opens: year_start, min_days: 90}
  recheck_reminder_days_before: [90, 30, 7]
  incident_window_years: 2
  annual_summary: {due: "12-20", reminders: ["12-01", "12-15"]}
"""

TEST_RUBRICS = """
documents:
  letter_default: schemes/archives/confirmation_letter_second.html
  certificate_number: "测证〔{year}〕{serial:04d}号"
  certificate_title: 测试证书
  certificate_statement: "经考评，评为{grade}，特发此证。"
  application_form_title: 测试审批表
  letter_subject: 关于{institution}为{grade}的函
  letter_number: "测函〔{year}〕{serial}号"
  basis: 《测试办法》
  assessment: 测评
  work: 测试工作
  self_check_form_title: 测试自查表
  assessment_form_title: 测试评分表
  panel_roster_title: 测评组人员名单
  notice_lead: 现予公示。
  integrity_lead: "{bureau}实行廉政告知书制度。"
  annual_summary_title: "{bureau}{year}年测试汇总表"
  annual_summary_note: ""
rubrics:
  standard:
    title: 测试用考评标准 (tests only)
    max_points: 100
    categories:
      - code: org
        name: 组织与报送
        max_points: 20
        items:
          - code: late
            name: 及时报送其它资料和反馈信息
            max_points: 3
            rule:
              kind: per_occurrence
              occurrences:
                - {code: late, text: 迟交1次, points: 0.2}
                - {code: missing, text: 缺交1次, points: 0.5}
          - code: info
            name: 上报信息
            max_points: 3
            rule: {kind: capped_award, points: 1, cap: 3}
          - code: merit
            name: 宣传与信息工作
            max_points: 10
            rule: {kind: deduction}
            bonus: {share: 0.30}
          - code: central
            name: 集中统一管理
            max_points: 4
            key: true
      - code: rec
        name: 业务建设
        max_points: 30
        items:
          - code: elements
            name: 制度齐全
            max_points: 10
            rule: {kind: per_missing, points: 5, elements: [filing_rules, retention_table, catalogue, register]}
          - code: articles
            name: 发表文章
            max_points: 10
            rule: {kind: pro_rata, quota: 5}
          - code: leadership
            name: 分管领导与规划
            max_points: 2
            rule: {kind: sub_criteria}
            sub_criteria:
              - {code: leader, text: 明确分管领导, points: 0.5}
              - {code: duty, text: 岗位职责, points: 0.5}
              - {code: plan, text: 列入近期规划, points: 0.3}
              - {code: execute, text: 认真执行, points: 0.7}
          - code: rate
            name: 归档率
            max_points: 3
            rule: {kind: rate_band, full_at: 100, zero_at: 95}
          - code: sample
            name: 案卷抽查
            max_points: 5
            rule: {kind: sample_check, points: 0.5, sample_size: 12}
      - code: pub
        name: 舆情
        max_points: 20
        items:
          - code: press
            name: 宣传报道
            max_points: 20
          - code: neg_major
            name: 重点媒体负面报道
            max_points: 0
            rule: {kind: penalty}
            pool: media
          - code: neg_minor
            name: 其它媒体负面报道
            max_points: 0
            rule: {kind: penalty}
            pool: media
      - code: safe
        name: 安全
        max_points: 30
        items:
          - code: safety
            name: 档案安全
            max_points: 15
            veto: {scope: fail, text: 未经审批擅自销毁档案}
          - code: award
            name: 评先要素
            max_points: 15
            veto: {scope: tier, grades: [first], text: 涉及省一级一票否决的要素}
    pools:
      - {code: media, cap: 20, text: 此项扣分最多不超过20分}
  special:
    max_points: 100
    categories:
      - code: whole
        name: 系统档案工作
        max_points: 100
        items:
          - {code: system, name: 系统档案工作, max_points: 100}
"""

SCHEME = parse_scheme(ARCHIVES_TOP + TEST_RUBRICS, source="test-archives.yaml")
STANDARD = SCHEME.rubrics["standard"]

# The items that score zero on an empty entry: a perfect sheet records their facts.
PERFECT = {
    "info": ItemEntry(units=D(3)),
    "articles": ItemEntry(achieved=D(5)),
    "rate": ItemEntry(rate=D(100)),
}

# 篇5 of seeds/004_…: 91.5 points, 基本达到“教育工作先进县”的分值要求, but a veto factor of 先进 → 合格.
EDUCATION_SCHEME = parse_scheme(
    """\
code: education
version: 1
title: 县级人民政府教育工作督导评估
effective_from: "2013-01-01"
grades:
  - {code: qualified, name: 合格, rank: 1, pass_line: 60, rubric: county}
  - {code: advanced, name: 先进, rank: 2, pass_line: 90, rubric: county}
authority: {}
panel:
  sizes:
    - {min: 3, max: 5}
  aggregation: consensus
  discrepancy_share: 0.30
  conflict_employment_years: 3
  onsite_majority: 2/3
  onsite_sample_units: 3
time_zone: Asia/Shanghai
promotion: {step_by_step: false, wait_years: 0}
stages: {precheck: true, notice: false, recheck: false}
times:
  declaration_opens: "01-01"
  declaration_closes: "08-20"
  special_forward_by: "08-20"
  rectification_days: 25
  notice_days: 0
  panel_scoring_days: 14
  panel_reminder_days_before: [3, 1]
  validity_years: 1
  recheck_window: {opens: year_start, min_days: 0}
  recheck_reminder_days_before: []
  incident_window_years: 0
  annual_summary: {due: "12-20", reminders: ["12-01", "12-15"]}
documents:
  letter_default: schemes/archives/confirmation_letter_second.html
  certificate_number: "测证〔{year}〕{serial:04d}号"
  certificate_title: 测试证书
  certificate_statement: "经考评，评为{grade}，特发此证。"
  application_form_title: 测试审批表
  letter_subject: 关于{institution}为{grade}的函
  letter_number: "测函〔{year}〕{serial}号"
  basis: 《测试办法》
  assessment: 测评
  work: 测试工作
  self_check_form_title: 测试自查表
  assessment_form_title: 测试评分表
  panel_roster_title: 测评组人员名单
  notice_lead: 现予公示。
  integrity_lead: "{bureau}实行廉政告知书制度。"
  annual_summary_title: "{bureau}{year}年测试汇总表"
  annual_summary_note: ""
rubrics:
  county:
    max_points: 100
    categories:
      - code: edu
        name: 教育工作
        max_points: 100
        items:
          - {code: work, name: 教育工作, max_points: 90}
          - code: factor
            name: 先进县否决要素
            max_points: 10
            veto: {scope: tier, grades: [advanced], text: 涉及“教育工作先进县”一票否决的要素}
""",
    source="test-education.yaml",
)

# A grade that requires every category to reach 80 % of its maximum.
FLOOR_SCHEME = parse_scheme(
    """\
code: floors
version: 1
title: 分类最低分
effective_from: "2020-01-01"
grades:
  - {code: pass, name: 合格, rank: 1, pass_line: 60, rubric: r, category_floor_share: 0.80}
authority: {}
panel:
  sizes:
    - {min: 3, max: 5}
  aggregation: consensus
  discrepancy_share: 0.30
  conflict_employment_years: 3
  onsite_majority: 2/3
  onsite_sample_units: 3
time_zone: Asia/Shanghai
promotion: {step_by_step: false, wait_years: 0}
stages: {precheck: true, notice: false, recheck: false}
times:
  declaration_opens: "01-01"
  declaration_closes: "08-20"
  special_forward_by: "08-20"
  rectification_days: 25
  notice_days: 0
  panel_scoring_days: 14
  panel_reminder_days_before: [3, 1]
  validity_years: 1
  recheck_window: {opens: year_start, min_days: 0}
  recheck_reminder_days_before: []
  incident_window_years: 0
  annual_summary: {due: "12-20", reminders: ["12-01", "12-15"]}
documents:
  letter_default: schemes/archives/confirmation_letter_second.html
  certificate_number: "测证〔{year}〕{serial:04d}号"
  certificate_title: 测试证书
  certificate_statement: "经考评，评为{grade}，特发此证。"
  application_form_title: 测试审批表
  letter_subject: 关于{institution}为{grade}的函
  letter_number: "测函〔{year}〕{serial}号"
  basis: 《测试办法》
  assessment: 测评
  work: 测试工作
  self_check_form_title: 测试自查表
  assessment_form_title: 测试评分表
  panel_roster_title: 测评组人员名单
  notice_lead: 现予公示。
  integrity_lead: "{bureau}实行廉政告知书制度。"
  annual_summary_title: "{bureau}{year}年测试汇总表"
  annual_summary_note: ""
rubrics:
  r:
    max_points: 100
    categories:
      - code: a
        name: 甲
        max_points: 50
        items:
          - {code: a1, name: 甲一, max_points: 50}
      - code: b
        name: 乙
        max_points: 50
        items:
          - {code: b1, name: 乙一, max_points: 50}
""",
    source="test-floors.yaml",
)


def deduct(*points):
    return tuple(Deduction(points=D(p), reason="测试扣分") for p in points)


def score(code, **entry):
    return score_item(STANDARD.item(code), ItemEntry(**entry))


def sheet(**entries):
    return assess(PERFECT | entries, scheme=SCHEME)


def sheet_totalling(total, **entries):
    """A sheet whose total is ``total``: the points are taken from ``press`` (20) and then ``merit`` (10)."""
    lost = D(100) - D(total)
    from_press = min(lost, D(20))
    entries = {"press": ItemEntry(deductions=deduct(from_press))} | entries
    if lost > from_press:
        entries["merit"] = ItemEntry(deductions=deduct(lost - from_press))
    return sheet(**entries)


# --- The test scheme itself ------------------------------------------------------------------------------
def test_scheme_test_rubric_is_100_points_with_pass_lines_80_and_90():
    assert STANDARD.max_points == D(100)
    assert SCHEME.grade("second").pass_line == D(80)
    assert SCHEME.grade("first").pass_line == D(90)


def test_assess_perfect_sheet_scores_100_and_places_first():
    result = sheet()
    assert str(result.total) == "100.00"
    assert result.placed_grade == "first"


# --- per_occurrence: 迟交1次扣0.2分 (seeds/000_…), floored at zero ---------------------------------------
@pytest.mark.parametrize(
    ("late", "missing", "expected", "clamps"),
    [
        (0, 0, "3.00", ()),
        (1, 0, "2.80", ()),
        (5, 0, "2.00", ()),
        (14, 0, "0.20", ()),
        (15, 0, "0.00", ()),
        (16, 0, "0.00", (Clamp("floor", D(0), D("-0.20")),)),
        (2, 1, "2.10", ()),
        (0, 6, "0.00", ()),
        (0, 7, "0.00", (Clamp("floor", D(0), D("-0.50")),)),
    ],
)
def test_score_item_per_occurrence_table(late, missing, expected, clamps):
    lines = (
        Deduction(occurrence="late", count=late, reason="迟交"),
        Deduction(occurrence="missing", count=missing, reason="缺交"),
    )
    result = score("late", deductions=lines)
    assert str(result.points) == expected
    assert result.clamps == clamps


def test_score_item_per_occurrence_16_late_reports_floor_clamp_reported():
    result = score("late", deductions=(Deduction(occurrence="late", count=16, reason="迟交"),))
    assert str(result.points) == "0.00"
    assert result.raw == D("-0.20")
    assert result.clamped is True
    assert [c.kind for c in result.clamps] == ["floor"]
    assert result.clamps[0].limit == D(0)
    assert result.clamps[0].before == D("-0.20")


def test_score_item_per_occurrence_one_line_per_late_report():
    result = score(
        "late", deductions=tuple(Deduction(occurrence="late", reason=f"第{n}次迟交") for n in range(5))
    )
    assert str(result.points) == "2.00"


# --- per_missing: 缺一项扣5分 ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("missing", "expected", "clamps"),
    [
        ((), "10.00", ()),
        (("catalogue",), "5.00", ()),
        (("catalogue", "register"), "0.00", ()),
        (("catalogue", "register", "filing_rules"), "0.00", (Clamp("floor", D(0), D("-5.00")),)),
    ],
)
def test_score_item_per_missing_table(missing, expected, clamps):
    result = score("elements", deductions=tuple(Deduction(element=e, reason="缺") for e in missing))
    assert str(result.points) == expected
    assert result.clamps == clamps


# --- capped_award: 采纳1条计1分，最多不超过3分 -------------------------------------------------------------
@pytest.mark.parametrize(
    ("adopted", "expected", "clamps"),
    [
        (0, "0.00", ()),
        (1, "1.00", ()),
        (2, "2.00", ()),
        (3, "3.00", ()),
        (4, "3.00", (Clamp("ceiling", D(3), D(4)),)),
        (5, "3.00", (Clamp("ceiling", D(3), D(5)),)),
    ],
)
def test_score_item_capped_award_table(adopted, expected, clamps):
    result = score("info", units=D(adopted))
    assert str(result.points) == expected
    assert result.clamps == clamps


# --- pro_rata against a quota, capped: 完成任务按比例加分/扣分 ----------------------------------------------
@pytest.mark.parametrize(
    ("achieved", "expected", "clamps"),
    [
        ("0", "0.00", ()),
        ("1", "2.00", ()),
        ("2.5", "5.00", ()),
        ("3", "6.00", ()),
        ("5", "10.00", ()),
        ("7", "10.00", (Clamp("ceiling", D(10), D(14)),)),
    ],
)
def test_score_item_pro_rata_table(achieved, expected, clamps):
    result = score("articles", achieved=D(achieved))
    assert str(result.points) == expected
    assert result.clamps == clamps


# --- sub_criteria with fractional points (0.5 / 0.5 / 0.3 / 0.7) ----------------------------------------
@pytest.mark.parametrize(
    ("unmet", "expected"),
    [
        (frozenset(), "2.00"),
        (frozenset({"plan"}), "1.70"),
        (frozenset({"leader"}), "1.50"),
        (frozenset({"plan", "execute"}), "1.00"),
        (frozenset({"leader", "plan"}), "1.20"),
        (frozenset({"leader", "duty", "plan", "execute"}), "0.00"),
    ],
)
def test_score_item_sub_criteria_unmet_table(unmet, expected):
    assert str(score("leadership", unmet=unmet).points) == expected


def test_score_item_sub_criteria_partial_deduction_within_a_sub_criterion():
    result = score(
        "leadership", deductions=(Deduction(points=D("0.2"), element="execute", reason="执行不力"),)
    )
    assert str(result.points) == "1.80"
    assert result.clamps == ()


def test_score_item_sub_criteria_deduction_above_its_points_is_clamped_and_reported():
    result = score("leadership", deductions=(Deduction(points=D("0.8"), element="leader", reason="未明确"),))
    assert str(result.points) == "1.50"
    assert result.clamps == (Clamp("sub_criterion", D("0.5"), D("0.8")),)


# --- rate_band: 100 % → full, 96–99 % → pro rata, ≤ 95 % → 0 ---------------------------------------------
@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("100", "3.00"),
        ("99", "2.40"),
        ("98", "1.80"),
        ("97", "1.20"),
        ("96", "0.60"),
        ("95", "0.00"),
        ("90", "0.00"),
        ("0", "0.00"),
    ],
)
def test_score_item_rate_band_table(rate, expected):
    assert str(score("rate", rate=D(rate)).points) == expected


@pytest.mark.parametrize("rate", ["96", "97", "98", "99", "99.9"])
def test_score_item_rate_band_96_to_99_is_strictly_between_zero_and_full(rate):
    points = score("rate", rate=D(rate)).points
    assert (D(0) < points < D(3)) is True


# --- sample_check: 12 files sampled, 0.5 per defective file ---------------------------------------------
@pytest.mark.parametrize(
    ("defective", "expected", "clamps"),
    [
        (0, "5.00", ()),
        (1, "4.50", ()),
        (4, "3.00", ()),
        (10, "0.00", ()),
        (11, "0.00", (Clamp("floor", D(0), D("-0.50")),)),
        (12, "0.00", (Clamp("floor", D(0), D("-1.00")),)),
    ],
)
def test_score_item_sample_check_table(defective, expected, clamps):
    result = score("sample", defective=defective)
    assert str(result.points) == expected
    assert result.clamps == clamps


def test_score_item_sample_check_more_defective_than_sampled_raises_value_error():
    with pytest.raises(ValueError):
        score("sample", defective=13)


# --- free deduction (扣分, 扣分原因) ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("points", "expected", "clamps"),
    [
        ((), "20.00", ()),
        (("0.5",), "19.50", ()),
        (("1", "2.25"), "16.75", ()),
        (("20",), "0.00", ()),
        (("15", "6"), "0.00", (Clamp("floor", D(0), D(-1)),)),
    ],
)
def test_score_item_deduction_table(points, expected, clamps):
    result = score("press", deductions=deduct(*points))
    assert str(result.points) == expected
    assert result.clamps == clamps


# --- bonus: 酌情加分（不超过单项分的30%）(seeds/001_…) ---------------------------------------------------
def test_score_item_bonus_10_point_item_claiming_5_gets_3_with_bonus_cap_clamp():
    result = score("merit", bonus=D(5))
    assert str(result.bonus) == "3.00"
    assert str(result.points) == "13.00"
    assert result.clamps == (Clamp("bonus_cap", D(3), D(5)),)


@pytest.mark.parametrize(
    ("claimed", "awarded", "clamped"),
    [("0", "0.00", False), ("2", "2.00", False), ("3", "3.00", False), ("3.01", "3.00", True)],
)
def test_score_item_bonus_table(claimed, awarded, clamped):
    result = score("merit", bonus=D(claimed))
    assert str(result.bonus) == awarded
    assert result.clamped == clamped


def test_score_item_bonus_adds_to_the_points_after_deductions():
    result = score("merit", deductions=deduct("4"), bonus=D(5))
    assert str(result.points) == "9.00"


# --- penalty pool: 此项扣分最多不超过20分 (seeds/000_…) -----------------------------------------------------
def test_assess_penalty_pool_capped_at_20():
    result = sheet(neg_major=ItemEntry(deductions=deduct("6", "6", "6", "6")))
    pool = result.pools["media"]
    assert str(pool.deducted_raw) == "24.00"
    assert str(pool.deducted) == "20.00"
    assert pool.clamped is True
    assert str(result.categories["pub"].points) == "0.00"
    assert str(result.total) == "80.00"


def test_assess_penalty_pool_across_two_items_capped_at_20():
    result = sheet(
        neg_major=ItemEntry(deductions=deduct("6", "6")),
        neg_minor=ItemEntry(deductions=deduct("3", "3", "3")),
    )
    assert str(result.pools["media"].deducted_raw) == "21.00"
    assert str(result.pools["media"].deducted) == "20.00"
    assert str(result.total) == "80.00"


def test_assess_penalty_pool_below_the_cap_not_clamped():
    result = sheet(
        neg_major=ItemEntry(deductions=deduct("6", "6")), neg_minor=ItemEntry(deductions=deduct("1"))
    )
    assert str(result.pools["media"].deducted) == "13.00"
    assert result.pools["media"].clamped is False
    assert str(result.categories["pub"].points) == "7.00"
    assert str(result.total) == "87.00"


# --- Decimal with two places, never float ---------------------------------------------------------------
def test_score_item_result_is_decimal_with_two_places():
    result = score("info", units=D(2))
    assert type(result.points) is Decimal
    assert result.points.as_tuple().exponent == -2
    assert type(result.raw) is Decimal


def test_assess_totals_are_decimal_with_two_places():
    result = sheet(late=ItemEntry(deductions=(Deduction(occurrence="late", count=3),)))
    assert type(result.total) is Decimal
    assert result.total.as_tuple().exponent == -2
    assert [c.points.as_tuple().exponent for c in result.categories.values()] == [-2, -2, -2, -2]
    assert str(result.total) == "99.40"


@pytest.mark.parametrize(
    ("code", "entry"),
    [
        ("press", ItemEntry(deductions=(Deduction(points=0.5, reason="float"),))),
        ("rate", ItemEntry(rate=99.5)),
        ("info", ItemEntry(units=2.0)),
        ("articles", ItemEntry(achieved=3.0)),
        ("merit", ItemEntry(bonus=1.5)),
        ("leadership", ItemEntry(deductions=(Deduction(points=0.2, element="plan"),))),
    ],
)
def test_score_item_float_input_raises_type_error(code, entry):
    with pytest.raises(TypeError):
        score_item(STANDARD.item(code), entry)


@pytest.mark.parametrize(
    ("code", "entry"),
    [
        ("press", ItemEntry(deductions=deduct("-1"))),
        ("merit", ItemEntry(deductions=deduct("2", "-0.5"))),
        ("neg_major", ItemEntry(deductions=deduct("-6"))),
        ("late", ItemEntry(deductions=(Deduction(occurrence="late", count=-1),))),
        ("merit", ItemEntry(bonus=D(-1))),
        ("info", ItemEntry(units=D(-1))),
    ],
)
def test_score_item_negative_deduction_raises_value_error(code, entry):
    with pytest.raises(ValueError):
        score_item(STANDARD.item(code), entry)


# --- Categories and total -------------------------------------------------------------------------------
def test_assess_categories_and_total():
    result = sheet(
        late=ItemEntry(deductions=(Deduction(occurrence="late", count=5),)),
        elements=ItemEntry(deductions=(Deduction(element="catalogue"),)),
        rate=ItemEntry(rate=D(98)),
    )
    assert {code: str(c.points) for code, c in result.categories.items()} == {
        "org": "19.00",
        "rec": "23.80",
        "pub": "20.00",
        "safe": "30.00",
    }
    assert str(result.total) == "92.80"


def test_assess_item_clamp_is_reported_in_the_assessment():
    result = sheet(late=ItemEntry(deductions=(Deduction(occurrence="late", count=16),)))
    assert result.items["late"].clamps == (Clamp("floor", D(0), D("-0.20")),)
    assert str(result.total) == "97.00"


# --- Pass lines 80 / 90 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("total", "second", "first", "placed"),
    [
        ("79.99", False, False, None),
        ("80.00", True, False, "second"),
        ("80.01", True, False, "second"),
        ("89.99", True, False, "second"),
        ("90.00", True, True, "first"),
        ("100.00", True, True, "first"),
        ("70.00", False, False, None),
    ],
)
def test_assess_pass_lines_table(total, second, first, placed):
    result = sheet_totalling(total)
    assert str(result.total) == total
    assert result.passes("second") == second
    assert result.passes("first") == first
    assert result.placed_grade == placed


def test_assess_pass_line_failure_names_the_pass_line():
    result = sheet_totalling("79.99")
    assert result.grades["second"].reasons == ("pass_line",)


# --- Key item (★): scored zero blocks first, not second ------------------------------------------------
def test_assess_key_item_zero_blocks_first_but_not_second():
    result = sheet(central=ItemEntry(deductions=deduct("4")))
    assert str(result.total) == "96.00"
    assert result.passes("first") is False
    assert result.grades["first"].reasons == ("key_item_zero:central",)
    assert result.passes("second") is True
    assert result.placed_grade == "second"


def test_assess_key_item_just_above_zero_does_not_block_first():
    result = sheet(central=ItemEntry(deductions=deduct("3.99")))
    assert result.passes("first") is True
    assert result.placed_grade == "first"


# --- Category floor -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("b_lost", "passed", "reasons"),
    [
        ("0", True, ()),
        ("10", True, ()),  # 40 of 50 is exactly 80 %
        ("10.01", False, ("category_floor:b",)),  # 39.99 of 50; the total 89.99 is far above 60
        ("30", False, ("category_floor:b",)),
    ],
)
def test_assess_category_floor(b_lost, passed, reasons):
    result = assess({"b1": ItemEntry(deductions=deduct(b_lost))}, scheme=FLOOR_SCHEME)
    assert result.passes("pass") == passed
    assert result.grades["pass"].reasons == reasons


# --- Vetoes ---------------------------------------------------------------------------------------------
def test_assess_fail_veto_fails_every_grade_whatever_the_total():
    result = sheet(safety=ItemEntry(veto=True))
    assert str(result.total) == "100.00"
    assert result.passes("second") is False
    assert result.passes("first") is False
    assert result.grades["second"].reasons == ("veto:safety",)
    assert result.failed_by_veto is True
    assert result.placed_grade is None


def test_assess_veto_not_confirmed_does_not_count():
    result = sheet(safety=ItemEntry(veto=False))
    assert result.vetoes == ()
    assert result.placed_grade == "first"


def test_assess_archives_91_5_with_a_tier_veto_of_first_is_placed_second():
    result = sheet_totalling("91.5", award=ItemEntry(veto=True))
    assert str(result.total) == "91.50"
    assert result.passes("first") is False
    assert result.grades["first"].reasons == ("veto:award",)
    assert result.passes("second") is True
    assert result.placed_grade == "second"
    assert result.failed_by_veto is False


def test_assess_archives_91_5_without_veto_is_placed_first():
    assert sheet_totalling("91.5").placed_grade == "first"


def test_assess_seed_004_91_5_with_advanced_veto_is_placed_qualified():
    # 篇5: 复评分为91.5分 … 涉及“教育工作先进县”一票否决的要素 … 同意将元江县作为“教育工作合格县”
    entries = {"work": ItemEntry(deductions=deduct("8.5")), "factor": ItemEntry(veto=True)}
    result = assess(entries, scheme=EDUCATION_SCHEME)
    assert str(result.total) == "91.50"
    assert result.passes("advanced") is False
    assert result.grades["advanced"].reasons == ("veto:factor",)
    assert result.passes("qualified") is True
    assert result.placed_grade == "qualified"


def test_assess_seed_004_91_5_without_veto_is_placed_advanced():
    result = assess({"work": ItemEntry(deductions=deduct("8.5"))}, scheme=EDUCATION_SCHEME)
    assert result.placed_grade == "advanced"


# --- Consolidation (合议): flag a spread above 30 % of the item's maximum, prefill the mean ----------------
@pytest.mark.parametrize(
    ("proposals", "max_points", "prefill", "spread", "flagged"),
    [
        (("7", "10"), "10", "8.50", "3.00", False),  # exactly 30 %: not above
        (("6.99", "10"), "10", "8.50", "3.01", True),
        (("0", "2"), "6", "1.00", "2.00", True),  # 2 > 1.8
        (("1", "2", "2"), "5", "1.67", "1.00", False),
        (("4",), "4", "4.00", "0.00", False),
        (("8", "9", "10"), "10", "9.00", "2.00", False),
    ],
)
def test_consolidate_item_table(proposals, max_points, prefill, spread, flagged):
    result = rules.consolidate_item([D(p) for p in proposals], D(max_points), scheme=SCHEME)
    assert str(result.prefill) == prefill
    assert str(result.spread) == spread
    assert result.flagged == flagged


def test_consolidate_item_float_raises_type_error():
    with pytest.raises(TypeError):
        rules.consolidate_item([7.5, D(8)], D(10), scheme=SCHEME)


# --- Aggregation of members' totals --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("totals", "method", "expected"),
    [
        (("80", "85", "90", "95"), "trimmed_mean", "87.50"),  # four scores: nothing dropped
        (("70", "85", "86", "87", "99"), "trimmed_mean", "86.00"),  # five: 70 and 99 dropped
        (("80", "80", "90", "100", "100"), "trimmed_mean", "90.00"),  # one highest and one lowest only
        (("60", "80", "82", "84", "86", "100"), "trimmed_mean", "83.00"),
        (("70", "85", "86", "87", "99"), "mean", "85.40"),
        (("80", "85"), "mean", "82.50"),
    ],
)
def test_aggregate_totals_table(totals, method, expected):
    assert str(rules.aggregate_totals([D(t) for t in totals], method=method, scheme=SCHEME)) == expected


def test_aggregate_totals_float_raises_type_error():
    with pytest.raises(TypeError):
        rules.aggregate_totals([80.5, D(90)], method="mean", scheme=SCHEME)


# --- On-site evaluation: two-thirds majority ------------------------------------------------------------
@pytest.mark.parametrize(
    ("votes_for", "members", "passed"),
    [
        (4, 6, True),
        (3, 5, False),
        (6, 9, True),
        (5, 9, False),
        (2, 3, True),
        (1, 3, False),
        (5, 7, True),
        (4, 7, False),
        (7, 7, True),
    ],
)
def test_onsite_passes_two_thirds_table(votes_for, members, passed):
    assert rules.onsite_passes(votes_for, members, scheme=SCHEME) == passed


@pytest.mark.parametrize(("votes_for", "members", "passed"), [(4, 6, True), (3, 5, False), (6, 9, True)])
def test_onsite_passes_archives_scheme(votes_for, members, passed):
    assert rules.onsite_passes(votes_for, members, scheme=ARCHIVES) == passed


# --- The shipped rubric (certification/schemes/archives-v2.yaml) ---------------------------------------
def test_archives_scheme_rubric_is_100_points_five_categories_18_items():
    rubric = shipped_scheme("archives").rubric_for("second")
    assert rubric.max_points == D(100)
    assert [c.max_points for c in rubric.categories] == [D(22), D(18), D(35), D(15), D(10)]
    assert len(rubric.items()) == 18


def test_archives_scheme_first_and_second_share_one_rubric():
    scheme = shipped_scheme("archives")
    assert scheme.grade("first").rubric == scheme.grade("second").rubric
    assert scheme.grade("special").rubric != scheme.grade("second").rubric


def test_archives_scheme_perfect_sheet_places_first():
    result = assess({}, scheme=shipped_scheme("archives"))
    assert str(result.total) == "100.00"
    assert result.placed_grade == "first"


# --- Key sub-criteria (★), vetoes on panel points, the split of items (issue 13) ---------------------------------
ARCHIVES = shipped_scheme("archives")


@pytest.mark.parametrize("entry", [
    ItemEntry(unmet=frozenset({"b"}), reason="库房与办公室合用"),
    ItemEntry(deductions=(Deduction(points=D(3), element="b", reason="未做到三分开"),)),
])
def test_a_failed_key_sub_criterion_blocks_first_and_not_second(entry):
    result = assess({"5": entry}, scheme=ARCHIVES)
    assert (result.total, result.failed_key_subs) == (D("97.00"), ("5.b",))
    assert (result.grades["first"].passed, result.grades["first"].reasons) == (False, ("key_sub_criterion:5.b",))
    assert (result.grades["second"].passed, result.placed_grade) == (True, "second")


def test_a_key_sub_criterion_partly_deducted_still_counts_as_met():
    result = assess({"5": ItemEntry(deductions=(Deduction(points=D(2), element="b", reason="阅览室兼作办公"),))},
                    scheme=ARCHIVES)
    assert (result.total, result.failed_key_subs, result.placed_grade) == (D("98.00"), (), "first")


def test_panel_points_carry_the_failed_key_sub_criteria_and_vetoes():
    points = {i.code: i.max_points for _c, i in ARCHIVES.rubrics["standard"].items()}
    points["5"] = D(5)
    keyed = assess_points(points, failed_key_subs=["5.b"], scheme=ARCHIVES)
    assert (keyed.total, keyed.grades["first"].reasons, keyed.grades["second"].passed) == (
        D("97.00"), ("key_sub_criterion:5.b",), True)
    vetoed = assess_points(points, vetoes=["11"], scheme=ARCHIVES)
    assert (vetoed.failed_by_veto, vetoed.placed_grade) == (True, None)
    with pytest.raises(ValueError):
        assess_points(points, failed_key_subs=["5.a"], scheme=ARCHIVES)  # 5a is not a key sub-criterion


@pytest.mark.parametrize(("members", "loads"), [
    (3, [35, 32, 33]), (5, [35, 22, 18, 15, 10]), (7, [22, 18, 15, 15, 10, 10, 10]),
])
def test_the_proposed_split_is_by_category_balanced_by_points_and_covers_every_item_once(members, loads):
    from certification.scoring import propose_assignment

    rubric = ARCHIVES.rubrics["standard"]
    split = propose_assignment(rubric, list(range(members)))
    given = [code for codes in split.values() for code in codes]
    assert sorted(given, key=int) == [i.code for _c, i in rubric.items()]
    assert [sum(rubric.item(c).max_points for c in split[m]) for m in range(members)] == loads
    assert propose_assignment(rubric, ["a", "b"], every_member_scores_every_item=True)["b"] == sorted(given, key=int)
