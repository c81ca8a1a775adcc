"""A scheme as data (DESIGN §3.7): the file format, its validation and the shipped default.

A scheme file (YAML or JSON) declares grades and pass lines, promotion rules, prerequisites and gates, the
authority matrix, panel sizes, aggregation, the rubrics with their rules, and the time parameters. It is
parsed into a frozen :class:`SchemeSpec`; every error names the field, its path in the file and its line.

The rules in :mod:`certification.rules` and :mod:`certification.scoring` read only a ``SchemeSpec``; they
never read the database. A stored scheme version keeps its spec as JSON and rebuilds it with
:meth:`SchemeSpec.model_validate`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import string
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .enums import RuleKind
from .exceptions import SchemeError

SCHEMES_DIR = Path(__file__).resolve().parent / "schemes"

BureauLevelCode = Literal["province", "city", "county"]
InstitutionLevelCode = Literal["provincial", "city", "county", "township"]
KindCode = Literal["promotion", "recheck"]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$")]
Points = Annotated[Decimal, Field(ge=0, max_digits=7, decimal_places=2)]
Share = Annotated[Decimal, Field(gt=0, le=1)]


def _non_empty(value: Any) -> Any:
    """Checked on the raw input: a list whose only element is broken reports that element, not emptiness."""
    if isinstance(value, list | tuple | dict) and len(value) == 0:
        raise ValueError("at least one entry is needed")
    return value


def _day_of_year(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\d{2}-\d{2}", value):
        try:
            _month_day(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a day of the year") from None
    return value


NonEmpty = BeforeValidator(_non_empty)
MonthDay = Annotated[str, BeforeValidator(_day_of_year), Field(pattern=r"^\d{2}-\d{2}$")]

RULE_KINDS = tuple(RuleKind.values)
VERIFY_METHODS = ("report", "materials", "site", "system")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _month_day(value: str) -> tuple[int, int]:
    month, day = (int(p) for p in value.split("-"))
    dt.date(2024, month, day)  # raises ValueError on 02-30; 2024 admits 02-29
    return month, day


class Occurrence(_Spec):
    """One kind of counted event for ``per_occurrence`` (e.g. a late report, 0.2 points each)."""

    code: Code
    text: str = ""
    points: Points


class SubCriterion(_Spec):
    code: Code
    text: str
    points: Points
    key: bool = False


class Rule(_Spec):
    """How an item's score follows from what was recorded. Parameters depend on ``kind``."""

    kind: Literal[RULE_KINDS]  # type: ignore[valid-type]
    occurrences: tuple[Occurrence, ...] = ()  # per_occurrence
    points: Points | None = None  # per_missing, capped_award, sample_check: points per unit
    elements: tuple[str, ...] = ()  # per_missing: the required elements, if listed
    cap: Points | None = None  # capped_award, pro_rata: the upper bound of the award
    quota: Decimal | None = Field(default=None, gt=0)  # pro_rata: the target that earns max_points
    full_at: Decimal | None = Field(default=None, gt=0, le=100)  # rate_band: rate (%) for full marks
    zero_at: Decimal | None = Field(default=None, ge=0, lt=100)  # rate_band: rate (%) at or below which 0
    sample_size: int | None = Field(default=None, ge=1)  # sample_check
    max_deduction: Points | None = None  # deduction, per_occurrence, per_missing: cap on what one item loses

    @model_validator(mode="after")
    def _parameters_fit_kind(self) -> Rule:
        need = {
            "per_occurrence": ("occurrences",),
            "per_missing": ("points",),
            "capped_award": ("points",),
            "pro_rata": ("quota",),
            "rate_band": ("full_at", "zero_at"),
            "sample_check": ("points", "sample_size"),
        }.get(self.kind, ())
        missing = [name for name in need if getattr(self, name) in (None, ())]
        if missing:
            raise ValueError(f"rule kind '{self.kind}' needs {', '.join(missing)}")
        if self.kind == "rate_band" and self.zero_at >= self.full_at:
            raise ValueError("rate_band needs zero_at below full_at")
        codes = [o.code for o in self.occurrences]
        if len(codes) != len(set(codes)):
            raise ValueError("occurrence codes must be unique")
        return self


class Bonus(_Spec):
    """An item may earn extra points for merit, up to a share of the item's (or its category's) maximum."""

    share: Share
    of: Literal["item", "category"] = "item"


class Veto(_Spec):
    """A confirmed veto fails the assessment (``fail``) or removes eligibility for some grades (``tier``)."""

    scope: Literal["fail", "tier"] = "fail"
    grades: tuple[Code, ...] = ()
    text: str = ""

    @model_validator(mode="after")
    def _tier_names_grades(self) -> Veto:
        if self.scope == "tier" and not self.grades:
            raise ValueError("a veto of scope 'tier' names the grades it removes")
        return self


class Item(_Spec):
    code: Code
    name: str = Field(min_length=1)
    max_points: Points
    rule: Rule = Rule(kind="deduction")
    sub_criteria: tuple[SubCriterion, ...] = ()
    text: str = ""
    evidence_hint: str = ""
    deduction_guide: str = ""
    key: bool = False
    veto: Veto | None = None
    bonus: Bonus | None = None
    pool: Code | None = None
    verify: tuple[Literal[VERIFY_METHODS], ...] = ("materials",)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        if self.rule.kind == "penalty":
            if self.max_points != 0:
                raise ValueError("a penalty item has max_points 0: it only deducts")
        elif self.max_points == 0:
            raise ValueError("max_points must be above 0 (only a penalty item has 0)")
        if self.rule.kind == "sub_criteria":
            if not self.sub_criteria:
                raise ValueError("rule kind 'sub_criteria' needs sub_criteria")
            total = sum((s.points for s in self.sub_criteria), Decimal(0))
            if total != self.max_points:
                raise ValueError(f"sub_criteria add up to {total}, not max_points {self.max_points}")
        codes = [s.code for s in self.sub_criteria]
        if len(codes) != len(set(codes)):
            raise ValueError("sub-criterion codes must be unique within an item")
        if self.rule.cap is not None and self.rule.cap > self.max_points and self.rule.kind == "capped_award":
            raise ValueError(f"cap {self.rule.cap} is above max_points {self.max_points}")
        return self


class Category(_Spec):
    """A category of items. A ``bonus`` category holds stand-alone bonus items (加分项目) outside the rubric's
    points: each item is a ground, its ``max_points`` the cap per ground, and the category's ``max_points``
    the cap in total (the grounds may add up to more). A bonus item starts from nothing: it is a
    ``capped_award``."""

    code: Code
    name: str = Field(min_length=1)
    max_points: Points
    items: Annotated[tuple[Item, ...], NonEmpty]
    bonus: bool = False

    @model_validator(mode="after")
    def _items_add_up(self) -> Category:
        total = sum((i.max_points for i in self.items), Decimal(0))
        if self.bonus:
            wrong = [i.code for i in self.items if i.rule.kind != "capped_award"]
            if wrong:
                raise ValueError(f"a bonus item is a capped_award (it starts from nothing): {', '.join(wrong)}")
            if self.max_points == 0 or total < self.max_points:
                raise ValueError(f"the bonus cap in total {self.max_points} must be above 0 and not above what "
                                 f"the grounds add up to ({total})")
        elif total != self.max_points:
            raise ValueError(f"items add up to {total}, not the category's max_points {self.max_points}")
        return self


class PenaltyPool(_Spec):
    """Deductions of several penalty items, capped together (此项扣分最多不超过20分)."""

    code: Code
    cap: Points
    text: str = ""


class Rubric(_Spec):
    title: str = ""
    max_points: Points
    categories: Annotated[tuple[Category, ...], NonEmpty]
    pools: tuple[PenaltyPool, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        total = sum((c.max_points for c in self.categories if not c.bonus), Decimal(0))
        if total != self.max_points:
            raise ValueError(f"categories add up to {total}, not the rubric's max_points {self.max_points}")
        if [c.bonus for c in self.categories].count(True) > 1:
            raise ValueError("a rubric has at most one bonus category")
        seen: set[str] = set()
        for category in self.categories:
            for item in category.items:
                if item.code in seen:
                    raise ValueError(f"item code {item.code!r} is used twice")
                seen.add(item.code)
        cat_codes = [c.code for c in self.categories]
        if len(cat_codes) != len(set(cat_codes)):
            raise ValueError("category codes must be unique")
        pools = {p.code for p in self.pools}
        pool_categories: dict[str, set[str]] = {}
        for category in self.categories:
            for item in category.items:
                if item.pool is not None:
                    if item.pool not in pools:
                        raise ValueError(f"item {item.code} names pool {item.pool!r}, which is not declared")
                    pool_categories.setdefault(item.pool, set()).add(category.code)
        for pool, cats in pool_categories.items():
            if len(cats) > 1:
                raise ValueError(f"pool {pool!r} spans categories {sorted(cats)}; keep a pool in one category")
        return self

    def items(self) -> list[tuple[Category, Item]]:
        return [(c, i) for c in self.categories for i in c.items]

    def item(self, code: str) -> Item:
        for _category, item in self.items():
            if item.code == code:
                return item
        raise KeyError(code)


class Grade(_Spec):
    code: Code
    name: str
    name_en: str = ""
    rank: int = Field(ge=1)
    decision: Literal["score", "onsite"] = "score"
    pass_line: Points | None = None
    rubric: Code
    open_to: tuple[InstitutionLevelCode, ...] = ("provincial", "city", "county", "township")
    requires_system_guidance: bool = False
    category_floor_share: Share | None = None
    key_item_zero_blocks: bool = False
    # a case declared for this grade that misses it (a veto of this tier, or a score placing it lower) is
    # awarded the highest lower grade of the same rubric it passes, instead of failing
    award_lower: bool = False

    @model_validator(mode="after")
    def _score_needs_pass_line(self) -> Grade:
        if self.decision == "score" and self.pass_line is None:
            raise ValueError("a grade decided by score needs a pass_line")
        return self


class Promotion(_Spec):
    step_by_step: bool
    wait_years: int = Field(ge=0)


class Prerequisite(_Spec):
    """A declared condition (申报必备条件), each with evidence or an explicit 'not applicable'."""

    code: Code
    text: str
    text_en: str = ""
    na_allowed: bool = False
    check: Literal["declared", "incident_window"] = "declared"


class Gate(_Spec):
    """A condition of some grades checked before scoring (e.g. special: ≥ 90 % of subordinate units graded)."""

    code: Code
    text: str
    text_en: str = ""
    grades: Annotated[tuple[Code, ...], NonEmpty]
    check: Literal["declared", "subordinate_share"] = "declared"
    min_share: Share | None = None
    min_grade: Code | None = None

    @model_validator(mode="after")
    def _share_needs_numbers(self) -> Gate:
        if self.check == "subordinate_share" and (self.min_share is None or self.min_grade is None):
            raise ValueError("a subordinate_share gate needs min_share and min_grade")
        return self


_BUREAU_ORDER = {"province": 0, "city": 1, "county": 2}


class AuthorityCell(_Spec):
    assess: BureauLevelCode
    file_with: BureauLevelCode | None = None
    forward_via: BureauLevelCode | None = None  # the bureau that gathers and forwards the declaration
    plan: BureauLevelCode | None = None  # the bureau whose plan lists it (下达考评计划), where not the assessor
    delegate_precheck: BureauLevelCode | None = None  # the bureau the assessor may delegate the pre-check to

    @model_validator(mode="after")
    def _forwarded_upwards(self) -> AuthorityCell:
        planner = self.plan or self.assess
        if self.plan is not None and _BUREAU_ORDER[self.plan] > _BUREAU_ORDER[self.assess]:
            raise ValueError(f"plan {self.plan!r} is below assess {self.assess!r}")
        if self.forward_via is not None and _BUREAU_ORDER[self.forward_via] <= _BUREAU_ORDER[planner]:
            raise ValueError(f"forward_via {self.forward_via!r} must be below the bureau it forwards to "
                             f"({planner!r})")
        if self.delegate_precheck is not None and _BUREAU_ORDER[self.delegate_precheck] <= _BUREAU_ORDER[self.assess]:
            raise ValueError(f"delegate_precheck {self.delegate_precheck!r} must be below assess {self.assess!r}")
        return self


class PanelSize(_Spec):
    """A panel-size rule; the first that matches applies. Unset fields match anything."""

    bureau_level: BureauLevelCode | None = None
    institution_level: InstitutionLevelCode | None = None
    grade: Code | None = None
    distance: int | None = Field(default=None, ge=0, le=3)
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _min_below_max(self) -> PanelSize:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class ScorerGroup(_Spec):
    """A group of scorers whose mean counts with a weight (e.g. leaders 40 %, peers 30 %, staff 30 %)."""

    code: Code
    name: str = Field(min_length=1)
    weight: Share


class Panel(_Spec):
    sizes: Annotated[tuple[PanelSize, ...], NonEmpty]
    aggregation: Literal["consensus", "mean", "trimmed_mean", "weighted_groups"]
    groups: tuple[ScorerGroup, ...] = ()  # weighted_groups: each member scores in one group
    trimmed_mean_min_scores: int = Field(default=5, ge=3)  # below five scores a trimmed mean trims nothing sound
    discrepancy_share: Share
    conflict_employment_years: int = Field(ge=0)
    onsite_majority: Share
    onsite_sample_units: int = Field(ge=1)
    # each member scores every item (no split by the chair); otherwise the system proposes a split by category
    every_member_scores_every_item: bool = False

    @field_validator("onsite_majority", mode="before")
    @classmethod
    def _fraction(cls, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*/\s*\d+\s*", value):
            num, den = (Decimal(p) for p in value.split("/"))
            return num / den
        return value

    @model_validator(mode="after")
    def _groups_fit(self) -> Panel:
        if self.aggregation == "weighted_groups":
            if not self.groups:
                raise ValueError("aggregation 'weighted_groups' needs groups")
            weights = sum((g.weight for g in self.groups), Decimal(0))
            if weights != 1:
                raise ValueError(f"the groups' weights add up to {weights}, not 1")
            codes = [g.code for g in self.groups]
            if len(codes) != len(set(codes)):
                raise ValueError("group codes must be unique")
        elif self.groups:
            raise ValueError("groups are only for aggregation 'weighted_groups'")
        return self

    def group(self, code: str) -> ScorerGroup:
        for group in self.groups:
            if group.code == code:
                return group
        raise KeyError(code)

    @model_validator(mode="after")
    def _last_is_default(self) -> Panel:
        last = self.sizes[-1]
        if any((last.bureau_level, last.institution_level, last.grade, last.distance is not None)):
            raise ValueError("the last panel size rule must be the default: no bureau_level, "
                             "institution_level, grade or distance")
        return self


class RecheckWindow(_Spec):
    opens: Literal["year_start"]
    min_days: int = Field(ge=0)


class AnnualSummary(_Spec):
    due: MonthDay
    reminders: tuple[MonthDay, ...]


class Times(_Spec):
    """Every time rule of the scheme's cases, each stated by its file (none is inherited from another scheme):
    a scheme without a recheck still says so with an empty list of reminders, and one without a notice with
    ``notice_days: 0``."""

    declaration_opens: MonthDay
    declaration_closes: MonthDay
    special_forward_by: MonthDay  # the last day a forwarded declaration reaches the planning bureau
    rectification_days: int = Field(ge=1)
    notice_days: int = Field(ge=0)  # 0: the scheme has no public notice (see Stages)
    panel_scoring_days: int = Field(ge=1)
    panel_reminder_days_before: tuple[int, ...]
    validity_years: int = Field(ge=1)
    recheck_window: RecheckWindow
    recheck_reminder_days_before: tuple[int, ...]
    incident_window_years: int = Field(ge=0)
    annual_summary: AnnualSummary

    @model_validator(mode="after")
    def _window_in_order(self) -> Times:
        if _month_day(self.declaration_opens) > _month_day(self.declaration_closes):
            raise ValueError("the declaration window closes before it opens")
        return self


Template = Annotated[str, Field(pattern=r"^[\w/.\-]+\.html$")]


@functools.lru_cache(maxsize=64)
def number_pattern(number_format: str) -> re.Pattern:
    """The regular expression of the numbers a format such as ``XX〔{year}〕{serial:04d}号`` prints: its text
    as written, the year as four digits, the serial as digits (at least as many as the format pads to)."""
    parts = []
    for text, field, spec, _conversion in string.Formatter().parse(number_format):
        parts.append(re.escape(text))
        if field == "year":
            parts.append(r"(?P<year>\d{4})")
        elif field == "serial":
            digits = spec.rstrip("d")
            width = int(digits) if digits.isdigit() and int(digits) else 1
            parts.append(rf"(?P<serial>\d{{{width},}})")
    return re.compile("".join(parts))


#: The case documents a scheme may print from a template of its own (``Documents.templates``), in place of the
#: shared one under ``templates/documents/`` (which prints only the scheme's words).
DocumentName = Literal["acceptance_request", "application_form", "self_check_form", "assessment_form",
                       "precheck_opinion", "notice_result", "panel_roster", "integrity_notice"]


def _takes_only(value: str, what: str, **names: Any) -> str:
    """``value`` formatted with ``names`` (sample values) must work: a text naming another field is refused."""
    try:
        value.format(**names)
    except (KeyError, IndexError, ValueError) as exc:
        taken = " and ".join(f"{{{n}}}" for n in names) or "no field in braces"
        raise ValueError(f"{what} takes only {taken}: {exc}") from None
    return value


class Documents(_Spec):
    """The scheme's documents, in its own words, each declared by the file (none is inherited from another
    scheme): the confirmation letter's model per grade (a template; the archives' 附件5 has two) and the model of
    every other grade; the certificate's number, a format with ``{year}`` and ``{serial}``; the certificate's
    title (and, where the scheme has a recheck, the title of the certificate a recheck renews) and its
    statement, a sentence with ``{grade}``; the title of the application and approval form; the confirmation
    letter's subject, with ``{institution}`` and ``{grade}``.

    And what the case's other documents print: ``basis``, the text the documents cite (the regulation, with its
    number); ``assessment``, the scheme's word for the assessment (考评, 督导评估, 考核: its panel is the
    ``{assessment}组``); ``work``, the work assessed (档案工作); the titles of the self-check form, the assessment
    form and the panel roster; ``notice_lead``, the public notice's first sentence; ``integrity_lead``, the
    integrity notice's first sentence (with ``{bureau}``); the annual approvals summary's title (with ``{bureau}``
    and ``{year}``) and its closing note (with ``{due}``, the day it is due; empty where the source says
    nothing); ``letter_number``, the confirmation letter's number, a format with ``{year}`` and ``{serial}`` (and
    ``{bureau}``, the issuing bureau's name: each bureau numbers its letters in one series a year). ``templates``
    optionally names a template of the scheme's own for a case document (its other parts are the shared ones)."""

    letters: dict[Code, Template] = {}
    letter_default: Template
    templates: dict[DocumentName, Template] = {}
    certificate_number: str
    certificate_title: str = Field(min_length=1)
    recheck_certificate_title: str = ""
    certificate_statement: str = Field(min_length=1)
    application_form_title: str = Field(min_length=1)
    letter_subject: str = Field(min_length=1)
    letter_number: str
    basis: str = Field(min_length=1)
    assessment: str = Field(min_length=1)
    work: str = Field(min_length=1)
    self_check_form_title: str = Field(min_length=1)
    assessment_form_title: str = Field(min_length=1)
    panel_roster_title: str = Field(min_length=1)
    notice_lead: str = Field(min_length=1)
    integrity_lead: str = Field(min_length=1)
    annual_summary_title: str = Field(min_length=1)
    annual_summary_note: str

    @field_validator("basis", "assessment", "work", "self_check_form_title", "assessment_form_title",
                     "panel_roster_title", "notice_lead")
    @classmethod
    def _plain(cls, value: str) -> str:
        return _takes_only(value, "this text")

    @field_validator("integrity_lead")
    @classmethod
    def _integrity_lead(cls, value: str) -> str:
        return _takes_only(value, "the integrity notice's first sentence", bureau="某局")

    @field_validator("annual_summary_title")
    @classmethod
    def _summary_title(cls, value: str) -> str:
        return _takes_only(value, "the annual summary's title", bureau="某局", year=2026)

    @field_validator("annual_summary_note")
    @classmethod
    def _summary_note(cls, value: str) -> str:
        return _takes_only(value, "the annual summary's note", due="12月20日")

    @field_validator("letter_number")
    @classmethod
    def _letter_number(cls, value: str) -> str:
        _takes_only(value, "the letter number format", bureau="某局", year=2026, serial=1)
        if "{serial" not in value or "{year" not in value:
            raise ValueError("the letter number format needs {year} and {serial}")
        return value

    @field_validator("letter_subject")
    @classmethod
    def _names_both(cls, value: str) -> str:
        try:
            value.format(institution="某单位", grade="合格")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"the letter's subject takes only {{institution}} and {{grade}}: {exc}") from None
        return value

    @field_validator("certificate_statement")
    @classmethod
    def _names_the_grade(cls, value: str) -> str:
        if "{grade}" not in value:
            raise ValueError("the certificate's statement names the grade: put {grade} where it goes")
        try:
            value.format(grade="合格")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"the certificate's statement takes only {{grade}}: {exc}") from None
        return value

    def certificate_title_for(self, kind: str) -> str:
        """The certificate's title: a recheck's own where the scheme names one."""
        return self.recheck_certificate_title if kind == "recheck" and self.recheck_certificate_title \
            else self.certificate_title

    @field_validator("certificate_number")
    @classmethod
    def _formats(cls, value: str) -> str:
        try:
            value.format(year=2026, serial=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"the certificate number format takes only {{year}} and {{serial}}: {exc}") from None
        if "{serial" not in value or "{year" not in value:
            raise ValueError("the certificate number format needs {year} and {serial}")
        return value

    def letter_template(self, grade: str) -> str:
        return self.letters.get(grade, self.letter_default)

    def template_for(self, document: str, shared: str) -> str:
        """The template of a case document: the scheme's own where it names one, else the shared one."""
        return self.templates.get(document, shared)

    def letter_number_for(self, bureau: str, year: int, serial: int) -> str:
        return self.letter_number.format(bureau=bureau, year=year, serial=serial)

    def integrity_lead_for(self, bureau: str) -> str:
        return self.integrity_lead.format(bureau=bureau)

    def annual_summary_title_for(self, bureau: str, year: int) -> str:
        return self.annual_summary_title.format(bureau=bureau, year=year)

    def certificate_number_for(self, year: int, serial: int) -> str:
        return self.certificate_number.format(year=year, serial=serial)

    def certificate_number_parse(self, number: str) -> tuple[int, int] | None:
        """(year, serial) of a number printed in this scheme's format, or None for any other number."""
        match = number_pattern(self.certificate_number).fullmatch(number.strip())
        return (int(match["year"]), int(match["serial"])) if match else None


class Stages(_Spec):
    """The optional stages of a case, each stated by the file: a scheme whose source has no pre-check, public
    notice or recheck says ``false``, and its cases' process skips them."""

    precheck: bool
    notice: bool
    recheck: bool


class SchemeSpec(_Spec):
    code: Code
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    title_en: str = ""
    source: str = ""
    effective_from: dt.date
    time_zone: str
    grades: Annotated[tuple[Grade, ...], NonEmpty]
    promotion: Promotion
    prerequisites: tuple[Prerequisite, ...] = ()
    gates: tuple[Gate, ...] = ()
    authority: dict[InstitutionLevelCode, dict[Code, dict[KindCode, AuthorityCell]]]
    panel: Panel
    times: Times
    stages: Stages
    documents: Documents
    rubrics: Annotated[dict[Code, Rubric], NonEmpty]

    @model_validator(mode="after")
    def _notice_has_days(self) -> SchemeSpec:
        if self.stages.notice and self.times.notice_days < 1:
            raise ValueError("a scheme with a public notice needs times.notice_days of at least 1 "
                             "(or stages.notice: false)")
        if not self.stages.notice and self.times.notice_days:
            raise ValueError("a scheme without a public notice (stages.notice: false) has times.notice_days 0")
        return self

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> SchemeSpec:
        if info.context and info.context.get("defer_references"):
            return self  # parse_scheme reports them with their lines
        problems = self.reference_problems()
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        return self

    def reference_problems(self) -> list[tuple[tuple, str]]:
        """Every cross-reference that does not resolve, each with its path in the file."""
        out: list[tuple[tuple, str]] = []
        codes = [g.code for g in self.grades]
        known = set(codes)
        for index, grade in enumerate(self.grades):
            if codes.count(grade.code) > 1:
                out.append((("grades", index, "code"), f"grade code {grade.code!r} is used twice"))
            if [g.rank for g in self.grades].count(grade.rank) > 1:
                out.append((("grades", index, "rank"), f"grade rank {grade.rank} is used twice"))
            if grade.rubric not in self.rubrics:
                out.append((("grades", index, "rubric"), f"rubric {grade.rubric!r} is not declared"))
            elif grade.pass_line is not None and grade.pass_line > self.rubrics[grade.rubric].max_points:
                out.append((("grades", index, "pass_line"), "the pass line is above the rubric's max_points"))
        for level, by_grade in self.authority.items():
            for grade_code in by_grade:
                if grade_code not in known:
                    out.append((("authority", level, grade_code), f"grade {grade_code!r} is not declared"))
        for index, gate in enumerate(self.gates):
            for grade_code in gate.grades:
                if grade_code not in known:
                    out.append((("gates", index, "grades"), f"grade {grade_code!r} is not declared"))
            if gate.min_grade and gate.min_grade not in known:
                out.append((("gates", index, "min_grade"), f"grade {gate.min_grade!r} is not declared"))
        for index, size in enumerate(self.panel.sizes):
            if size.grade is not None and size.grade not in known:
                out.append((("panel", "sizes", index, "grade"), f"grade {size.grade!r} is not declared"))
        for rubric_code, rubric in self.rubrics.items():
            for c_index, category in enumerate(rubric.categories):
                for i_index, item in enumerate(category.items):
                    for grade_code in item.veto.grades if item.veto else ():
                        if grade_code not in known:
                            out.append((("rubrics", rubric_code, "categories", c_index, "items", i_index, "veto",
                                         "grades"), f"grade {grade_code!r} is not declared"))
        for grade_code in self.documents.letters:
            if grade_code not in known:
                out.append((("documents", "letters", grade_code), f"grade {grade_code!r} is not declared"))
        prereq = [p.code for p in self.prerequisites]
        for index, code in enumerate(prereq):
            if prereq.count(code) > 1:
                out.append((("prerequisites", index, "code"), f"prerequisite code {code!r} is used twice"))
        return out

    # --- lookups -----------------------------------------------------------------------------------------
    def grade(self, code: str) -> Grade:
        for grade in self.grades:
            if grade.code == code:
                return grade
        raise KeyError(code)

    def grades_by_rank(self) -> list[Grade]:
        return sorted(self.grades, key=lambda g: g.rank)

    def rubric_for(self, grade_code: str) -> Rubric:
        return self.rubrics[self.grade(grade_code).rubric]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """SHA-256 of the canonical JSON: two files that mean the same scheme have the same digest."""
        canonical = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# --- loading ----------------------------------------------------------------------------------------------
class _DecimalLoader(yaml.SafeLoader):
    """YAML with exact decimals: 0.2 is Decimal('0.2'), never a float."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    raw = loader.construct_scalar(node)
    try:
        value = Decimal(raw.replace("_", ""))
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite():
        raise yaml.constructor.ConstructorError(None, None, f"{raw!r} is not a decimal number", node.start_mark)
    return value


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.construct_mapping = _construct_mapping  # type: ignore[method-assign]
# Keep dates as strings for pydantic, so YAML and JSON files validate alike; keep 01-01 as text too.
_DecimalLoader.yaml_implicit_resolvers = {
    k: [(tag, regexp) for tag, regexp in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line_index(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each path in a YAML document to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines.update(_line_index(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            lines.update(_line_index(value, (*path, index)))
    return lines


def _describe(loc: tuple, data: Any) -> str:
    """A readable path: ``rubrics.standard.categories[1](code 2).items[0](code 2.1).max_points``."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
            node = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(node, dict) and "code" in node:
                parts.append(f"(code {node['code']})")
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _where(loc: tuple, data: Any, lines: dict[tuple, int]) -> str:
    line = None
    for cut in range(len(loc), -1, -1):  # pydantic may append a union branch to loc
        if loc[:cut] in lines:
            line = lines[loc[:cut]]
            break
    return _describe(loc, data) + (f" (line {line})" if line else "")


def parse_scheme(text: str, source: str = "<scheme>") -> SchemeSpec:
    """Parse and validate a scheme file's text (YAML, of which JSON is a subset).

    Raises :class:`SchemeError` listing every problem with its path and line.
    """
    try:
        root = yaml.compose(text, Loader=_DecimalLoader)
        data = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
        lines = _line_index(root) if root is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise SchemeError(source, [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    except RecursionError:
        raise SchemeError(source, [("(file)", "an alias refers to itself")]) from None
    if not isinstance(data, dict):
        raise SchemeError(source, [("(top level)", "a scheme file holds a mapping of fields")])
    errors: list[tuple[str, str]] = []
    try:
        spec = SchemeSpec.model_validate(data, context={"defer_references": True})
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            errors.append((_where(loc, data, lines), err["msg"].removeprefix("Value error, ")))
    else:
        errors = [(_where(loc, data, lines), msg) for loc, msg in spec.reference_problems()]
    if errors:
        raise SchemeError(source, list(dict.fromkeys(errors)))  # an aliased rubric repeats its errors
    return spec


def load_scheme_file(path: str | Path) -> SchemeSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemeError(str(path), [("(file)", f"cannot read: {exc.strerror}")]) from None
    return parse_scheme(text, source=path.name)


def shipped_scheme_files() -> list[Path]:
    return sorted(SCHEMES_DIR.glob("*.yaml"))


@functools.cache
def _shipped_latest() -> dict[str, tuple[Path, SchemeSpec]]:
    """The latest shipped version of each scheme, by code: its file and its parsed spec (each file read once)."""
    latest: dict[str, tuple[int, Path, SchemeSpec]] = {}
    for path in shipped_scheme_files():
        spec = load_scheme_file(path)
        if spec.code not in latest or spec.version > latest[spec.code][0]:
            latest[spec.code] = (spec.version, path, spec)
    return {code: (path, spec) for code, (_version, path, spec) in latest.items()}


def shipped_scheme_file(code: str) -> Path:
    """The file of the latest shipped version of the scheme ``code``; ``KeyError`` when none is shipped.

    There is no default scheme: every rule is read from the scheme its case runs under, and a caller that has
    no case (a benchmark, a test, the loader of the shipped files) names the scheme it means.
    """
    return _shipped_latest()[code][0]


def shipped_scheme(code: str) -> SchemeSpec:
    """The latest shipped version of the scheme ``code`` (see :func:`shipped_scheme_file`)."""
    return _shipped_latest()[code][1]


# --- Comparing two versions -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemeChange:
    """One difference between two versions of a scheme: where (a dotted path; list entries that carry a ``code``
    are named by it, so that an item moved or inserted is not reported as every later item changed), what kind
    (``added``, ``removed``, ``changed``) and the values before and after."""

    path: str
    kind: str
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {_shown(self.after)}"
        if self.kind == "removed":
            return f"- {self.path}: {_shown(self.before)}"
        return f"~ {self.path}: {_shown(self.before)} → {_shown(self.after)}"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "…"


def _keyed(values: list) -> dict | None:
    """A list of mappings that each carry a distinct ``code``, by code (else None: compared by position)."""
    if values and all(isinstance(v, dict) and "code" in v for v in values):
        keys = [str(v["code"]) for v in values]
        if len(set(keys)) == len(keys):
            return dict(zip(keys, values, strict=True))
    return None


def _changes(before: Any, after: Any, path: str) -> list[SchemeChange]:
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in [*before, *[k for k in after if k not in before]]:
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                found.append(SchemeChange(where, "removed", before=before[key]))
            elif key not in before:
                found.append(SchemeChange(where, "added", after=after[key]))
            else:
                found.extend(_changes(before[key], after[key], where))
        return found
    if isinstance(before, list) and isinstance(after, list):
        old, new = _keyed(before), _keyed(after)
        if old is not None and new is not None:
            return _changes(old, new, path)
        if len(before) == len(after):
            found = []
            for index, (one, other) in enumerate(zip(before, after, strict=True)):
                found.extend(_changes(one, other, f"{path}[{index}]"))
            return found
    return [SchemeChange(path, "changed", before=before, after=after)]


def scheme_diff(old: SchemeSpec, new: SchemeSpec) -> list[SchemeChange]:
    """What ``new`` changes from ``old``, field by field, in the file's order."""
    return _changes(old.model_dump(mode="json"), new.model_dump(mode="json"), "")
