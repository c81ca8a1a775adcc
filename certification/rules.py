"""The scheme's rules as pure functions (DESIGN §3): authority, panel sizes, time rules, eligibility.

Every function reads the :class:`~certification.scheme.SchemeSpec` its case runs under (there is no default
scheme; only the calendar helpers fall back on the deployment's zone) and plain values; none touches the
database, the clock or HTTP. A refusal is a :class:`~certification.exceptions.Refusal` naming the rule and
what would satisfy it. Rubric scoring lives
in :mod:`certification.scoring` and is re-exported here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .enums import BUREAU_DEPTH, INSTITUTION_DEPTH
from .exceptions import NotEligible, Refusal, RuleViolation
from .scheme import SchemeSpec
from .scoring import (  # noqa: F401 - re-exported: rubric scoring is part of the rules
    Assessment,
    ItemEntry,
    ItemScore,
    aggregate_totals,
    assess,
    consolidate_item,
    onsite_passes,
    score_item,
)

INSTITUTION_LEVELS = tuple(INSTITUTION_DEPTH)
BUREAU_LEVELS = tuple(BUREAU_DEPTH)
KINDS = ("promotion", "recheck")


def _day(value: dt.date) -> str:
    return date_format(value, "Y-m-d")


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later; a February 29 with no counterpart becomes March 1."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # February 29 into a common year
        return dt.date(day.year + years, 3, 1)


# --- Authority (§3.3) ---------------------------------------------------------------------------------------
def _authority_cell(institution_level: str, grade: str, kind: str, scheme: SchemeSpec):
    if institution_level not in INSTITUTION_LEVELS:
        raise ValueError(f"unknown institution level {institution_level!r}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    scheme.grade(grade)  # KeyError for a grade the scheme does not have
    cell = scheme.authority.get(institution_level, {}).get(grade, {}).get(kind)
    if cell is None:
        grade_name = scheme.grade(grade).name
        raise NotEligible(
            Refusal(
                code="authority.not_open",
                rule=_("Authority (article 9)"),
                message=_("The grade %(grade)s is not open to institutions of this level.") % {"grade": grade_name},
                satisfy=_("Declare a grade open to your level."),
                params={"institution_level": institution_level, "grade": grade, "kind": kind},
            )
        )
    return cell


def assessing_level(institution_level: str, grade: str, kind: str, *, scheme: SchemeSpec) -> str:
    """The level of the bureau that assesses: ``'province' | 'city' | 'county'``.

    Raises :class:`NotEligible` where the grade is not open to institutions of that level.
    """
    return _authority_cell(institution_level, grade, kind, scheme).assess


def filing_level(institution_level: str, grade: str, kind: str, *, scheme: SchemeSpec) -> str | None:
    """The level of the bureau an approved recheck is filed with, or ``None`` where it is not filed."""
    return _authority_cell(institution_level, grade, kind, scheme).file_with


def forwarding_level(institution_level: str, grade: str, kind: str, *, scheme: SchemeSpec
                     ) -> str | None:
    """The level of the bureau that gathers the declaration and forwards it to the assessing bureau (special
    grade below the province: the city bureau, within the first quarter), or ``None``."""
    return _authority_cell(institution_level, grade, kind, scheme).forward_via


def precheck_delegate_level(institution_level: str, grade: str, kind: str, *, scheme: SchemeSpec
                            ) -> str | None:
    """The level of the bureau to which the assessing bureau may delegate the pre-check (第十条: the province
    delegates a special-grade promotion's pre-check to the city bureau), or ``None``."""
    return _authority_cell(institution_level, grade, kind, scheme).delegate_precheck


def planning_level(institution_level: str, grade: str, kind: str, *, scheme: SchemeSpec) -> str:
    """The level of the bureau whose assessment plan lists the declaration (下达考评计划): the assessing bureau,
    unless the scheme names another (special-grade rechecks below the province: the province plans, the city
    assesses)."""
    cell = _authority_cell(institution_level, grade, kind, scheme)
    return cell.plan or cell.assess


# --- Panel size (§3.4) --------------------------------------------------------------------------------------
def panel_size(
    bureau_level: str, institution_level: str, grade: str, *, scheme: SchemeSpec
) -> tuple[int, int]:
    """``(min, max)`` members of a review panel, chair included, by the first matching rule of the scheme."""
    if bureau_level not in BUREAU_LEVELS:
        raise ValueError(f"unknown bureau level {bureau_level!r}")
    if institution_level not in INSTITUTION_LEVELS:
        raise ValueError(f"unknown institution level {institution_level!r}")
    scheme.grade(grade)
    distance = INSTITUTION_DEPTH[institution_level] - BUREAU_DEPTH[bureau_level]
    for rule in scheme.panel.sizes:
        if rule.bureau_level not in (None, bureau_level):
            continue
        if rule.institution_level not in (None, institution_level):
            continue
        if rule.grade not in (None, grade):
            continue
        if rule.distance is not None and rule.distance != distance:
            continue
        return rule.min, rule.max
    raise AssertionError("the scheme's last panel size rule matches everything")  # validated on load


# --- Time rules (§3.6) --------------------------------------------------------------------------------------
def has_stage(stage: str, *, scheme: SchemeSpec) -> bool:
    """Whether the scheme's cases go through an optional stage: ``precheck``, ``notice`` or ``recheck``."""
    return getattr(scheme.stages, stage)


def acceptance_transition(scheme: SchemeSpec) -> str:
    """The case's move when the applicant requests acceptance: to the pre-check, or, where the scheme has none,
    on to the public notice, or straight to the panel where it has no notice either."""
    if has_stage("precheck", scheme=scheme):
        return "request_acceptance"
    return "request_acceptance_to_notice" if has_stage("notice", scheme=scheme) else "request_acceptance_to_panel"


def precheck_pass_transition(scheme: SchemeSpec) -> str:
    """The case's move when its pre-check passes: on to the public notice, or straight to the panel where the
    scheme has no notice."""
    return "pass_precheck" if has_stage("notice", scheme=scheme) else "pass_precheck_to_panel"


def scheme_zone(scheme: SchemeSpec | None = None) -> ZoneInfo:
    """The zone a scheme's days are counted in; without a scheme (a date shown outside any case), the
    deployment's ``TIME_ZONE``."""
    return ZoneInfo(scheme.time_zone if scheme is not None else settings.TIME_ZONE)


def _require_aware(moment: dt.datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def local_date(moment: dt.datetime, *, scheme: SchemeSpec | None = None) -> dt.date:
    """The calendar day of an instant in the scheme's zone."""
    _require_aware(moment, "moment")
    return moment.astimezone(scheme_zone(scheme)).date()


def start_of_local_day(day: dt.date, *, scheme: SchemeSpec | None = None) -> dt.datetime:
    """Local midnight at the start of ``day`` in the scheme's zone, as an aware datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=scheme_zone(scheme))


def deadline_last_day(moment: dt.datetime, *, scheme: SchemeSpec | None = None) -> dt.date:
    """The last day a deadline leaves, in the scheme's zone. Deadlines are stored as the instant they pass —
    local midnight after the last day — so a period ending at 2026-12-16 00:00 is read "by 2026-12-15"."""
    _require_aware(moment, "moment")
    local = moment.astimezone(scheme_zone(scheme))
    day = local.date()
    return day - dt.timedelta(days=1) if local.time() == dt.time.min else day


def deadline_text(moment: dt.datetime, *, scheme: SchemeSpec | None = None) -> str:
    """A deadline as people read it: ``2026-12-15 24:00`` for one at local midnight (the end of the last day),
    otherwise the local day and time."""
    _require_aware(moment, "moment")
    local = moment.astimezone(scheme_zone(scheme))
    if local.time() == dt.time.min:
        return f"{deadline_last_day(moment, scheme=scheme).isoformat()} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


_PHONE = re.compile(r"(?:\+?86[ -]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|[48]00-?\d{3}-?\d{4})")


def contact_kind(value: str) -> str | None:
    """What an objector's contact is: ``"phone"`` (a mainland mobile, a landline with its area code and an
    optional extension, or a 400/800 number; spaces ignored), ``"email"``, or ``None`` for anything else."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    value = (value or "").strip()
    if _PHONE.fullmatch(re.sub(r"[\s()（）]", "", value)):
        return "phone"
    try:
        validate_email(value)
    except ValidationError:
        return None
    return "email"


def notice_closes_at(published_at: dt.datetime, *, scheme: SchemeSpec) -> dt.datetime:
    """A public notice published at T closes at the first local midnight at or after T + 7 × 24 h.

    So it always covers at least seven full days. The result is aware, in the scheme's zone.
    """
    _require_aware(published_at, "published_at")
    zone = scheme_zone(scheme)
    earliest = (published_at.astimezone(dt.UTC) + dt.timedelta(days=scheme.times.notice_days)).astimezone(zone)
    midnight = dt.datetime.combine(earliest.date(), dt.time.min, tzinfo=zone)
    if midnight < earliest:
        midnight = dt.datetime.combine(earliest.date() + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return midnight


def valid_until(issued_on: dt.date, *, scheme: SchemeSpec) -> dt.date:
    """The last day of validity of a certificate issued on ``issued_on``.

    Valid through the day before the same date three years on (2026-11-22 → 2029-11-21); where that date does
    not exist (February 29), it is March 1, so a certificate of 2024-02-29 is valid through 2027-02-28.
    """
    return add_years(issued_on, scheme.times.validity_years) - dt.timedelta(days=1)


def recheck_window(valid_until: dt.date, *, scheme: SchemeSpec) -> tuple[dt.date, dt.date]:
    """``(first_day, last_day)`` in which the holder may declare a recheck.

    From January 1 of the expiry year to the expiry date; where the expiry date is fewer than ``min_days``
    (90) days after that January 1, it opens ``min_days`` before the expiry date instead.
    """
    min_days = scheme.times.recheck_window.min_days
    year_start = dt.date(valid_until.year, 1, 1)
    first_day = year_start
    if (valid_until - year_start).days < min_days:
        first_day = valid_until - dt.timedelta(days=min_days)
    return first_day, valid_until


def lapses_at(valid_until: dt.date, *, scheme: SchemeSpec) -> dt.datetime:
    """The instant a certificate without a recheck declaration lapses: the start of the day after expiry."""
    return start_of_local_day(valid_until + dt.timedelta(days=1), scheme=scheme)


def recheck_reminder_days(valid_until: dt.date, *, scheme: SchemeSpec) -> list[tuple[str, dt.date]]:
    """The days on which the holder is reminded to declare a recheck, each with a stable key."""
    first_day, _last = recheck_window(valid_until, scheme=scheme)
    days = [("window_open", first_day)]
    for before in scheme.times.recheck_reminder_days_before:
        days.append((f"before_{before}", valid_until - dt.timedelta(days=before)))
    return sorted(days, key=lambda kd: kd[1])


def rectification_deadline(returned_at: dt.datetime, days: int | None = None, *, scheme: SchemeSpec
                           ) -> dt.datetime:
    """End of the rectification period: local midnight after the last day (default 30 days)."""
    days = scheme.times.rectification_days if days is None else days
    if days < 1:
        raise ValueError("a rectification period is at least one day")
    return start_of_local_day(local_date(returned_at, scheme=scheme) + dt.timedelta(days=days + 1), scheme=scheme)


def panel_scoring_deadline(formed_at: dt.datetime, *, scheme: SchemeSpec) -> dt.datetime:
    day = local_date(formed_at, scheme=scheme) + dt.timedelta(days=scheme.times.panel_scoring_days + 1)
    return start_of_local_day(day, scheme=scheme)


def _month_day(year: int, value: str) -> dt.date:
    month, day = (int(p) for p in value.split("-"))
    try:
        return dt.date(year, month, day)
    except ValueError:  # 02-29 in a common year: the last day of February
        return dt.date(year, 3, 1) - dt.timedelta(days=1)


def declaration_window(year: int, *, scheme: SchemeSpec) -> tuple[dt.date, dt.date]:
    times = scheme.times
    return _month_day(year, times.declaration_opens), _month_day(year, times.declaration_closes)


def forward_by(year: int, *, scheme: SchemeSpec) -> dt.date:
    """The last day the city bureau may forward the year's gathered declarations to the bureau that plans them
    (第十条: 于当年第一季度报送省档案局)."""
    return _month_day(year, scheme.times.special_forward_by)


def forward_refusals(year: int, today: dt.date, *, late_inclusion: bool,
                     scheme: SchemeSpec) -> list[Refusal]:
    """Why a declaration of ``year`` cannot be forwarded on ``today`` (an empty list when it can): after the
    forwarding deadline, only a late inclusion by the planning bureau's hand lets it through."""
    last = forward_by(year, scheme=scheme)
    if today <= last or late_inclusion:
        return []
    return [Refusal(
        code="forward.deadline_passed", rule=_("Forwarding (article 10)"),
        message=_("The deadline for forwarding this year's declarations, %(last)s, has passed.")
        % {"last": _day(last)},
        satisfy=_("The bureau that plans it may still include it late, by hand and with a reason (late "
                  "declarations); the city bureau can then forward it."),
        params={"forward_by": last.isoformat()},
    )]


def annual_summary_due(year: int, *, scheme: SchemeSpec) -> dt.date:
    return _month_day(year, scheme.times.annual_summary.due)


def annual_summary_years_open(today: dt.date) -> tuple[int, int]:
    """The years whose approvals summary a city bureau may send on ``today``: this year's (on time, or before
    the year ends for the approvals of its last days) and last year's (late, or corrected)."""
    return today.year, today.year - 1


def annual_summary_overdue(year: int, today: dt.date, *, scheme: SchemeSpec) -> bool:
    """Whether a summary of ``year`` not sent by ``today`` is flagged overdue: from the day after the due date
    (a deadline ends at local midnight after its last day) for as long as it can still be sent; an older year
    not sent is shown as not sent, not chased."""
    return today > annual_summary_due(year, scheme=scheme) and year in annual_summary_years_open(today)


# --- Eligibility (§3.1–3.2) ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeldCertificate:
    grade: str
    issued_on: dt.date
    valid_until: dt.date
    status: str = "in_force"


@dataclass(frozen=True)
class Declarant:
    """What the rules need to know of an institution that declares."""

    level: str
    has_system_guidance: bool = False
    certificate: HeldCertificate | None = None  # the current certificate under this scheme, if any
    incident_dates: tuple[dt.date, ...] = ()
    subordinate_units: int = 0
    subordinate_units_graded: int = 0  # holding the gate's min_grade or above, from certificate records


@dataclass(frozen=True)
class Declaration:
    grade: str
    kind: str
    # prerequisite code → "yes" (with evidence), "na" (not applicable) or "no"
    prerequisites: Mapping[str, str] = field(default_factory=dict)
    evidence: frozenset[str] = frozenset()  # prerequisite codes with evidence attached
    gates: Mapping[str, bool] = field(default_factory=dict)  # declared gates
    late_inclusion: bool = False  # the bureau includes a late declaration by hand, with a reason


def next_grade(current: str | None, *, scheme: SchemeSpec) -> str:
    ranked = scheme.grades_by_rank()
    if current is None:
        return ranked[0].code
    codes = [g.code for g in ranked]
    index = codes.index(current)
    if index + 1 >= len(codes):
        raise NotEligible(
            Refusal(
                code="promotion.top_grade",
                rule=_("Step by step (article 3)"),
                message=_("The institution already holds the highest grade."),
                satisfy=_("Declare a recheck of the grade held instead."),
            )
        )
    return codes[index + 1]


def incident_clears_on(incident_on: dt.date, *, scheme: SchemeSpec) -> dt.date:
    """The first day on which an incident is no longer within the incident window."""
    return add_years(incident_on, scheme.times.incident_window_years)


def declaration_refusals(
    declarant: Declarant, declaration: Declaration, *, today: dt.date, scheme: SchemeSpec
) -> list[Refusal]:
    """Every rule that refuses this declaration today; an empty list means it is accepted."""
    refusals: list[Refusal] = []
    try:
        grade = scheme.grade(declaration.grade)
    except KeyError:
        raise ValueError(f"unknown grade {declaration.grade!r}") from None

    # Is the grade open to this level at all (article 4), and which bureau would assess it (article 9)?
    if declarant.level not in grade.open_to:
        refusals.append(Refusal(
            code="grade.level",
            rule=_("Grades and their applicants (article 4)"),
            message=_("%(grade)s is not open to institutions of this level.") % {"grade": grade.name},
            satisfy=_("Declare a grade open to your level."),
        ))
    else:
        try:
            assessing_level(declarant.level, grade.code, declaration.kind, scheme=scheme)
        except NotEligible as exc:
            refusals.extend(exc.refusals)
    if grade.requires_system_guidance and not declarant.has_system_guidance:
        refusals.append(Refusal(
            code="special.system_guidance",
            rule=_("Grades and their applicants (article 4)"),
            message=_("%(grade)s is open only to institutions that guide a system's archives work.")
            % {"grade": grade.name},
            satisfy=_("Record the institution's duty of guiding a system's archives work, if it has one."),
        ))

    held = declarant.certificate
    if held is not None and held.status not in ("in_force", "recheck_in_progress"):
        held = None
    if declaration.kind == "promotion":
        refusals.extend(_promotion_refusals(held, grade.code, today, scheme))
    elif not scheme.stages.recheck:
        refusals.append(Refusal(
            code="recheck.not_in_scheme",
            rule=_("Recheck"),
            message=_("%(scheme)s has no recheck: a grade is assessed anew.") % {"scheme": scheme.title},
            satisfy=_("Declare a promotion instead."),
        ))
    else:
        refusals.extend(_recheck_refusals(held, grade.code, today, scheme))

    # Declaration window (the bureau may include a late declaration by hand, with a reason).
    opens, closes = declaration_window(today.year, scheme=scheme)
    if declaration.kind == "promotion" and not (opens <= today <= closes) and not declaration.late_inclusion:
        refusals.append(Refusal(
            code="declaration.window",
            rule=_("Declaration window (article 10)"),
            message=_("Declarations are received from %(opens)s to %(closes)s.")
            % {"opens": _day(opens), "closes": _day(closes)},
            satisfy=_("Declare within the window, or ask the bureau to include a late declaration, with a reason."),
            params={"opens": opens.isoformat(), "closes": closes.isoformat()},
        ))

    refusals.extend(_prerequisite_refusals(declarant, declaration, today, scheme))
    refusals.extend(_gate_refusals(declarant, declaration, scheme))
    return refusals


def _promotion_refusals(held: HeldCertificate | None, target: str, today: dt.date, scheme: SchemeSpec):
    if not scheme.promotion.step_by_step:
        return []
    current = held.grade if held else None
    try:
        expected = next_grade(current, scheme=scheme)
    except NotEligible as exc:
        return list(exc.refusals)
    out = []
    if target != expected:
        out.append(Refusal(
            code="promotion.step_by_step",
            rule=_("Step by step (article 3)"),
            message=_("Promotion goes one grade at a time: the next grade for this institution is %(grade)s.")
            % {"grade": scheme.grade(expected).name},
            satisfy=_("Declare %(grade)s.") % {"grade": scheme.grade(expected).name},
            params={"expected": expected},
        ))
    if held is not None and scheme.promotion.wait_years:
        allowed_from = add_years(held.issued_on, scheme.promotion.wait_years)
        if today < allowed_from:
            out.append(Refusal(
                code="promotion.one_year_wait",
                rule=_("One-year wait (article 3)"),
                message=_("A holder may declare for the next grade one year after its certificate was issued "
                          "(%(issued)s).") % {"issued": _day(held.issued_on)},
                satisfy=_("Declare on or after %(day)s.") % {"day": _day(allowed_from)},
                params={"allowed_from": allowed_from.isoformat()},
            ))
    return out


def _recheck_refusals(held: HeldCertificate | None, target: str, today: dt.date, scheme: SchemeSpec):
    if held is None or held.grade != target:
        return [Refusal(
            code="recheck.no_certificate",
            rule=_("Recheck (article 11)"),
            message=_("A recheck is for the grade the institution holds, with a certificate in force."),
            satisfy=_("Declare a promotion instead, or a recheck of the grade held."),
        )]
    first_day, last_day = recheck_window(held.valid_until, scheme=scheme)
    if not first_day <= today <= last_day:
        return [Refusal(
            code="recheck.window",
            rule=_("Recheck window (article 11)"),
            message=_("A recheck is declared from %(start)s to %(end)s.")
            % {"start": _day(first_day), "end": _day(last_day)},
            satisfy=_("Declare within that window."),
            params={"first_day": first_day.isoformat(), "last_day": last_day.isoformat()},
        )]
    return []


def _prerequisite_refusals(declarant: Declarant, declaration: Declaration, today: dt.date, scheme: SchemeSpec):
    out = []
    for prereq in scheme.prerequisites:
        if prereq.check == "incident_window":
            recent = [d for d in declarant.incident_dates if today < incident_clears_on(d, scheme=scheme)]
            if recent:
                last = max(recent)
                clears = incident_clears_on(last, scheme=scheme)
                out.append(Refusal(
                    code=f"prerequisite.{prereq.code}",
                    rule=_("Prerequisites (article 5)"),
                    message=_("An archives-safety incident occurred on %(day)s, within the last %(years)d "
                              "years.") % {"day": _day(last), "years": scheme.times.incident_window_years},
                    satisfy=_("The institution may declare from %(day)s.") % {"day": _day(clears)},
                    params={"incident_on": last.isoformat(), "clears_on": clears.isoformat()},
                ))
                continue
        answer = declaration.prerequisites.get(prereq.code, "")
        if answer == "na" and prereq.na_allowed:
            continue
        if answer == "yes" and prereq.code in declaration.evidence:
            continue
        if answer == "na":
            satisfy = _("This condition cannot be marked not applicable: attach its evidence.")
        elif answer == "yes":
            satisfy = _("Attach the evidence for this condition.")
        elif prereq.na_allowed:
            satisfy = _("Declare that the condition is met and attach its evidence, or mark it not applicable.")
        else:
            satisfy = _("Declare that the condition is met and attach its evidence.")
        out.append(Refusal(
            code=f"prerequisite.{prereq.code}",
            rule=_("Prerequisites (article 5)"),
            message=_("Condition not met: %(text)s.") % {"text": prereq.text},
            satisfy=satisfy,
        ))
    return out


def _gate_refusals(declarant: Declarant, declaration: Declaration, scheme: SchemeSpec):
    out = []
    for gate in scheme.gates:
        if declaration.grade not in gate.grades:
            continue
        if gate.check == "subordinate_share":
            total, graded = declarant.subordinate_units, declarant.subordinate_units_graded
            if total == 0 or Decimal(graded) / Decimal(total) < gate.min_share:
                need = max(1, int((gate.min_share * total).to_integral_value(rounding=ROUND_CEILING)))
                out.append(Refusal(
                    code=f"gate.{gate.code}",
                    rule=_("Special grade conditions"),
                    message=_("%(graded)d of %(total)d subordinate units hold %(grade)s or above.")
                    % {"graded": graded, "total": total, "grade": scheme.grade(gate.min_grade).name},
                    satisfy=_("At least %(need)d must hold it, according to the certificate records in this system.") % {"need": need},
                    params={"graded": graded, "total": total, "need": need},
                ))
        elif not declaration.gates.get(gate.code):
            out.append(Refusal(
                code=f"gate.{gate.code}",
                rule=_("Special grade conditions"),
                message=_("Condition not met: %(text)s.") % {"text": gate.text},
                satisfy=_("Declare that the condition is met and attach its evidence."),
            ))
    return out


def check_declaration(
    declarant: Declarant, declaration: Declaration, *, today: dt.date, scheme: SchemeSpec
) -> str:
    """Accept a declaration or raise :class:`NotEligible` with every refusal; returns the assessing level."""
    refusals = declaration_refusals(declarant, declaration, today=today, scheme=scheme)
    if refusals:
        raise NotEligible(*refusals)
    return assessing_level(declarant.level, declaration.grade, declaration.kind, scheme=scheme)


def certificates_conferring(grades: Iterable[str], min_grade: str, *, scheme: SchemeSpec) -> int:
    """How many of these grades are ``min_grade`` or above (for the subordinate-units gate)."""
    floor = scheme.grade(min_grade).rank
    return sum(1 for g in grades if scheme.grade(g).rank >= floor)


# --- Panel members (§3.4) -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """An expert of the pool, as the panel rules see them."""

    expert_id: int
    user_id: int | None = None
    employer_id: int | None = None  # the current employer
    system_id: int | None = None  # the head institution of the system the expert declares they belong to
    past_employers: tuple[tuple[int, dt.date | None], ...] = ()  # (institution, ended on; None = still there)
    declared_conflicts: frozenset[int] = frozenset()
    term: tuple[dt.date, dt.date] | None = None
    grades: tuple[str, ...] = ()  # grades the expert may review; empty = every grade
    schemes: tuple[str, ...] = ()  # schemes the expert may review; empty = every scheme
    load: int = 0  # panels the expert sits on that are not decided yet
    name: str = ""
    tier: int = 0  # whose pool: 0 the assessing bureau's, 1 its higher bureau's, 2 the one above...


# How an institution stands to the applicant, within the applicant's system (its chain of parent and
# subordinate institutions, ``Institution.parent``, from the top of that chain down).
SELF, PARENT, SUBORDINATE, SYSTEM = "self", "parent", "subordinate", "system"


@dataclass(frozen=True)
class SystemUnit:
    relation: str  # SELF, PARENT (an ancestor), SUBORDINATE (a descendant) or SYSTEM (elsewhere in the system)
    name: str = ""


@dataclass(frozen=True)
class PanelCase:
    """What the panel rules need to know of the case."""

    institution_id: int
    system_id: int | None  # the head institution of the applicant's system (the top of its chain)
    grade: str
    prechecker_user_id: int | None = None
    scheme: str = ""  # the code of the case's scheme; empty: not known, not checked
    # every institution of the applicant's system, the applicant included, with how it stands to the
    # applicant; empty: only the applicant and the system's head are known
    units: Mapping[int, SystemUnit] = field(default_factory=dict)

    def system_units(self) -> Mapping[int, SystemUnit]:
        if self.units:
            return self.units
        units = {self.institution_id: SystemUnit(SELF)}
        if self.system_id is not None and self.system_id != self.institution_id:
            units[self.system_id] = SystemUnit(SYSTEM)
        return units


def _relation_text(relation: str) -> str:
    return {SELF: _("the applicant itself"), PARENT: _("a parent unit of the applicant"),
            SUBORDINATE: _("a subordinate unit of the applicant"),
            SYSTEM: _("a unit of the applicant's system")}[relation]


def expert_conflicts(candidate: Candidate, case: PanelCase, *, today: dt.date,
                     scheme: SchemeSpec) -> list[Refusal]:
    """Every reason this expert may not sit on this case's panel; empty when they may (回避 is enforced).

    An expert employed now, or within the scheme's window (``panel.conflict_employment_years``), by the
    applicant, one of its parent units, one of its subordinate units or any other unit of its system is
    recused; so is one who declares they belong to that system, declared a conflict with the applicant,
    pre-checked the case, is outside their appointment or not appointed for the grade."""
    out: list[Refusal] = []
    rule = _("Recusal")
    expert = candidate.name or f"#{candidate.expert_id}"

    def refuse(code: str, message: str) -> None:
        out.append(Refusal(code=f"panel.{code}", rule=rule, message=message,
                           satisfy=_("Choose another expert from the pool."), params={"expert": candidate.expert_id}))

    units = case.system_units()
    window = scheme.panel.conflict_employment_years
    codes = {SELF: "own_institution", PARENT: "parent_unit", SUBORDINATE: "subordinate_unit", SYSTEM: "same_system"}
    seen: set[tuple[str, int]] = set()
    if candidate.employer_id in units:
        unit = units[candidate.employer_id]
        seen.add((codes[unit.relation], candidate.employer_id))
        refuse(codes[unit.relation], _("%(expert)s works for %(unit)s (%(relation)s).") % {
            "expert": expert, "unit": unit.name or _("the applicant"), "relation": _relation_text(unit.relation)})
    for institution_id, ended_on in candidate.past_employers:
        unit = units.get(institution_id)
        if unit is None or not (ended_on is None or add_years(ended_on, window) > today):
            continue
        code = "recent_employment" if unit.relation == SELF else codes[unit.relation]
        if (code, institution_id) in seen or (codes[unit.relation], institution_id) in seen:
            continue
        seen.add((code, institution_id))
        params = {"expert": expert, "unit": unit.name or _("the applicant"), "relation": _relation_text(unit.relation),
                  "years": window}
        if ended_on is None:
            refuse(code, _("%(expert)s works for %(unit)s (%(relation)s).") % params)
        else:
            refuse(code, _("%(expert)s worked for %(unit)s (%(relation)s) until %(until)s, within the last "
                           "%(years)d years.") % {**params, "until": ended_on.isoformat()})
    if candidate.system_id is not None and candidate.system_id in units and not any(
            code == "same_system" for code, _unit in seen):
        refuse("same_system", _("%(expert)s belongs to the applicant's system.") % {"expert": expert})
    if case.institution_id in candidate.declared_conflicts:
        refuse("declared_conflict", _("%(expert)s declared a conflict of interest with the applicant.")
               % {"expert": expert})
    if case.prechecker_user_id is not None and candidate.user_id == case.prechecker_user_id:
        refuse("prechecker", _("%(expert)s pre-checked this case.") % {"expert": expert})
    if candidate.term is not None and not candidate.term[0] <= today <= candidate.term[1]:
        refuse("out_of_term", _("The appointment of %(expert)s does not cover today.") % {"expert": expert})
    if candidate.grades and case.grade not in candidate.grades:
        refuse("grade", _("%(expert)s is not appointed to review this grade.") % {"expert": expert})
    if candidate.schemes and case.scheme and case.scheme not in candidate.schemes:
        refuse("scheme", _("%(expert)s is not appointed to review this scheme.") % {"expert": expert})
    return out


@dataclass(frozen=True)
class PanelProposal:
    members: tuple[int, ...]  # expert ids, the chair first
    seed: int
    excluded: Mapping[int, tuple[str, ...]]  # expert id → refusal codes


def propose_panel(candidates: Iterable[Candidate], case: PanelCase, *, bureau_level: str, institution_level: str,
                  seed: int, today: dt.date, size: int | None = None,
                  scheme: SchemeSpec) -> PanelProposal:
    """Draw a panel from the qualified pools: no conflicted expert; the assessing bureau's own pool first, and
    a higher bureau's pool only for the seats the pools below it cannot fill; within a pool the least loaded
    first, ties broken by a random draw from ``seed`` (recorded, so the draw can be replayed). ``size``
    defaults to the rule's minimum; pools too small for the minimum are refused."""
    import random

    low, high = panel_size(bureau_level, institution_level, case.grade, scheme=scheme)
    size = low if size is None else size
    if not low <= size <= high:
        raise RuleViolation(Refusal(
            code="panel.size", rule=_("Panel size (article 10)"),
            message=_("A panel for this case has %(min)d to %(max)d members.") % {"min": low, "max": high},
            satisfy=_("Choose a size within those bounds."), params={"min": low, "max": high},
        ))
    excluded: dict[int, tuple[str, ...]] = {}
    eligible: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.expert_id):
        refusals = expert_conflicts(candidate, case, today=today, scheme=scheme)
        if refusals:
            excluded[candidate.expert_id] = tuple(r.code for r in refusals)
        else:
            eligible.append(candidate)
    if len(eligible) < size:
        raise RuleViolation(Refusal(
            code="panel.pool_too_small", rule=_("Panel size (article 10)"),
            message=_("Only %(n)d experts of the pool may sit on this panel; it needs %(size)d.")
            % {"n": len(eligible), "size": size},
            satisfy=_("Add experts to the pool, or ask the higher bureau's pool."),
            params={"eligible": len(eligible), "size": size},
        ))
    draw = random.Random(seed)  # noqa: S311 - a recorded, replayable draw, not a secret
    keyed = [(c.tier, c.load, draw.random(), c.expert_id) for c in eligible]
    chosen = [expert_id for _tier, _load, _r, expert_id in sorted(keyed)[:size]]
    return PanelProposal(members=tuple(chosen), seed=seed, excluded=excluded)


def scorer_group_refusals(member_groups: Iterable[str], *, scheme: SchemeSpec) -> list[Refusal]:
    """Under ``weighted_groups``, every member scores in one of the scheme's groups and every group has a
    member; other schemes have no groups."""
    member_groups = list(member_groups)
    known = {g.code for g in scheme.panel.groups}
    if not known:
        return []
    refusals = []
    if any(g not in known for g in member_groups):
        refusals.append(Refusal(code="panel.group_missing", rule=_("Panel"),
                                message=_("Under this scheme each member scores in one of its scorer groups."),
                                satisfy=_("Choose each member's scorer group.")))
    empty = [g.name for g in scheme.panel.groups if g.code not in member_groups]
    if empty:
        refusals.append(Refusal(code="panel.group_empty", rule=_("Panel"),
                                message=_("These scorer groups have no member: %(groups)s.")
                                % {"groups": pgettext("list separator", ", ").join(empty)},
                                satisfy=_("Give every scorer group at least one member.")))
    return refusals


def pool_order_refusals(chosen: Iterable[Candidate], eligible: Iterable[Candidate]) -> list[Refusal]:
    """A panel chosen by hand keeps the pools' order: it takes from a higher bureau's pool no more experts than
    the pools below it cannot provide (their eligible experts not chosen leave that many seats to them)."""
    chosen, eligible = list(chosen), list(eligible)
    size = len(chosen)
    out: list[Refusal] = []
    for tier in sorted({c.tier for c in chosen if c.tier > 0}):
        nearer = sum(1 for c in eligible if c.tier < tier)
        allowed = max(0, size - nearer)
        farther = [c for c in chosen if c.tier >= tier]
        if len(farther) > allowed:
            out.append(Refusal(
                code="panel.pool_order", rule=_("Expert pools"),
                message=_("%(experts)s come from a higher bureau's pool, but the nearer pools have %(n)d eligible "
                          "experts for the %(size)d seats: a higher bureau's pool is drawn from only when the "
                          "nearer pools are too small.")
                % {"experts": "、".join(c.name or f"#{c.expert_id}" for c in farther), "n": nearer, "size": size},
                satisfy=_("Choose the experts of the assessing bureau's own pool first."),
                params={"eligible_nearer": nearer, "size": size, "tier": tier}))
            break
    return out


# --- Reminders (§3.6): when each reminder falls due -----------------------------------------------------------
# A daily sweep that missed a day (an outage) still sends a reminder up to this many days late, once; older
# ones are not sent any more (the next reminder, or the deadline itself, has taken over).
REMINDER_GRACE_DAYS = 3
# Reminders before a rectification deadline, in days (the scheme is silent; a product decision).
RECTIFICATION_REMINDER_DAYS_BEFORE = (7, 1)


def recheck_reminders_due(valid_until: dt.date, today: dt.date, *, scheme: SchemeSpec,
                          grace: int = REMINDER_GRACE_DAYS) -> list[str]:
    """The keys of the recheck reminders due on ``today`` for a certificate valid through ``valid_until``.

    A reminder is due from its day until ``grace`` days later; where two fall on the same day (an early-year
    expiry whose window opens 90 days before it), only the later key of the two is sent. Nothing is due
    after the expiry date.
    """
    if today > valid_until:
        return []
    by_day: dict[dt.date, str] = {}
    for key, day in recheck_reminder_days(valid_until, scheme=scheme):
        by_day[day] = key  # sorted by day, so the later key of a shared day wins
    return [key for day, key in sorted(by_day.items()) if day <= today <= day + dt.timedelta(days=grace)]


def recheck_reminder_expiry_ranges(today: dt.date, *, scheme: SchemeSpec,
                                   grace: int = REMINDER_GRACE_DAYS) -> list[tuple[dt.date, dt.date]]:
    """Ranges of expiry dates (inclusive) that may have a recheck reminder due on ``today``.

    Lets a sweep read only the certificates that may be due, not every certificate in force; each candidate
    is then checked with :func:`recheck_reminders_due`.
    """
    earliest = today - dt.timedelta(days=grace)
    ranges = [(earliest + dt.timedelta(days=d), today + dt.timedelta(days=d))
              for d in scheme.times.recheck_reminder_days_before]
    min_days = scheme.times.recheck_window.min_days
    ranges.append((earliest + dt.timedelta(days=min_days), today + dt.timedelta(days=min_days)))
    for year in {earliest.year, today.year}:
        if earliest <= dt.date(year, 1, 1) <= today:  # the window of every expiry of this year opens
            ranges.append((dt.date(year, 1, 1), dt.date(year, 12, 31)))
    return ranges


def deadline_reminders_due(due_at: dt.datetime, now: dt.datetime, days_before: Iterable[int], *,
                           scheme: SchemeSpec) -> list[str]:
    """Keys (``before_N``) of the reminders due at ``now`` for a deadline at ``due_at``.

    The reminder ``N`` days before is due from the start of the local day ``N`` days before the deadline's
    day until the deadline; of several due at once only the nearest (smallest ``N``) is sent. Nothing is
    due once the deadline has passed.
    """
    _require_aware(due_at, "due_at")
    if now >= due_at:
        return []
    # the deadline's day: a deadline at local midnight ends the day before
    last_day = local_date(due_at - dt.timedelta(microseconds=1), scheme=scheme)
    today = local_date(now, scheme=scheme)
    due = [n for n in days_before if last_day - dt.timedelta(days=n - 1) <= today]
    return [f"before_{min(due)}"] if due else []


def annual_summary_reminders_due(today: dt.date, *, scheme: SchemeSpec,
                                 grace: int = REMINDER_GRACE_DAYS) -> list[str]:
    """Keys of the annual-summary reminders due on ``today`` (``reminder_MM-DD``, or ``overdue`` from the
    day after the due date until ``grace`` days later)."""
    times = scheme.times.annual_summary
    keys = []
    for value in times.reminders:
        day = _month_day(today.year, value)
        if day <= today <= day + dt.timedelta(days=grace) and today <= annual_summary_due(today.year, scheme=scheme):
            keys.append(f"reminder_{value}")
    overdue_from = annual_summary_due(today.year, scheme=scheme) + dt.timedelta(days=1)
    if overdue_from <= today <= overdue_from + dt.timedelta(days=grace):
        keys.append("overdue")
    return keys[-1:] if keys and keys[-1] != "overdue" else keys
