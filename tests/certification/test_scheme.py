"""The scheme file format (DESIGN §3.7): the shipped schemes load, and broken files fail with located errors.

Plain functions: no database, only ``certification.scheme`` and ``certification.exceptions``.
"""

from decimal import Decimal

import pytest
import yaml

from certification.exceptions import SchemeError
from certification.scheme import (
    SCHEMES_DIR,
    SchemeSpec,
    load_scheme_file,
    parse_scheme,
    shipped_scheme,
    shipped_scheme_file,
    shipped_scheme_files,
)

YUEYANG_FILE = SCHEMES_DIR / "yueyang-office-2013.yaml"
ARCHIVES_TEXT = shipped_scheme_file("archives").read_text(encoding="utf-8")
YUEYANG_TEXT = YUEYANG_FILE.read_text(encoding="utf-8")

MINIMAL = """\
code: tiny
version: 1
title: 最小方案
effective_from: "2024-01-01"
grades:
  - {code: pass, name: 合格, rank: 1, pass_line: 6, rubric: main}
authority: {}
panel: {aggregation: consensus, discrepancy_share: 0.30, conflict_employment_years: 3, onsite_majority: 2/3,
        onsite_sample_units: 3, sizes: [
    {min: 3, max: 5}]}
rubrics:
  main:
    max_points: 15
    categories:
      - code: "1"
        name: 第一类别
        max_points: 10
        items:
          - code: "1.1"
            name: 第一项目
            max_points: 6
            rule: {kind: deduction}
          - code: "1.2"
            name: 第二项目
            max_points: 4
      - code: "2"
        name: 第二类别
        max_points: 5
        items:
          - {code: "2.1", name: 第三项目, max_points: 5}
documents:
  letter_default: schemes/archives/confirmation_letter_second.html
  certificate_number: "小证〔{year}〕{serial:04d}号"
  certificate_title: 最小方案证书
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
time_zone: Asia/Shanghai
promotion: {step_by_step: false, wait_years: 0}
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


def edited(text: str, old: str, new: str) -> str:
    """``text`` with the one occurrence of ``old`` replaced: a test that edits nothing is a broken test."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def scheme_errors(text: str) -> list[tuple[str, str]]:
    with pytest.raises(SchemeError) as exc:
        parse_scheme(text)
    return exc.value.errors


# --- the shipped archives scheme ----------------------------------------------------------------------------
def test_archives_scheme_loads_as_the_default():
    spec = load_scheme_file(shipped_scheme_file("archives"))
    assert isinstance(spec, SchemeSpec)
    assert (spec.code, spec.version) == ("archives", 2)
    assert shipped_scheme("archives") == spec


def test_every_shipped_scheme_file_loads():
    names = [path.name for path in shipped_scheme_files()]
    assert {"archives-v1.yaml", "archives-v2.yaml"} <= set(names)
    assert "yueyang-office-2013.yaml" in names
    for path in shipped_scheme_files():
        assert load_scheme_file(path).rubrics


def test_archives_standard_rubric_has_five_categories_with_their_maxima():
    rubric = shipped_scheme("archives").rubrics["standard"]
    assert [(c.code, c.name, c.max_points) for c in rubric.categories] == [
        ("1", "组织管理", 22), ("2", "硬件建设", 18), ("3", "基础业务", 35), ("4", "档案信息化", 15), ("5", "开发利用", 10)]
    assert rubric.max_points == 100


def test_archives_standard_rubric_has_eighteen_items_totalling_100():
    rubric = shipped_scheme("archives").rubrics["standard"]
    items = [item for _category, item in rubric.items()]
    assert [item.code for item in items] == [str(n) for n in range(1, 19)]
    assert sum(item.max_points for item in items) == Decimal(100)


def test_archives_sub_criteria_add_up_to_their_item():
    for _category, item in shipped_scheme("archives").rubrics["standard"].items():
        if item.rule.kind == "sub_criteria":
            assert sum(s.points for s in item.sub_criteria) == item.max_points, item.code


def test_archives_rule_kinds_per_item():
    rubric = shipped_scheme("archives").rubrics["standard"]
    kinds = {item.code: item.rule.kind for _c, item in rubric.items()}
    assert {code for code, kind in kinds.items() if kind == "per_missing"} == {"2", "10", "17"}
    assert kinds["18"] == "deduction"
    assert {code for code, kind in kinds.items() if kind == "sub_criteria"} == {
        "1", "3", "4", "5", "6", "7", "8", "9", "11", "12", "13", "14", "15", "16"}
    assert rubric.item("2").rule.elements == ("归档", "保管", "保密", "利用", "鉴定销毁", "移交", "统计", "安全")
    assert rubric.item("2").rule.points == Decimal(1)


def test_archives_item_18_earns_a_bonus_of_30_percent():
    item = shipped_scheme("archives").rubrics["standard"].item("18")
    assert item.bonus is not None
    assert (item.bonus.share, item.bonus.of) == (Decimal("0.30"), "item")


def test_archives_pass_lines_are_80_and_90_and_special_is_onsite():
    spec = shipped_scheme("archives")
    assert [(g.code, g.rank, g.pass_line) for g in spec.grades_by_rank()] == [
        ("second", 1, 80), ("first", 2, 90), ("special", 3, None)]
    assert spec.grade("special").decision == "onsite"
    assert spec.grade("first").key_item_zero_blocks is True


def test_archives_special_is_open_only_above_township_with_system_guidance():
    special = shipped_scheme("archives").grade("special")
    assert special.open_to == ("provincial", "city", "county")
    assert special.requires_system_guidance is True
    assert shipped_scheme("archives").grade("second").open_to == ("provincial", "city", "county", "township")


def test_archives_special_rubric_is_the_standard_rubric():
    spec = shipped_scheme("archives")
    assert spec.rubric_for("special") == spec.rubrics["standard"]
    assert spec.rubric_for("first") == spec.rubric_for("second")


def test_archives_six_prerequisites_allow_na_only_on_transfer_and_public_information():
    prerequisites = shipped_scheme("archives").prerequisites
    assert [p.code for p in prerequisites] == [
        "registration", "central_management", "transfer", "public_information", "no_safety_incident",
        "electronic_records"]
    assert {p.code for p in prerequisites if p.na_allowed} == {"transfer", "public_information"}
    assert [p.code for p in prerequisites if p.check == "incident_window"] == ["no_safety_incident"]


def test_archives_key_items_are_1_5_6_8_12():
    rubric = shipped_scheme("archives").rubrics["standard"]
    assert {item.code for _c, item in rubric.items() if item.key} == {"1", "5", "6", "8", "12"}
    key_subs = {(item.code, s.code) for _c, item in rubric.items() for s in item.sub_criteria if s.key}
    assert key_subs == {("1", "d"), ("5", "b"), ("6", "c"), ("8", "a"), ("12", "a")}


def test_archives_item_11_carries_a_fail_veto_and_no_other_item_does():
    rubric = shipped_scheme("archives").rubrics["standard"]
    assert {item.code for _c, item in rubric.items() if item.veto is not None} == {"11"}
    veto = rubric.item("11").veto
    assert (veto.scope, veto.grades, veto.text) == ("fail", (), "未经审批擅自销毁档案")


def test_archives_gates_apply_to_special_only():
    gates = shipped_scheme("archives").gates
    assert [(g.code, g.grades) for g in gates] == [
        ("subordinate_units_graded", ("special",)), ("online_archiving", ("special",))]
    assert (gates[0].min_share, gates[0].min_grade) == (Decimal("0.90"), "second")


def test_archives_authority_matrix_matches_article_nine():
    authority = shipped_scheme("archives").authority
    assert authority["county"]["first"]["promotion"].assess == "city"
    assert (authority["county"]["first"]["recheck"].assess, authority["county"]["first"]["recheck"].file_with) == (
        "county", "city")
    assert authority["city"]["special"]["promotion"].assess == "province"
    assert "special" not in authority["township"]


def test_decimals_load_as_decimal_not_float():
    rubric = shipped_scheme("archives").rubrics["standard"]
    points = rubric.item("6").sub_criteria[0].points
    assert points == Decimal("1.5")
    assert type(points) is Decimal
    yueyang = load_scheme_file(YUEYANG_FILE)
    late = yueyang.rubrics["standard"].item("2.3").rule.occurrences[0]
    assert type(late.points) is Decimal
    assert late.points == Decimal("0.2")
    assert str(late.points) == "0.2"


# --- digest ----------------------------------------------------------------------------------------------------
def test_digest_is_stable_across_loads_and_a_json_round_trip():
    first = load_scheme_file(shipped_scheme_file("archives"))
    again = parse_scheme(ARCHIVES_TEXT + "\n# a comment changes nothing\n")
    assert first.digest() == again.digest()
    assert SchemeSpec.model_validate(first.to_json()).digest() == first.digest()
    assert len(first.digest()) == 64


def test_digest_changes_when_a_value_changes():
    changed = parse_scheme(edited(ARCHIVES_TEXT, "discrepancy_share: 0.30", "discrepancy_share: 0.25"))
    assert changed.digest() != shipped_scheme("archives").digest()


# --- the yueyang scheme ---------------------------------------------------------------------------------------
def test_yueyang_scheme_loads_with_two_tiers():
    spec = load_scheme_file(YUEYANG_FILE)
    assert (spec.code, spec.version, str(spec.effective_from)) == ("yueyang-office", 1, "2013-05-24")
    assert [(g.code, g.rank, g.pass_line, g.rubric) for g in spec.grades_by_rank()] == [
        ("qualified", 1, 60, "standard"), ("advanced", 2, 90, "standard")]
    assert (spec.times.declaration_opens, spec.times.declaration_closes) == ("01-01", "12-31")
    assert spec.prerequisites == ()


def test_yueyang_rubric_has_six_categories_as_the_source():
    rubric = load_scheme_file(YUEYANG_FILE).rubrics["standard"]
    assert [(c.name, c.max_points) for c in rubric.categories] == [
        ("管理水平", 15), ("资料信息", 20), ("教育宣传", 25), ("党报党刊及教育报刊发行", 15), ("史志工作", 10),
        ("日常工作", 15)]
    assert rubric.max_points == 100


def test_yueyang_authority_is_the_city_bureau_everywhere():
    authority = load_scheme_file(YUEYANG_FILE).authority
    assert set(authority) == {"provincial", "city", "county", "township"}
    cells = {(level, grade, kind): cell.assess for level, by_grade in authority.items()
             for grade, by_kind in by_grade.items() for kind, cell in by_kind.items()}
    assert len(cells) == 16
    assert set(cells.values()) == {"city"}


def test_yueyang_negative_reports_pool_is_capped_at_20():
    rubric = load_scheme_file(YUEYANG_FILE).rubrics["standard"]
    assert [(p.code, p.cap) for p in rubric.pools] == [("negative_reports", Decimal(20))]
    penalty = rubric.item("3.5")
    assert (penalty.rule.kind, penalty.max_points, penalty.pool) == ("penalty", Decimal(0), "negative_reports")


def test_yueyang_rules_exercise_the_rule_kinds():
    rubric = load_scheme_file(YUEYANG_FILE).rubrics["standard"]
    late_missing = {o.code: o.points for o in rubric.item("2.2").rule.occurrences}
    assert late_missing == {"late": Decimal("0.2"), "missing": Decimal(1)}
    award = rubric.item("2.4").rule
    assert (award.kind, award.points, award.cap) == ("capped_award", Decimal(1), Decimal(3))
    quota = rubric.item("3.2").rule
    assert (quota.kind, quota.quota, quota.cap) == ("pro_rata", Decimal(5), Decimal(12))
    duty = rubric.item("6.1").rule
    assert (duty.kind, duty.max_deduction) == ("per_occurrence", Decimal(5))


def test_yueyang_secrecy_item_vetoes_only_the_advanced_tier():
    rubric = load_scheme_file(YUEYANG_FILE).rubrics["standard"]
    assert {item.code for _c, item in rubric.items() if item.veto is not None} == {"2.6"}
    veto = rubric.item("2.6").veto
    assert (veto.scope, veto.grades) == ("tier", ("advanced",))


# --- broken files ---------------------------------------------------------------------------------------------
def test_minimal_inline_scheme_parses():
    spec = parse_scheme(MINIMAL)
    assert spec.rubrics["main"].item("1.1").rule.kind == "deduction"
    assert spec.rubrics["main"].item("1.2").rule.kind == "deduction"  # the default rule
    assert spec.times.declaration_closes == "03-31"


def test_a_scheme_declares_its_documents_words_and_none_is_inherited():
    without = edited(MINIMAL, """documents:
  letter_default: schemes/archives/confirmation_letter_second.html
  certificate_number: "小证〔{year}〕{serial:04d}号"
  certificate_title: 最小方案证书
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
""", "")
    assert [loc for loc, _message in scheme_errors(without)] == ["documents (line 1)"]
    no_title = edited(MINIMAL, "  certificate_title: 最小方案证书\n", "")
    assert [loc for loc, _message in scheme_errors(no_title)] == ["documents.certificate_title (line 32)"]  # the part it belongs to
    no_grade = edited(MINIMAL, "经考评，评为{grade}，特发此证。", "经考评，特发此证。")
    errors = scheme_errors(no_grade)
    assert errors[0][0].startswith("documents.certificate_statement") and "{grade}" in errors[0][1]
    spec = parse_scheme(MINIMAL)
    assert (spec.documents.certificate_title_for("recheck"), spec.documents.certificate_number_for(2026, 7)) == (
        "最小方案证书", "小证〔2026〕0007号")


def test_item_max_changed_breaks_its_category_sum():
    # item 2 (per_missing) has no sub-criteria, so only its category's sum is broken
    text = edited(ARCHIVES_TEXT, "name: 规章制度\n            max_points: 6", "name: 规章制度\n            max_points: 7")
    errors = scheme_errors(text)
    # the special rubric is an alias of the standard one, so the error is found under both
    assert len(errors) == 2
    location, message = errors[0]
    assert message == "items add up to 23, not the category's max_points 22"
    assert location.startswith("rubrics.standard.categories[0](code 1)")
    assert "line" in location
    assert errors[1][0].startswith("rubrics.special.categories[0](code 1)")


def test_sub_criteria_not_adding_up_names_the_item():
    text = edited(ARCHIVES_TEXT, "name: 组织领导\n            max_points: 6", "name: 组织领导\n            max_points: 7")
    location, message = scheme_errors(text)[0]
    assert message == "sub_criteria add up to 6, not max_points 7"
    assert location.startswith("rubrics.standard.categories[0](code 1).items[0](code 1)")


def test_negative_max_points_is_refused_with_its_line():
    errors = scheme_errors(edited(MINIMAL, "    max_points: 15\n    categories", "    max_points: -15\n    categories"))
    assert errors == [("rubrics.main.max_points (line 13)", "Input should be greater than or equal to 0")]


def test_unknown_rule_kind_is_refused():
    errors = scheme_errors(edited(MINIMAL, "rule: {kind: deduction}", "rule: {kind: lottery}"))
    assert len(errors) == 1
    location, message = errors[0]
    assert location == "rubrics.main.categories[0](code 1).items[0](code 1.1).rule.kind (line 22)"
    assert "'per_occurrence'" in message


def test_per_occurrence_without_occurrences_is_refused():
    errors = scheme_errors(edited(MINIMAL, "rule: {kind: deduction}", "rule: {kind: per_occurrence}"))
    assert errors == [("rubrics.main.categories[0](code 1).items[0](code 1.1).rule (line 22)",
                       "rule kind 'per_occurrence' needs occurrences")]


def test_an_error_in_the_only_item_of_a_category_is_reported_once():
    single = edited(MINIMAL, """            max_points: 6
            rule: {kind: deduction}
          - code: "1.2"
            name: 第二项目
            max_points: 4
""", """            max_points: 10
            rule: {kind: per_occurrence}
""")
    assert len(scheme_errors(single)) == 1


def test_per_occurrence_in_the_yueyang_file_without_occurrences_is_refused():
    old = """              occurrences:
                - {code: error, text: 差错, points: 1}
"""
    text = edited(YUEYANG_TEXT, old, "")
    errors = scheme_errors(text)
    assert len(errors) == 1
    location, message = errors[0]
    assert message == "rule kind 'per_occurrence' needs occurrences"
    assert location.startswith("rubrics.standard.categories[5](code 6).items[3](code 6.4).rule (line ")


def test_grade_naming_an_unknown_rubric_is_refused():
    errors = scheme_errors(edited(ARCHIVES_TEXT, "    rubric: special", "    rubric: annex1"))
    assert errors == [("grades[2](code special).rubric (line 34)", "rubric 'annex1' is not declared")]


def test_authority_cell_naming_an_undeclared_grade_is_refused():
    text = edited(ARCHIVES_TEXT, "  township:\n    second:", "  township:\n    gold:")
    errors = scheme_errors(text)
    assert len(errors) == 1
    location, message = errors[0]
    assert location.startswith("authority.township.gold (line ")
    assert message == "grade 'gold' is not declared"


def test_panel_size_min_above_max_is_refused():
    errors = scheme_errors(edited(ARCHIVES_TEXT, "{distance: 0, min: 3, max: 5}", "{distance: 0, min: 6, max: 5}"))
    assert errors == [("panel.sizes[1] (line 98)", "min 6 is above max 5")]


def test_unknown_time_zone_is_refused():
    errors = scheme_errors(edited(ARCHIVES_TEXT, "time_zone: Asia/Shanghai", "time_zone: Mars/Olympus"))
    assert errors == [("time_zone (line 10)", "unknown time zone 'Mars/Olympus'")]


def test_declaration_window_on_february_30_is_refused():
    errors = scheme_errors(edited(ARCHIVES_TEXT, 'declaration_closes: "03-31"', 'declaration_closes: "02-30"'))
    assert len(errors) == 1
    location, message = errors[0]
    assert location.startswith("times.declaration_closes (line ")
    assert message == "'02-30' is not a day of the year"


def test_unknown_top_level_field_is_refused():
    errors = scheme_errors(edited(ARCHIVES_TEXT, "time_zone: Asia/Shanghai\n", "time_zone: Asia/Shanghai\nlogo: x.png\n"))
    assert errors == [("logo (line 11)", "Extra inputs are not permitted")]


def test_several_errors_in_one_file_are_all_reported():
    text = edited(ARCHIVES_TEXT, "time_zone: Asia/Shanghai\n", "time_zone: Asia/Shanghai\nlogo: x.png\n")
    text = edited(text, "  wait_years: 1", "  wait_years: -1")
    errors = scheme_errors(text)
    assert len(errors) == 2
    assert sorted(location for location, _message in errors) == [
        "logo (line 11)", "promotion.wait_years (line 41)"]


def test_invalid_yaml_names_the_line():
    text = edited(ARCHIVES_TEXT, "grades:            # 第四条", "grades: [          # 第四条")
    errors = scheme_errors(text)
    assert len(errors) == 1
    location, message = errors[0]
    assert location == "line 13"
    assert message.startswith("not valid YAML")


def test_a_list_instead_of_a_mapping_is_refused():
    assert scheme_errors("- code: archives\n- version: 1\n") == [
        ("(top level)", "a scheme file holds a mapping of fields")]


def test_an_empty_file_is_refused():
    assert scheme_errors("") == [("(top level)", "a scheme file holds a mapping of fields")]


def test_missing_file_raises_scheme_error(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(SchemeError) as exc:
        load_scheme_file(missing)
    assert exc.value.source == str(missing)
    assert len(exc.value.errors) == 1
    location, message = exc.value.errors[0]
    assert location == "(file)"
    assert message.startswith("cannot read")


def test_scheme_error_message_lists_every_error_with_the_source(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(edited(ARCHIVES_TEXT, "time_zone: Asia/Shanghai", "time_zone: Nowhere"), encoding="utf-8")
    with pytest.raises(SchemeError) as exc:
        load_scheme_file(path)
    assert str(exc.value).startswith("broken.yaml: 1 error(s)\n")
    assert "time_zone (line 10): unknown time zone 'Nowhere'" in str(exc.value)


def test_several_reference_errors_are_all_reported_with_their_lines():
    text = edited(ARCHIVES_TEXT, "    rubric: special", "    rubric: annex1")
    text = edited(text, "    min_grade: second", "    min_grade: bronze")
    errors = scheme_errors(text)
    assert [message for _where, message in errors] == ["rubric 'annex1' is not declared",
                                                        "grade 'bronze' is not declared"]
    assert all("(line " in where for where, _message in errors)


def test_a_key_given_twice_is_refused_with_its_line():
    text = edited(ARCHIVES_TEXT, "    pass_line: 80\n", "    pass_line: 80\n    pass_line: 85\n")
    errors = scheme_errors(text)
    assert len(errors) == 1
    assert errors[0][1].endswith("key 'pass_line' is given twice")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_number_that_is_not_finite_is_refused(value):
    errors = scheme_errors(edited(ARCHIVES_TEXT, "discrepancy_share: 0.30", f"discrepancy_share: {value}"))
    assert len(errors) == 1
    assert "is not a decimal number" in errors[0][1]


def test_zero_is_a_valid_rate_band_parameter():
    rule = parse_rule("{kind: rate_band, full_at: 100, zero_at: 0}")
    assert (rule.full_at, rule.zero_at) == (100, 0)


def parse_rule(text: str):
    from certification.scheme import Rule

    return Rule.model_validate(yaml.safe_load(text))


@pytest.mark.parametrize(("part", "missing"), [
    ("  notice_days: 7\n", "times.notice_days"),
    ("  validity_years: 3\n", "times.validity_years"),
    ("  recheck_reminder_days_before: [90, 30, 7]\n", "times.recheck_reminder_days_before"),
    ("  annual_summary: {due: \"12-20\", reminders: [\"12-01\", \"12-15\"]}\n", "times.annual_summary"),
    ("stages: {precheck: true, notice: true, recheck: true}\n", "stages (line 1)"),
    ("promotion: {step_by_step: false, wait_years: 0}\n", "promotion (line 1)"),
    ("time_zone: Asia/Shanghai\n", "time_zone (line 1)"),
])
def test_a_time_rule_or_stage_left_out_is_refused_naming_it_and_no_archives_value_fills_it(part, missing):
    """Issue 15, "Must show" 1: notice days, validity, recheck window and reminders, summary dates, the
    stages and the promotion rule are the file's to state; none is inherited from the archives scheme."""
    errors = scheme_errors(edited(MINIMAL, part, ""))
    if "(line" not in missing:  # a part missing inside times: the line of the times it belongs in
        missing += f" (line {MINIMAL.splitlines().index('times:') + 2})"  # where its mapping starts
    assert errors == [(missing, "Field required")]


def test_every_time_rule_is_read_from_the_file():
    text = edited(MINIMAL, '  declaration_closes: "03-31"\n', '  declaration_closes: "06-30"\n')
    text = edited(text, "  validity_years: 3\n", "  validity_years: 5\n")
    spec = parse_scheme(text)
    assert (spec.times.declaration_closes, spec.times.validity_years) == ("06-30", 5)


def test_a_stored_version_lacking_a_part_now_required_takes_the_value_applied_then(archives_version):
    """Migration 0037: a version stored before its times, stages, promotion, time zone and panel rules had to
    be stated loads again with the values the engine applied to it then (the same digest as its file)."""
    import importlib

    from django.apps import apps
    from pydantic import ValidationError

    from certification.models import SchemeVersion

    migration = importlib.import_module("certification.migrations.0037_scheme_times_declared")
    spec = dict(archives_version.spec)
    stored = {key: value for key, value in spec.items() if key not in ("time_zone", "stages", "times")}
    stored["panel"] = {key: value for key, value in spec["panel"].items()
                       if key not in ("aggregation", "onsite_majority")}
    stored["promotion"] = {"wait_years": 1}
    SchemeVersion.objects.filter(pk=archives_version.pk).update(spec=stored)
    with pytest.raises(ValidationError, match="Field required"):
        SchemeVersion.objects.get(pk=archives_version.pk).specification()

    migration.declare_times(apps, None)

    assert SchemeVersion.objects.get(pk=archives_version.pk).specification().digest() == \
        archives_version.specification().digest()
