"""Authority (DESIGN §3.3, 第九条) and panel sizes (§3.4) of the archives scheme. Pure functions, no database."""

import pytest

from certification import rules
from certification.exceptions import NotEligible
from certification.scheme import shipped_scheme

ARCHIVES = shipped_scheme("archives")

# institution level, grade → (assess on promotion, assess on recheck, recheck filed with)
MATRIX = {
    ("provincial", "second"): ("province", "province", None),
    ("provincial", "first"): ("province", "province", None),
    ("provincial", "special"): ("province", "province", None),
    ("city", "second"): ("city", "city", None),
    ("city", "first"): ("city", "city", None),
    ("city", "special"): ("province", "city", "province"),
    ("county", "second"): ("county", "county", None),
    ("county", "first"): ("city", "county", "city"),
    ("county", "special"): ("province", "city", "province"),
    ("township", "second"): ("county", "county", None),
    ("township", "first"): ("city", "county", "city"),
}

ASSESS_CASES = [
    (level, grade, "promotion", assess) for (level, grade), (assess, _r, _f) in MATRIX.items()
] + [(level, grade, "recheck", recheck) for (level, grade), (_a, recheck, _f) in MATRIX.items()]

FILING_CASES = [(level, grade, "promotion", None) for (level, grade) in MATRIX] + [
    (level, grade, "recheck", filed) for (level, grade), (_a, _r, filed) in MATRIX.items()
]


# --- Assessing level: 4 levels × 3 grades × 2 kinds ------------------------------------------------------
@pytest.mark.parametrize(("institution_level", "grade", "kind", "expected"), ASSESS_CASES)
def test_assessing_level_matrix(institution_level, grade, kind, expected):
    assert rules.assessing_level(institution_level, grade, kind, scheme=ARCHIVES) == expected


@pytest.mark.parametrize("kind", ["promotion", "recheck"])
def test_assessing_level_township_special_raises_not_eligible(kind):
    with pytest.raises(NotEligible) as excinfo:
        rules.assessing_level("township", "special", kind, scheme=ARCHIVES)
    assert len(excinfo.value.refusals) == 1
    refusal = excinfo.value.refusals[0]
    assert refusal.rule != ""
    assert refusal.message != ""
    assert refusal.satisfy != ""


@pytest.mark.parametrize("kind", ["promotion", "recheck"])
def test_assessing_level_township_special_is_a_value_error(kind):
    with pytest.raises(ValueError):
        rules.assessing_level("township", "special", kind, scheme=ARCHIVES)


def test_not_eligible_is_a_value_error_subclass():
    assert issubclass(rules.NotEligible, ValueError) is True


def test_assessing_level_matrix_is_complete():
    covered = {(level, grade) for level, grade, _k, _e in ASSESS_CASES}
    all_cells = {
        (level, grade)
        for level in ("provincial", "city", "county", "township")
        for grade in ("second", "first", "special")
    }
    assert all_cells - covered == {("township", "special")}
    assert len(ASSESS_CASES) == 22


@pytest.mark.parametrize(
    ("institution_level", "grade", "kind"),
    [("ministry", "second", "promotion"), ("county", "second", "renewal")],
)
def test_assessing_level_unknown_level_or_kind_raises_value_error(institution_level, grade, kind):
    with pytest.raises(ValueError):
        rules.assessing_level(institution_level, grade, kind, scheme=ARCHIVES)


# --- Filing level ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("institution_level", "grade", "kind", "expected"), FILING_CASES)
def test_filing_level_matrix(institution_level, grade, kind, expected):
    assert rules.filing_level(institution_level, grade, kind, scheme=ARCHIVES) == expected


@pytest.mark.parametrize("kind", ["promotion", "recheck"])
def test_filing_level_township_special_raises_not_eligible(kind):
    with pytest.raises(NotEligible):
        rules.filing_level("township", "special", kind, scheme=ARCHIVES)


# --- Panel size ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bureau_level", "institution_level", "grade", "expected"),
    [
        # same level (本级): 3–5
        ("province", "provincial", "second", (3, 5)),
        ("province", "provincial", "first", (3, 5)),
        ("province", "provincial", "special", (3, 5)),
        ("city", "city", "second", (3, 5)),
        ("city", "city", "first", (3, 5)),
        ("county", "county", "second", (3, 5)),
        # one level down (下一级): 5–7
        ("province", "city", "special", (5, 7)),
        ("province", "city", "first", (5, 7)),
        ("city", "county", "first", (5, 7)),
        ("city", "county", "special", (5, 7)),
        ("county", "township", "second", (5, 7)),
        # the province reviewing a county-level institution for special: 7–9
        ("province", "county", "special", (7, 9)),
        # any other case: 5–7
        ("province", "county", "first", (5, 7)),
        ("province", "county", "second", (5, 7)),
        ("province", "township", "second", (5, 7)),
        ("province", "township", "first", (5, 7)),
        ("city", "township", "first", (5, 7)),
    ],
)
def test_panel_size_table(bureau_level, institution_level, grade, expected):
    assert rules.panel_size(bureau_level, institution_level, grade, scheme=ARCHIVES) == expected


@pytest.mark.parametrize("institution_level", ["provincial", "city", "county", "township"])
@pytest.mark.parametrize("bureau_level", ["province", "city", "county"])
@pytest.mark.parametrize("grade", ["second", "first", "special"])
def test_panel_size_is_one_of_the_three_sizes(bureau_level, institution_level, grade):
    low, high = rules.panel_size(bureau_level, institution_level, grade, scheme=ARCHIVES)
    assert (low, high) in {(3, 5), (5, 7), (7, 9)}


def test_panel_size_unknown_bureau_level_raises_value_error():
    with pytest.raises(ValueError):
        rules.panel_size("nation", "county", "second", scheme=ARCHIVES)


@pytest.mark.parametrize(
    ("level", "grade", "kind", "expected"),
    [("county", "special", "promotion", "city"), ("city", "special", "promotion", "city"),
     ("provincial", "special", "promotion", None), ("county", "special", "recheck", "city"),
     ("city", "special", "recheck", "city"), ("provincial", "special", "recheck", None),
     ("county", "first", "promotion", None)],
)
def test_forwarding_level_comes_from_the_authority_matrix(level, grade, kind, expected):
    assert rules.forwarding_level(level, grade, kind, scheme=ARCHIVES) == expected


@pytest.mark.parametrize(
    ("level", "grade", "kind", "expected"),
    [("county", "special", "recheck", "province"), ("city", "special", "recheck", "province"),
     ("county", "special", "promotion", "province"), ("county", "first", "recheck", "county"),
     ("provincial", "special", "recheck", "province")],
)
def test_planning_level_is_the_province_for_special_rechecks_below_it(level, grade, kind, expected):
    """第十条: the city gathers special rechecks and reports them to the province, which issues the plan;
    the city assesses them (第九条)."""
    assert rules.planning_level(level, grade, kind, scheme=ARCHIVES) == expected
    assert rules.assessing_level("county", "special", "recheck", scheme=ARCHIVES) == "city"


@pytest.mark.parametrize(
    ("level", "grade", "kind", "expected"),
    [("county", "special", "promotion", "city"), ("city", "special", "promotion", "city"),
     ("provincial", "special", "promotion", None), ("county", "special", "recheck", None),
     ("county", "first", "promotion", None)],
)
def test_only_a_special_promotion_below_the_province_may_have_its_precheck_delegated(level, grade, kind, expected):
    assert rules.precheck_delegate_level(level, grade, kind, scheme=ARCHIVES) == expected
