"""Reads for the dashboards (DESIGN §7; issue "Oversight and dashboards"): a bureau's work at a glance, over its
own region and the bureaus below it.

Every figure is one aggregate query (``values`` + ``annotate`` with ``Count``/``Avg`` and filters), so a
dashboard costs the same number of queries whatever the number of cases, certificates or experts (a test
counts them at two sizes). Figures carry the filters of the list behind them, for the pages to link to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from .enums import CERTIFICATE_STATUSES_CURRENT, Kind
from .models import (
    Bureau,
    BureauConclusion,
    Case,
    Certificate,
    Grade,
    Notice,
    Outcome,
    PanelMember,
    ScoreSheet,
    SheetKind,
    SpotCheckRound,
    Stage,
)
from .selectors import bureaus_below, bureaus_read

#: How far ahead the expiries look, in months (the issue: "over the next 18 months").
EXPIRY_MONTHS = 18
#: The stages of a running case, in the order of the procedure (the funnel).
FUNNEL = [s for s in Stage.values if s != Stage.CLOSED]
OPEN_ORDER_STATUSES = (BureauConclusion.Status.OPEN, BureauConclusion.Status.ANSWERED,
                       BureauConclusion.Status.REJECTED, BureauConclusion.Status.OVERDUE)


@dataclass(frozen=True)
class Filters:
    """What a dashboard is narrowed to: the bureau (its region and the bureaus below it), and optionally a
    year, a grade (code) and a scheme (key)."""

    bureau: Bureau
    region: list[int]  # the bureau and every bureau below it
    year: int | None = None
    grade: str | None = None
    scheme: int | None = None

    def cases(self, prefix: str = "") -> Q:
        query = Q(**{f"{prefix}bureau__in": self.region})
        if self.year:
            query &= Q(**{f"{prefix}year": self.year})
        if self.grade:
            query &= Q(**{f"{prefix}grade__code": self.grade})
        if self.scheme:
            query &= Q(**{f"{prefix}scheme": self.scheme})
        return query

    def query(self, **extra) -> str:
        """The list's query string for these filters plus ``extra`` (the figure's own condition)."""
        from urllib.parse import urlencode

        params = {"within": self.bureau.pk, "year": self.year or "", "grade": self.grade or "",
                  "scheme": self.scheme or "", **extra}
        return urlencode({k: v for k, v in params.items() if v not in ("", None)})


def dashboard_bureaus(user) -> list[Bureau]:
    """The bureaus whose dashboard ``user`` may open: those it works for and those below them."""
    return list(Bureau.objects.filter(pk__in=bureaus_read(user)).order_by("region__code"))


def dashboard_filters(user, *, bureau: str | None = None, year: str | None = None, grade: str | None = None,
                      scheme: str | None = None) -> Filters | None:
    """The filters asked for, checked: a bureau the user may read (else its highest own bureau), a year, a
    grade code and a scheme key. None where the user reads no bureau. Unknown values are ignored."""
    choices = dashboard_bureaus(user)
    if not choices:
        return None
    chosen = next((b for b in choices if str(b.pk) == str(bureau or "")), None)
    if chosen is None:
        depth = {"province": 0, "city": 1, "county": 2}
        chosen = min(choices, key=lambda b: (depth.get(b.level, 9), b.region_id))
    return Filters(bureau=chosen, region=[chosen.pk, *bureaus_below([chosen.pk])],
                   year=int(year) if (year or "").isdigit() and 1900 <= int(year) <= 9999 else None,
                   grade=grade if grade and grade.isidentifier() else None,
                   scheme=int(scheme) if (scheme or "").isdigit() and len(scheme) <= 9 else None)


#: A chart's drawing, in SVG user units: each bar a row, its label at the left, the bar after it.
ROW, LABEL, LENGTH = 24, 200, 340


@dataclass
class Bar:
    label: str
    value: float | int | Decimal
    query: str = ""
    extra: int | None = None  # a second figure shown in the table (the recheck declarations of a month)
    percent: int = 0  # the bar's length, against the longest of its chart
    top: int = 0  # where the bar's row starts in the chart
    length: int = 0  # the bar's length in the chart's units


def _scaled(bars: list[Bar]) -> list[Bar]:
    top = max((float(b.value or 0) for b in bars), default=0)
    for n, bar in enumerate(bars):
        bar.percent = round(100 * float(bar.value or 0) / top) if top else 0
        bar.top, bar.length = n * ROW, round(LENGTH * bar.percent / 100)
    return bars


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


@dataclass
class Dashboard:
    filters: Filters
    funnel: list[Bar] = field(default_factory=list)
    by_grade: list[dict] = field(default_factory=list)
    outcomes: list[Bar] = field(default_factory=list)
    overdue_rectifications: list[dict] = field(default_factory=list)
    overdue_sheets: list[dict] = field(default_factory=list)
    notices_open: list[dict] = field(default_factory=list)
    panels_waiting: list[dict] = field(default_factory=list)
    expiries: list[Bar] = field(default_factory=list)
    rechecks: dict = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    scores: list[Bar] = field(default_factory=list)
    workload: list[dict] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    suspended: list[Bureau] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The figures as plain data (the API and the .xlsx export)."""
        def bars(items):
            return [{"label": b.label, "value": b.value, "list": b.query} for b in items]
        return {
            "bureau": self.filters.bureau.pk, "bureau_name": self.filters.bureau.name, "year": self.filters.year,
            "grade": self.filters.grade, "scheme": self.filters.scheme,
            "stages": bars(self.funnel), "by_grade": self.by_grade, "outcomes": bars(self.outcomes),
            "overdue_rectifications": self.overdue_rectifications, "overdue_sheets": self.overdue_sheets,
            "notices_open": self.notices_open, "panels_waiting": self.panels_waiting,
            "expiries": [{"month": b.label, "certificates": b.value, "rechecks_declared": self.rechecks.get(b.label, 0),
                          "list": b.query} for b in self.expiries],
            "results": self.results, "workload": self.workload, "rounds": self.rounds, "orders": self.orders,
            "suspended": [{"bureau": b.pk, "bureau_name": b.name, "since": b.suspended_at} for b in self.suspended],
        }


def dashboard(filters: Filters, *, now: dt.datetime | None = None) -> Dashboard:
    """Every figure of a bureau's dashboard, in a fixed number of queries."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    board = Dashboard(filters=filters)
    cases = Case.objects.filter(filters.cases()).order_by()
    grade_rows = Grade.objects.filter(version__scheme=filters.scheme) if filters.scheme else Grade.objects.all()
    grades = dict(grade_rows.order_by("version_id").values_list("code", "name"))
    stage_labels = dict(Stage.choices)

    # 1. Cases by stage (running) and by grade, and the ended ones by outcome
    counts = list(cases.values("stage", "outcome", "grade__code").annotate(n=Count("id")))
    running = {s: 0 for s in FUNNEL}
    table: dict[str, dict] = {}
    ended: dict[str, int] = {}
    for row in counts:
        grade_row = table.setdefault(row["grade__code"], {"grade": row["grade__code"],
                                                          "grade_name": grades.get(row["grade__code"], row["grade__code"]),
                                                          "open": 0, "certified": 0, "ended": 0})
        if row["outcome"] == Outcome.OPEN:
            running[row["stage"]] += row["n"]
            grade_row["open"] += row["n"]
        else:
            ended[row["outcome"]] = ended.get(row["outcome"], 0) + row["n"]
            grade_row["certified" if row["outcome"] == Outcome.CERTIFIED else "ended"] += row["n"]
    board.funnel = _scaled([Bar(str(stage_labels[s]), running[s], filters.query(stage=s, outcome=Outcome.OPEN))
                            for s in FUNNEL])
    board.by_grade = [{**row, "list": filters.query(grade=code)} for code, row in sorted(table.items())]
    outcome_labels = dict(Outcome.choices)
    board.outcomes = _scaled([Bar(str(outcome_labels[o]), n, filters.query(outcome=o)) for o, n in sorted(ended.items())])

    # 2. What is overdue, and who holds it
    board.overdue_rectifications = [
        {**row, "list": f"/cases/{row['pk']}/"} for row in cases.filter(
            outcome=Outcome.OPEN, stage=Stage.RECTIFICATION, rectification_due_at__lt=now)
        .values("pk", "reference", "institution__name", "bureau__name", "rectification_due_at")
        .order_by("rectification_due_at")[:50]]
    board.overdue_sheets = [
        {**row, "list": f"/cases/{row['case_id']}/"} for row in ScoreSheet.objects.filter(
            filters.cases("case__"), kind=SheetKind.MEMBER, submitted_at__isnull=True,
            case__outcome=Outcome.OPEN, case__stage=Stage.REVIEW, case__panel__scoring_due_at__lt=now)
        .values("case_id", "case__reference", "expert__name", "case__panel__scoring_due_at")
        .order_by("case__panel__scoring_due_at", "case_id")[:50]]

    # 3. Notices open, panels waiting on sheets
    board.notices_open = list(Notice.objects.active().filter(
        bureau__in=filters.region, published_at__lte=now, closed_at__isnull=True)
        .values("pk", "title", "bureau__name", "closes_at").annotate(cases=Count("cases")).order_by("closes_at")[:50])
    board.panels_waiting = [
        {**row, "list": f"/cases/{row['case_id']}/"} for row in ScoreSheet.objects.filter(
            filters.cases("case__"), kind=SheetKind.MEMBER, case__outcome=Outcome.OPEN, case__stage=Stage.REVIEW)
        .values("case_id", "case__reference", "case__institution__name", "case__panel__scoring_due_at")
        .annotate(sheets=Count("id"), waiting=Count("id", filter=Q(submitted_at__isnull=True)))
        .filter(waiting__gt=0).order_by("case__panel__scoring_due_at", "case_id")[:50]]

    # 4. Certificates expiring by month over the next 18 months, and the recheck declarations received
    first, last = today, _add_months(today, EXPIRY_MONTHS)
    certificates = Certificate.objects.filter(approved_by__in=filters.region, status__in=CERTIFICATE_STATUSES_CURRENT,
                                              valid_until__gte=first, valid_until__lt=last).order_by()
    if filters.grade:
        certificates = certificates.filter(grade__code=filters.grade)
    if filters.scheme:
        certificates = certificates.filter(scheme=filters.scheme)
    expiring = {row["month"]: row["n"] for row in certificates.annotate(month=TruncMonth("valid_until"))
                .values("month").annotate(n=Count("id"))}
    rechecks = {row["month"]: row["n"] for row in Case.objects.filter(
        kind=Kind.RECHECK, renews__in=certificates.values("pk")).order_by()
        .annotate(month=TruncMonth("renews__valid_until")).values("month").annotate(n=Count("id"))}
    months = [_add_months(today, n) for n in range(EXPIRY_MONTHS)]

    def month_key(value):
        return value.date() if isinstance(value, dt.datetime) else value

    expiring = {month_key(k): v for k, v in expiring.items()}
    rechecks = {month_key(k): v for k, v in rechecks.items()}
    board.expiries = _scaled([
        Bar(f"{m:%Y-%m}", expiring.get(m, 0), _certificate_query(filters, m, _add_months(m, 1)),
            extra=rechecks.get(m, 0)) for m in months])
    board.rechecks = {f"{m:%Y-%m}": rechecks.get(m, 0) for m in months}

    # 5. Pass rates and mean panel scores by grade and year
    # The counts from the cases alone, the mean from the panel sheets alone: joined, every sheet of every ended
    # case was read and sorted to be counted DISTINCT (the slowest query of the page).
    ended_cases = Case.objects.filter(filters.cases()).exclude(outcome=Outcome.OPEN).order_by()
    means = {(r["case__year"], r["case__grade__code"]): r["mean"] for r in ScoreSheet.objects.filter(
        filters.cases("case__"), kind=SheetKind.PANEL, submitted_at__isnull=False).exclude(
        case__outcome=Outcome.OPEN).order_by().values("case__year", "case__grade__code").annotate(mean=Avg("total"))}
    results = [{**r, "mean": means.get((r["year"], r["grade__code"]))} for r in ended_cases
               .values("year", "grade__code")
               .annotate(ended=Count("id"), certified=Count("id", filter=Q(outcome=Outcome.CERTIFIED)))
               .order_by("year", "grade__code")]
    board.results = [{"year": r["year"], "grade": r["grade__code"], "grade_name": grades.get(r["grade__code"], ""),
                      "ended": r["ended"], "certified": r["certified"],
                      "pass_rate": round(Decimal(100 * r["certified"]) / r["ended"], 1) if r["ended"] else None,
                      "mean_score": round(Decimal(r["mean"]), 2) if r["mean"] is not None else None,
                      "list": filters.query(year=r["year"], grade=r["grade__code"])} for r in results]
    board.scores = _scaled([Bar(f"{r['year']} {r['grade_name']}", r["mean_score"] or 0, r["list"])
                            for r in board.results])

    # 6. Expert workload: seats on the panels of running cases
    board.workload = [{**w, "list": filters.query(expert=w["expert_id"], outcome=Outcome.OPEN)}
                      for w in PanelMember.objects.active().filter(
                          filters.cases("panel__case__"), panel__case__outcome=Outcome.OPEN)
                      .values("expert_id", "expert__name").annotate(panels=Count("id"))
                      .order_by("-panels", "expert__name")[:30]]

    # 7. Spot checks: rounds by status, orders open, bureaus suspended
    round_labels, order_labels = dict(SpotCheckRound.Status.choices), dict(BureauConclusion.Status.choices)
    board.rounds = list(SpotCheckRound.objects.filter(Q(bureau__in=filters.region) | Q(scope__in=filters.region))
                        .order_by().values("status").annotate(n=Count("id", distinct=True)).order_by("status"))
    for row in board.rounds:
        row["label"] = str(round_labels[row["status"]])
    board.orders = list(BureauConclusion.objects.filter(
        Q(bureau__in=filters.region) | Q(round__bureau__in=filters.region), status__in=OPEN_ORDER_STATUSES)
        .values("pk", "bureau__name", "round__bureau__name", "status", "due_at").order_by("due_at")[:50])
    for row in board.orders:
        row["label"] = str(order_labels[row["status"]])
    board.suspended = list(Bureau.objects.filter(pk__in=filters.region, authority_suspended=True)
                           .order_by("region__code"))
    return board


def _certificate_query(filters: Filters, first: dt.date, last: dt.date) -> str:
    from urllib.parse import urlencode

    params = {"within": filters.bureau.pk, "expires_from": first.isoformat(),
              "expires_before": last.isoformat(), "grade": filters.grade or "", "scheme": filters.scheme or ""}
    return urlencode({k: v for k, v in params.items() if v not in ("", None)})


def dashboard_workbook(board: Dashboard) -> bytes:
    """The dashboard's tables as one .xlsx (through the one safe writer), a sheet per figure."""
    from django.utils.translation import gettext as _

    from .xlsx import new_workbook, workbook_bytes

    book = new_workbook()
    sheets = [
        (_("Stages"), [_("Stage"), _("Running cases")], [[b.label, b.value] for b in board.funnel]),
        (_("Grades"), [_("Grade"), _("Running"), _("Certified"), _("Ended otherwise")],
         [[r["grade_name"], r["open"], r["certified"], r["ended"]] for r in board.by_grade]),
        (_("Expiries"), [_("Month"), _("Certificates expiring"), _("Recheck declarations received")],
         [[b.label, b.value, board.rechecks.get(b.label, 0)] for b in board.expiries]),
        (_("Results"), [_("Year"), _("Grade"), _("Ended"), _("Certified"), _("Pass rate, percent"), _("Mean score")],
         [[r["year"], r["grade_name"], r["ended"], r["certified"], r["pass_rate"], r["mean_score"]]
          for r in board.results]),
        (_("Experts"), [_("Expert"), _("Panels of running cases")],
         [[r["expert__name"], r["panels"]] for r in board.workload]),
        (_("Orders"), [_("Bureau"), _("Checked by"), _("Status"), _("Due")],
         [[r["bureau__name"], r["round__bureau__name"], str(dict(BureauConclusion.Status.choices)[r["status"]]),
           timezone.localtime(r["due_at"]).strftime("%Y-%m-%d %H:%M") if r["due_at"] else ""]
          for r in board.orders]),
    ]
    first = True
    for title, headers, rows in sheets:
        sheet = book.active if first else book.create_sheet()
        first = False
        sheet.title = str(title)[:31]
        sheet.append([str(h) for h in headers])
        for row in rows:
            sheet.append(row)
    return workbook_bytes(book)


# --- The lists behind the figures --------------------------------------------------------------------------
def _within(user, params) -> list[int] | None:
    """``?within=<bureau>``: that bureau (one the user reads) and those below it; None if not asked or not
    readable (then nothing is narrowed by it and nothing more is shown: the lists are already the user's)."""
    value = params.get("within") or ""
    if not value.isdigit() or int(value) not in bureaus_read(user):
        return None
    return [int(value), *bureaus_below([int(value)])]


def cases_listed(user, cases, params) -> tuple:
    """The case list narrowed as a dashboard figure asks (within a bureau's region, stage, outcome, grade, year,
    scheme, kind), and the query string that keeps the narrowing across pages."""
    from urllib.parse import urlencode

    kept = {}
    within = _within(user, params)
    if within is not None:
        cases, kept["within"] = cases.filter(bureau__in=within), params["within"]
    for name, lookup, choices in (("stage", "stage", Stage.values), ("outcome", "outcome", Outcome.values),
                                  ("kind", "kind", Kind.values)):
        if params.get(name) in choices:
            cases, kept[name] = cases.filter(**{lookup: params[name]}), params[name]
    if (params.get("grade") or "").isidentifier():
        cases, kept["grade"] = cases.filter(grade__code=params["grade"]), params["grade"]
    for name in ("year", "scheme"):
        if (params.get(name) or "").isdigit() and len(params[name]) <= 9:
            cases, kept[name] = cases.filter(**{name: int(params[name])}), params[name]
    if (params.get("expert") or "").isdigit() and len(params["expert"]) <= 9:  # the cases on whose panel they sit
        seats = PanelMember.objects.active().filter(expert_id=int(params["expert"])).values("panel__case_id")
        cases, kept["expert"] = cases.filter(pk__in=seats), params["expert"]
    return cases, urlencode(kept)


def certificates_listed(user, certificates, params) -> tuple:
    """The certificates narrowed as a dashboard figure asks (approved within a bureau's region, expiring in
    [expires_from, expires_before), grade, scheme, status), and the query string that keeps the narrowing."""
    from urllib.parse import urlencode

    from .enums import CertificateStatus

    kept = {}
    within = _within(user, params)
    if within is not None:
        certificates, kept["within"] = certificates.filter(approved_by__in=within), params["within"]
    for name, lookup in (("expires_from", "valid_until__gte"), ("expires_before", "valid_until__lt")):
        try:
            day = dt.date.fromisoformat(params.get(name) or "")
        except ValueError:
            continue
        certificates, kept[name] = certificates.filter(**{lookup: day}), params[name]
    if (params.get("expires_from") or params.get("expires_before")) and "status" not in params:
        certificates = certificates.filter(status__in=CERTIFICATE_STATUSES_CURRENT)
    if params.get("status") in CertificateStatus.values:
        certificates, kept["status"] = certificates.filter(status=params["status"]), params["status"]
    if (params.get("grade") or "").isidentifier():
        certificates, kept["grade"] = certificates.filter(grade__code=params["grade"]), params["grade"]
    if (params.get("scheme") or "").isdigit() and len(params["scheme"]) <= 9:
        certificates, kept["scheme"] = certificates.filter(scheme=int(params["scheme"])), params["scheme"]
    return certificates, urlencode(kept)
