"""Eligibility of a declaration (DESIGN §3.1–3.2, §3.6): every refusal names the rule and what would satisfy it.

Pure functions, no database. ``today`` is always given; the default scheme (archives) is used.
"""

import datetime as dt

import pytest

from certification import rules
from certification.exceptions import NotEligible
from certification.rules import Declarant, Declaration, HeldCertificate
from certification.scheme import shipped_scheme

ARCHIVES = shipped_scheme("archives")

PREREQUISITES = (
    "registration",
    "central_management",
    "transfer",
    "public_information",
    "no_safety_incident",
    "electronic_records",
)
IN_WINDOW = dt.date(2026, 3, 15)


def declaration(grade="second", kind="promotion", **overrides):
    """A complete declaration: every condition declared met, with its evidence, and both special gates."""
    values = {
        "prerequisites": dict.fromkeys(PREREQUISITES, "yes"),
        "evidence": frozenset(PREREQUISITES),
        "gates": {"online_archiving": True},
    }
    values.update(overrides)
    return Declaration(grade=grade, kind=kind, **values)


def held(grade, issued_on, status="in_force"):
    return HeldCertificate(
        grade=grade, issued_on=issued_on, valid_until=rules.valid_until(issued_on, scheme=ARCHIVES), status=status
    )


def declarant(level="county", **overrides):
    return Declarant(level=level, **overrides)


def special_declarant(level="county", **overrides):
    values = {
        "has_system_guidance": True,
        "certificate": held("first", dt.date(2024, 6, 1)),
        "subordinate_units": 10,
        "subordinate_units_graded": 10,
    }
    values.update(overrides)
    return Declarant(level=level, **values)


def codes(refusals):
    return [r.code for r in refusals]


def refusals(who, what, today=IN_WINDOW):
    return rules.declaration_refusals(who, what, today=today, scheme=ARCHIVES)


# --- The complete cases are accepted ---------------------------------------------------------------------
def test_check_declaration_first_declaration_of_second_accepted():
    assert rules.check_declaration(declarant("county"), declaration("second"), today=IN_WINDOW, scheme=ARCHIVES) == "county"


def test_declaration_refusals_complete_declaration_is_empty():
    assert refusals(declarant("township"), declaration("second")) == []


# --- Step by step (逐级晋升) -------------------------------------------------------------------------------
@pytest.mark.parametrize("grade", ["first", "special"])
def test_declaration_refusals_first_declaration_above_second_is_step_by_step(grade):
    who = declarant("county", has_system_guidance=True, subordinate_units=10, subordinate_units_graded=10)
    result = refusals(who, declaration(grade))
    assert codes(result) == ["promotion.step_by_step"]
    assert result[0].params["expected"] == "second"


def test_check_declaration_first_with_no_certificate_raises_step_by_step():
    with pytest.raises(NotEligible) as excinfo:
        rules.check_declaration(declarant("county"), declaration("first"), today=IN_WINDOW, scheme=ARCHIVES)
    assert excinfo.value.codes == ["promotion.step_by_step"]


@pytest.mark.parametrize(
    ("held_grade", "declared", "refused"),
    [
        ("second", "first", False),
        ("first", "special", False),
        ("second", "special", True),  # two grades up
        ("second", "second", True),  # the grade already held is not a promotion
        ("first", "second", True),  # down
        ("first", "first", True),
    ],
)
def test_declaration_refusals_promotion_one_grade_up(held_grade, declared, refused):
    who = special_declarant("county", certificate=held(held_grade, dt.date(2024, 6, 1)))
    result = refusals(who, declaration(declared))
    assert codes(result) == (["promotion.step_by_step"] if refused else [])


def test_declaration_refusals_promotion_from_special_refused():
    who = special_declarant("city", certificate=held("special", dt.date(2024, 6, 1)))
    result = refusals(who, declaration("special"))
    assert codes(result) == ["promotion.top_grade"]


# --- One-year wait ---------------------------------------------------------------------------------------
def test_declaration_refusals_one_year_wait_day_before_anniversary_refused_with_date():
    who = declarant("county", certificate=held("second", dt.date(2025, 3, 10)))
    result = refusals(who, declaration("first"), today=dt.date(2026, 3, 9))
    assert codes(result) == ["promotion.one_year_wait"]
    assert result[0].params["allowed_from"] == "2026-03-10"
    assert "2026-03-10" in result[0].satisfy


def test_declaration_refusals_one_year_wait_anniversary_accepted():
    who = declarant("county", certificate=held("second", dt.date(2025, 3, 10)))
    assert refusals(who, declaration("first"), today=dt.date(2026, 3, 10)) == []


def test_declaration_refusals_one_year_wait_leap_day_issue_refused_on_feb_28():
    who = declarant("county", certificate=held("second", dt.date(2024, 2, 29)))
    result = refusals(who, declaration("first"), today=dt.date(2025, 2, 28))
    assert codes(result) == ["promotion.one_year_wait"]
    assert result[0].params["allowed_from"] == "2025-03-01"


def test_declaration_refusals_one_year_wait_leap_day_issue_accepted_on_mar_1():
    who = declarant("county", certificate=held("second", dt.date(2024, 2, 29)))
    assert refusals(who, declaration("first"), today=dt.date(2025, 3, 1)) == []


# --- Special: system guidance, county level or above ----------------------------------------------------
@pytest.mark.parametrize("level", ["provincial", "city", "county"])
def test_check_declaration_special_with_guidance_accepted_and_assessed_by_province(level):
    assert (
        rules.check_declaration(special_declarant(level), declaration("special"), today=IN_WINDOW, scheme=ARCHIVES)
        == "province"
    )


def test_declaration_refusals_special_without_system_guidance_refused():
    who = special_declarant("county", has_system_guidance=False)
    assert codes(refusals(who, declaration("special"))) == ["special.system_guidance"]


def test_check_declaration_township_special_refused():
    who = special_declarant("township")
    with pytest.raises(NotEligible) as excinfo:
        rules.check_declaration(who, declaration("special"), today=IN_WINDOW, scheme=ARCHIVES)
    assert len(excinfo.value.refusals) == 1
    assert isinstance(excinfo.value, ValueError)


# --- Safety incident within two years -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("incident_on", "today", "clears_on"),
    [
        (dt.date(2024, 5, 10), dt.date(2026, 5, 9), "2026-05-10"),
        (dt.date(2026, 1, 5), dt.date(2026, 3, 15), "2028-01-05"),
        (dt.date(2024, 2, 29), dt.date(2026, 2, 28), "2026-03-01"),
    ],
)
def test_declaration_refusals_incident_within_two_years_refused_with_clearing_date(
    incident_on, today, clears_on
):
    who = declarant("county", incident_dates=(incident_on,))
    result = refusals(who, declaration("second", late_inclusion=True), today=today)
    assert codes(result) == ["prerequisite.no_safety_incident"]
    assert result[0].params["clears_on"] == clears_on
    assert result[0].params["incident_on"] == incident_on.isoformat()
    assert clears_on in result[0].satisfy


@pytest.mark.parametrize(
    ("incident_on", "today"),
    [
        (dt.date(2024, 5, 10), dt.date(2026, 5, 10)),
        (dt.date(2024, 2, 29), dt.date(2026, 3, 1)),
        (dt.date(2020, 7, 1), dt.date(2026, 3, 15)),
    ],
)
def test_declaration_refusals_incident_cleared_accepted(incident_on, today):
    who = declarant("county", incident_dates=(incident_on,))
    assert refusals(who, declaration("second", late_inclusion=True), today=today) == []


def test_declaration_refusals_latest_incident_gives_the_clearing_date():
    who = declarant("county", incident_dates=(dt.date(2025, 1, 2), dt.date(2025, 9, 30)))
    result = refusals(who, declaration("second"))
    assert codes(result) == ["prerequisite.no_safety_incident"]
    assert result[0].params["clears_on"] == "2027-09-30"


# --- Declaration window: January 1 to March 31 ----------------------------------------------------------
@pytest.mark.parametrize(
    ("today", "late_inclusion", "refused"),
    [
        (dt.date(2026, 1, 1), False, False),
        (dt.date(2026, 3, 31), False, False),
        (dt.date(2026, 4, 1), False, True),
        (dt.date(2025, 12, 31), False, True),
        (dt.date(2026, 4, 1), True, False),
        (dt.date(2026, 10, 15), True, False),
    ],
)
def test_declaration_refusals_declaration_window(today, late_inclusion, refused):
    result = refusals(declarant("county"), declaration("second", late_inclusion=late_inclusion), today=today)
    assert codes(result) == (["declaration.window"] if refused else [])


def test_declaration_refusals_window_refusal_gives_the_window():
    result = refusals(declarant("county"), declaration("second"), today=dt.date(2026, 4, 1))
    assert result[0].params == {"opens": "2026-01-01", "closes": "2026-03-31"}


# --- Recheck window --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("today", "refused"),
    [
        (dt.date(2025, 12, 31), True),
        (dt.date(2026, 1, 1), False),
        (dt.date(2026, 5, 20), False),
        (dt.date(2026, 6, 14), False),  # the expiry date itself
        (dt.date(2026, 6, 15), True),
    ],
)
def test_declaration_refusals_recheck_window(today, refused):
    # issued 2023-06-15 → valid through 2026-06-14 → recheck window 2026-01-01 .. 2026-06-14
    who = declarant("county", certificate=held("second", dt.date(2023, 6, 15)))
    result = refusals(who, declaration("second", kind="recheck"), today=today)
    assert codes(result) == (["recheck.window"] if refused else [])


def test_declaration_refusals_recheck_early_year_expiry_opens_ninety_days_before():
    # issued 2024-02-29 → valid through 2027-02-28 → window 2026-11-30 .. 2027-02-28
    who = declarant("county", certificate=held("first", dt.date(2024, 2, 29)))
    assert codes(refusals(who, declaration("first", kind="recheck"), today=dt.date(2026, 11, 29))) == [
        "recheck.window"
    ]
    assert refusals(who, declaration("first", kind="recheck"), today=dt.date(2026, 11, 30)) == []


def test_declaration_refusals_recheck_without_certificate_refused():
    result = refusals(declarant("county"), declaration("second", kind="recheck"))
    assert codes(result) == ["recheck.no_certificate"]


def test_declaration_refusals_recheck_of_a_grade_not_held_refused():
    who = declarant("county", certificate=held("second", dt.date(2023, 6, 15)))
    result = refusals(who, declaration("first", kind="recheck"), today=dt.date(2026, 3, 1))
    assert codes(result) == ["recheck.no_certificate"]


# --- Prerequisites ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "na_allowed"),
    [
        ("registration", False),
        ("central_management", False),
        ("transfer", True),
        ("public_information", True),
        ("no_safety_incident", False),
        ("electronic_records", False),
    ],
)
def test_declaration_refusals_not_applicable_only_for_transfer_and_public_information(code, na_allowed):
    answers = dict.fromkeys(PREREQUISITES, "yes") | {code: "na"}
    result = refusals(
        declarant("county"),
        declaration("second", prerequisites=answers, evidence=frozenset(PREREQUISITES) - {code}),
    )
    assert codes(result) == ([] if na_allowed else [f"prerequisite.{code}"])


@pytest.mark.parametrize("code", PREREQUISITES)
def test_declaration_refusals_yes_without_evidence_refused(code):
    result = refusals(declarant("county"), declaration("second", evidence=frozenset(PREREQUISITES) - {code}))
    assert codes(result) == [f"prerequisite.{code}"]


@pytest.mark.parametrize("code", PREREQUISITES)
def test_declaration_refusals_condition_declared_not_met_refused(code):
    answers = dict.fromkeys(PREREQUISITES, "yes") | {code: "no"}
    result = refusals(declarant("county"), declaration("second", prerequisites=answers))
    assert codes(result) == [f"prerequisite.{code}"]


def test_declaration_refusals_unanswered_conditions_each_refused():
    result = refusals(declarant("county"), declaration("second", prerequisites={}, evidence=frozenset()))
    assert sorted(codes(result)) == sorted(f"prerequisite.{c}" for c in PREREQUISITES)


# --- Special gates: ≥ 90 % of subordinate units graded, online archiving -------------------------------
@pytest.mark.parametrize(
    ("total", "graded", "need"),
    [
        (10, 10, None),
        (10, 9, None),
        (10, 8, 9),
        (20, 18, None),
        (20, 17, 18),
        (7, 7, None),
        (7, 6, 7),  # 6 of 7 is 85.7 %: all 7 are needed
        (3, 2, 3),  # 2 of 3 is 66.7 %: all 3 are needed
    ],
)
def test_declaration_refusals_subordinate_units_gate(total, graded, need):
    who = special_declarant("county", subordinate_units=total, subordinate_units_graded=graded)
    result = refusals(who, declaration("special"))
    if need is None:
        assert result == []
    else:
        assert codes(result) == ["gate.subordinate_units_graded"]
        assert result[0].params == {"graded": graded, "total": total, "need": need}


def test_declaration_refusals_online_archiving_gate_refused():
    result = refusals(special_declarant("county"), declaration("special", gates={}))
    assert codes(result) == ["gate.online_archiving"]


def test_declaration_refusals_special_gates_do_not_apply_to_first():
    who = declarant("county", certificate=held("second", dt.date(2024, 6, 1)), subordinate_units=10)
    assert refusals(who, declaration("first", gates={})) == []


# --- Every refusal is structured -------------------------------------------------------------------------
REFUSING_CASES = [
    (declarant("county"), declaration("first"), IN_WINDOW),
    (
        declarant("county", certificate=held("second", dt.date(2025, 3, 10))),
        declaration("first"),
        dt.date(2026, 3, 9),
    ),
    (special_declarant("county", has_system_guidance=False), declaration("special"), IN_WINDOW),
    (special_declarant("township"), declaration("special"), IN_WINDOW),
    (
        special_declarant("city", certificate=held("special", dt.date(2024, 6, 1))),
        declaration("special"),
        IN_WINDOW,
    ),
    (declarant("county", incident_dates=(dt.date(2025, 5, 10),)), declaration("second"), IN_WINDOW),
    (declarant("county"), declaration("second"), dt.date(2026, 4, 1)),
    (declarant("county"), declaration("second", kind="recheck"), IN_WINDOW),
    (
        declarant("county", certificate=held("second", dt.date(2023, 6, 15))),
        declaration("second", kind="recheck"),
        dt.date(2025, 12, 31),
    ),
    (declarant("county"), declaration("second", prerequisites={}, evidence=frozenset()), IN_WINDOW),
    (declarant("county"), declaration("second", evidence=frozenset()), IN_WINDOW),
    (declarant("county"), declaration("second", prerequisites=dict.fromkeys(PREREQUISITES, "na")), IN_WINDOW),
    (special_declarant("county", subordinate_units_graded=8), declaration("special", gates={}), IN_WINDOW),
    (
        special_declarant("county", subordinate_units=0, subordinate_units_graded=0),
        declaration("special"),
        IN_WINDOW,
    ),
]


@pytest.mark.parametrize(("who", "what", "today"), REFUSING_CASES)
def test_declaration_refusals_every_refusal_has_rule_message_and_satisfy(who, what, today):
    result = refusals(who, what, today=today)
    assert result != []
    for refusal in result:
        assert refusal.code.strip() != ""
        assert refusal.rule.strip() != ""
        assert refusal.message.strip() != ""
        assert refusal.satisfy.strip() != ""


@pytest.mark.parametrize(("who", "what", "today"), REFUSING_CASES)
def test_check_declaration_raises_with_the_same_refusals(who, what, today):
    with pytest.raises(NotEligible) as excinfo:
        rules.check_declaration(who, what, today=today, scheme=ARCHIVES)
    assert list(excinfo.value.refusals) == refusals(who, what, today=today)
