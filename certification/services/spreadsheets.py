"""Spreadsheet exchange (.xlsx): importing institutions and experts, exporting case lists, score rankings
and the annual approvals summary.

An import checks every row, cell by cell, and reports each bad cell by its row and column in the user's
language. By default nothing is imported unless every row is good; ``good_rows_only`` imports the good rows
and reports the others. Either way the import is one transaction with its audit entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ..enums import INSTITUTION_DEPTH, InstitutionLevel, Role
from ..exceptions import Refusal, RuleViolation
from ..models import (
    Bureau,
    Case,
    Expert,
    Institution,
    Region,
    ScoreSheet,
    SheetKind,
    User,
)
from ..permissions import require_bureau_staff, role_grant
from ..xlsx import new_workbook
from ..xlsx import workbook_bytes as xlsx_bytes
from .audit import audit_record_many

MAX_ROWS = 5000
YES = {"yes", "y", "true", "1", "是", "有"}
NO = {"no", "n", "false", "0", "否", "无", ""}
REVIEWER_LEVELS = [("province", gettext_lazy("Provincial")), ("city", gettext_lazy("City")),
                   ("county", gettext_lazy("County"))]


@dataclass(frozen=True)
class Column:
    key: str
    label: object  # a lazy translation
    required: bool = False
    hint: object = ""


INSTITUTION_COLUMNS = (
    Column("name", gettext_lazy("Name"), True),
    Column("uscc", gettext_lazy("Unified social credit code"), True),
    Column("level", gettext_lazy("Administrative level"), True,
           gettext_lazy("provincial, city, county or township")),
    Column("region", gettext_lazy("Division code"), True, gettext_lazy("The region's administrative division code")),
    Column("has_system_guidance", gettext_lazy("Guides a system"), False, gettext_lazy("yes or no")),
    Column("parent", gettext_lazy("Parent institution's credit code"), False),
    Column("fonds_number", gettext_lazy("Fonds number")),
    Column("address", gettext_lazy("Address")),
    Column("postcode", gettext_lazy("Postcode")),
    Column("head", gettext_lazy("Head of the institution")),
    Column("archives_leader", gettext_lazy("Leader in charge of archives")),
    Column("contact_name", gettext_lazy("Contact")),
    Column("contact_phone", gettext_lazy("Contact phone")),
)

EXPERT_COLUMNS = (
    Column("name", gettext_lazy("Full name"), True),
    Column("term_starts_on", gettext_lazy("Appointment starts on"), True, gettext_lazy("a date, YYYY-MM-DD")),
    Column("term_ends_on", gettext_lazy("Appointment ends on"), True, gettext_lazy("a date, YYYY-MM-DD")),
    Column("employer", gettext_lazy("Employer's credit code")),
    Column("system", gettext_lazy("System head's credit code")),
    Column("title", gettext_lazy("Post or professional title")),
    Column("reviewer_level", gettext_lazy("Reviewer level"), False, gettext_lazy("province, city or county")),
    Column("grades", gettext_lazy("Grades reviewed"), False,
           gettext_lazy("grade codes separated by commas; empty for every grade")),
    Column("phone", gettext_lazy("Phone")),
    Column("username", gettext_lazy("User name"), False, gettext_lazy("An existing user who signs in as this expert")),
)

KINDS = {"institutions": INSTITUTION_COLUMNS, "experts": EXPERT_COLUMNS}


@dataclass(frozen=True)
class CellError:
    row: int  # the sheet's row number, as the spreadsheet shows it (the header is row 1)
    column: str  # the column letter, or "" for the whole row
    header: str
    message: str


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    imported: int = 0
    good_rows_only: bool = False
    errors: list[CellError] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    @property
    def complete(self) -> bool:
        return not self.errors


def _refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Spreadsheet import"), message=message, satisfy=satisfy))


def _labels(column: Column) -> set[str]:
    """Every header the column is known by: its key and its label in each language."""
    names = {column.key.lower()}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            names.add(str(column.label).strip().lower())
    return names


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value).strip()


# The short names people type for a level, beside the codes and the labels.
LEVEL_ALIASES = {"省级": "province", "省": "province", "市级": "city", "市": "city", "县级": "county", "县": "county",
                 "乡镇级": "township", "乡镇": "township"}
INSTITUTION_LEVEL_ALIASES = {"province": "provincial", "省级": "provincial", "市级": "city", "县级": "county",
                             "乡镇级": "township"}


def _choice(value: str, choices, aliases: dict | None = None) -> str | None:
    """A choice by its code, its label in either language, or one of its aliases."""
    wanted = value.strip().lower()
    codes = {str(code) for code, _label in choices}
    if aliases and aliases.get(wanted) in codes:
        return aliases[wanted]
    for code, label in choices:
        names = {str(code).lower()}
        for language in ("zh-hans", "en"):
            with translation.override(language):
                names.add(str(label).lower())
        if wanted in names:
            return code
    return None


def _date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(_text(value).replace("/", "-"))
    except ValueError:
        return None


class _Sheet:
    """The rows of the first worksheet as dicts keyed by column key, with the header mapped."""

    def __init__(self, content, columns: tuple[Column, ...]):
        self.columns = columns
        self.errors: list[CellError] = []
        try:
            book = load_workbook(content, read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - openpyxl raises many kinds of errors for a file that is not .xlsx
            raise _refuse("import.not_xlsx", _("This file is not an .xlsx workbook."),
                          _("Save the sheet as Excel workbook (.xlsx) and upload it again.")) from None
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None) or ()
        self.position: dict[str, int] = {}
        for index, cell in enumerate(header):
            name = _text(cell).lower()
            for column in columns:
                if name and name in _labels(column):
                    self.position[column.key] = index
        for column in columns:
            if column.required and column.key not in self.position:
                self.errors.append(CellError(1, "", str(column.label), _("The column “%(column)s” is missing.")
                                             % {"column": column.label}))
        self.rows: list[tuple[int, dict]] = []
        for number, values in enumerate(rows, start=2):
            if values is None or all(_text(v) == "" for v in values):
                continue
            if len(self.rows) >= MAX_ROWS:
                raise _refuse("import.too_many_rows", _("A sheet may have at most %(n)d rows.") % {"n": MAX_ROWS})
            self.rows.append((number, {key: values[i] if i < len(values) else None
                                       for key, i in self.position.items()}))
        book.close()

    def cell_error(self, row: int, key: str, message: str) -> CellError:
        column = next(c for c in self.columns if c.key == key)
        index = self.position.get(key)
        letter = get_column_letter(index + 1) if index is not None else ""
        return CellError(row, letter, str(column.label), str(message))


def _validation_messages(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {key: [str(m) for m in errors for m in m.messages] for key, errors in error.error_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


def _run_import(*, actor, bureau: Bureau, content, columns, build: Callable, save: Callable, kind: str,
                good_rows_only: bool, source: str) -> ImportReport:
    require_bureau_staff(actor, bureau)
    sheet = _Sheet(content, columns)
    report = ImportReport(kind=kind, rows=len(sheet.rows), good_rows_only=good_rows_only, errors=sheet.errors)
    if sheet.errors:
        return report
    if not sheet.rows:
        raise _refuse("import.empty", _("The sheet has no rows below its header."))
    built = build(sheet, report)
    report.errors.sort(key=lambda e: (e.row, e.column))
    if report.errors and not good_rows_only:
        return report
    bad = set(report.bad_rows)
    with transaction.atomic():
        objects = save([(number, obj) for number, obj in built if number not in bad])
        report.imported = len(objects)
        audit_record_many(actor=actor, action=f"{kind[:-1]}.import", targets=objects,
                          after={"source": source[:200], "bureau": bureau.pk})
    report.errors.sort(key=lambda e: (e.row, e.column))
    return report


# --- Institutions ---------------------------------------------------------------------------------------


def _region_under(region: Region, bureau: Bureau) -> bool:
    return region.ancestor_at(bureau.region.level) == bureau.region


@transaction.atomic(durable=True)
def institutions_import(*, actor, bureau: Bureau, content, good_rows_only: bool = False,
                        source: str = "") -> ImportReport:
    """Import institutions of the bureau's region from an .xlsx sheet (the columns of the template)."""

    def build(sheet: _Sheet, report: ImportReport):
        built, seen, parents = [], {}, {}
        for number, raw in sheet.rows:
            values = {key: _text(value) for key, value in raw.items()}
            errors = []
            for column in sheet.columns:
                if column.required and not values.get(column.key):
                    errors.append(sheet.cell_error(number, column.key, _("This cell must be filled in.")))
            level = _choice(values.get("level", ""), InstitutionLevel.choices, INSTITUTION_LEVEL_ALIASES) if values.get("level") else None
            if values.get("level") and level is None:
                errors.append(sheet.cell_error(number, "level", _("“%(value)s” is not an administrative level.")
                                               % {"value": values["level"]}))
            region = None
            if values.get("region"):
                region = Region.objects.active().filter(code=values["region"]).first()
                if region is None:
                    errors.append(sheet.cell_error(number, "region", _("There is no region with the code "
                                                                       "%(code)s.") % {"code": values["region"]}))
                elif not _region_under(region, bureau):
                    errors.append(sheet.cell_error(number, "region", _("The region %(region)s is not under "
                                                                       "%(bureau)s.")
                                                   % {"region": region.name, "bureau": bureau.name}))
                    region = None
            guidance = values.get("has_system_guidance", "").lower()
            if guidance not in YES | NO:
                errors.append(sheet.cell_error(number, "has_system_guidance", _("Write yes or no.")))
            uscc = values.get("uscc", "").upper()
            if uscc and uscc in seen:
                errors.append(sheet.cell_error(number, "uscc", _("The same code is on row %(row)d.")
                                               % {"row": seen[uscc]}))
            institution = Institution(
                name=values.get("name", ""), uscc=uscc, level=level or "", region=region,
                has_system_guidance=guidance in YES,
                **{key: values.get(key, "") for key in ("fonds_number", "address", "postcode", "head",
                                                        "archives_leader", "contact_name", "contact_phone")})
            failed = {c.key for c in sheet.columns if any(e.header == str(c.label) for e in errors)}
            try:
                if errors:  # the fields not yet found wrong, each on its own
                    institution.clean_fields(exclude=["parent", "region", *failed])
                    institution.validate_unique(exclude=["parent", *failed])
                else:
                    institution.full_clean(exclude=["parent"])
            except ValidationError as error:
                for key, messages in _validation_messages(error).items():
                    key = key if key in {c.key for c in sheet.columns} else "name"
                    errors += [sheet.cell_error(number, key, m) for m in messages]
            if uscc and uscc not in seen:
                seen[uscc] = number
            if values.get("parent"):
                parents[number] = values["parent"].upper()
            report.errors.extend(errors)
            built.append((number, institution))
        # A parent is an institution already stored, or one on a good row of this sheet, at a level not below
        # its subordinate's. A row whose parent turns out bad becomes bad too, until nothing changes.
        by_row, reported = dict(built), set()
        changed = True
        while changed:
            changed = False
            bad = set(report.bad_rows)
            in_sheet = {inst.uscc: inst for number, inst in built if number not in bad}
            for number, code in parents.items():
                if number in reported:
                    continue
                child = by_row[number]
                parent = in_sheet.get(code) or Institution.objects.active().filter(uscc=code).first()
                message = None
                if code == child.uscc:
                    message = _("An institution cannot be its own parent.")
                elif parent is None:
                    message = _("No institution has the credit code %(code)s, neither stored nor on a good row "
                                "of this sheet.") % {"code": code}
                elif child.level and INSTITUTION_DEPTH[parent.level] > INSTITUTION_DEPTH[child.level]:
                    message = _("A system's parent institution must not be below its subordinate units.")
                if message:
                    report.errors.append(sheet.cell_error(number, "parent", message))
                    reported.add(number)
                    changed = True
        for number, institution in built:
            institution._parent_code = parents.get(number)
        return built

    def save(rows):
        objects = []
        for _number, institution in rows:
            institution.save()
            objects.append(institution)
        by_code = {i.uscc: i for i in objects}
        for institution in objects:
            code = institution._parent_code
            if code:
                institution.parent = by_code.get(code) or Institution.objects.active().get(uscc=code)
                institution.save(update_fields=["parent", "updated_at"])
        return objects

    return _run_import(actor=actor, bureau=bureau, content=content, columns=INSTITUTION_COLUMNS, build=build,
                       save=save, kind="institutions", good_rows_only=good_rows_only, source=source)


# --- Experts --------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def experts_import(*, actor, bureau: Bureau, content, good_rows_only: bool = False, source: str = "") -> ImportReport:
    """Import experts into the bureau's pool from an .xlsx sheet (the columns of the template)."""

    def build(sheet: _Sheet, report: ImportReport):
        built, users_seen = [], {}
        for number, raw in sheet.rows:
            values = {key: _text(value) for key, value in raw.items()}
            errors = []
            for column in sheet.columns:
                if column.required and not values.get(column.key):
                    errors.append(sheet.cell_error(number, column.key, _("This cell must be filled in.")))
            dates = {}
            for key in ("term_starts_on", "term_ends_on"):
                if values.get(key):
                    dates[key] = _date(raw.get(key))
                    if dates[key] is None:
                        errors.append(sheet.cell_error(number, key, _("“%(value)s” is not a date (YYYY-MM-DD).")
                                                       % {"value": values[key]}))
            if dates.get("term_starts_on") and dates.get("term_ends_on") and \
                    dates["term_ends_on"] <= dates["term_starts_on"]:
                errors.append(sheet.cell_error(number, "term_ends_on", _("An appointment must end after it starts.")))
            links = {}
            for key in ("employer", "system"):
                if values.get(key):
                    links[key] = Institution.objects.active().filter(uscc=values[key].upper()).first()
                    if links[key] is None:
                        errors.append(sheet.cell_error(number, key, _("No institution has the credit code "
                                                                      "%(code)s.") % {"code": values[key]}))
            level = "province"
            if values.get("reviewer_level"):
                level = _choice(values["reviewer_level"], REVIEWER_LEVELS, LEVEL_ALIASES)
                if level is None:
                    errors.append(sheet.cell_error(number, "reviewer_level", _("Write province, city or county.")))
            grades = [g.strip() for g in values.get("grades", "").replace("，", ",").split(",") if g.strip()]
            user = None
            if values.get("username"):
                user = User.objects.filter(username=values["username"], is_active=True).first()
                if user is None:
                    errors.append(sheet.cell_error(number, "username", _("There is no active user %(name)s.")
                                                   % {"name": values["username"]}))
                elif Expert.objects.filter(user=user).exists() or user.pk in users_seen:
                    errors.append(sheet.cell_error(number, "username", _("This user is already an expert.")))
                else:
                    users_seen[user.pk] = number
            if values.get("name") and values.get("phone") and Expert.objects.active().filter(
                    pool=bureau, name=values["name"], phone=values["phone"]).exists():
                errors.append(sheet.cell_error(number, "name", _("This expert is already in the pool.")))
            expert = Expert(name=values.get("name", ""), pool=bureau, employer=links.get("employer"),
                            system=links.get("system"), title=values.get("title", ""), reviewer_level=level or "",
                            grades=grades, term_starts_on=dates.get("term_starts_on"),
                            term_ends_on=dates.get("term_ends_on"), phone=values.get("phone", ""), user=user)
            if not errors:
                try:
                    expert.full_clean(exclude=["user"])
                except ValidationError as error:
                    for key, messages in _validation_messages(error).items():
                        key = key if key in {c.key for c in sheet.columns} else "name"
                        errors += [sheet.cell_error(number, key, m) for m in messages]
            report.errors.extend(errors)
            built.append((number, expert))
        return built

    def save(rows):
        objects = []
        for _number, expert in rows:
            expert.save()
            if expert.user_id:
                role_grant(user=expert.user, role=Role.EXPERT, obj=bureau)
            objects.append(expert)
        return objects

    return _run_import(actor=actor, bureau=bureau, content=content, columns=EXPERT_COLUMNS, build=build, save=save,
                       kind="experts", good_rows_only=good_rows_only, source=source)


def import_dispatch(kind: str):
    return {"institutions": institutions_import, "experts": experts_import}[kind]


# --- Writing workbooks ----------------------------------------------------------------------------------


def table_sheet(sheet, *, title: str, headers: Iterable, rows: Iterable[Iterable]) -> None:
    """Fill ``sheet``: a bold header row, frozen below it, columns wide enough for Chinese text."""
    sheet.title = title[:31]
    headers = [str(h) for h in headers]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    widths = [len(h) for h in headers]
    for row in rows:
        row = [str(v) if v is not None and not isinstance(v, (int, Decimal, dt.date)) else v for v in row]
        sheet.append(row)
        widths = [max(w, len(str(v or ""))) for w, v in zip(widths, row, strict=False)]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(60, 2 * width + 4)


def table_workbook(*, title: str, headers: Iterable, rows: Iterable[Iterable]) -> bytes:
    """One worksheet (see :func:`table_sheet`), written by the one .xlsx writer (no cell is a formula)."""
    book = new_workbook()
    table_sheet(book.active, title=title, headers=headers, rows=rows)
    return xlsx_bytes(book)


def import_template(kind: str) -> bytes:
    """The template of an import, in the current language: the header row and one row of hints."""
    columns = KINDS[kind]
    headers = [str(c.label) + (" *" if c.required else "") for c in columns]
    book = new_workbook()
    table_sheet(book.active, title=str(_("Institutions") if kind == "institutions" else _("Experts")),
                headers=[str(c.label) for c in columns], rows=[])
    notes = book.create_sheet(str(_("Instructions")))
    notes.append([str(_("Column")), str(_("Required")), str(_("What to write"))])
    for column, header in zip(columns, headers, strict=True):
        notes.append([header, str(_("yes")) if column.required else "", str(column.hint)])
    return xlsx_bytes(book)


def _local(moment) -> str:
    return "" if moment is None else timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def cases_workbook(cases) -> bytes:
    """A list of cases (already narrowed to what the user may see)."""
    headers = [_("Reference"), _("Applicant"), _("Credit code"), _("Grade"), _("Kind"), _("Year"),
               _("Assessing bureau"), _("Stage"), _("Outcome"), _("Declared at")]
    rows = ([c.reference, c.institution.name, c.institution.uscc, c.grade.name, c.get_kind_display(), c.year,
             c.bureau.name, c.get_stage_display(), c.get_outcome_display(), _local(c.declared_at)]
            for c in cases.select_related("institution", "grade", "bureau").order_by("-declared_at", "-pk"))
    return table_workbook(title=str(_("Cases")), headers=headers, rows=rows)


@dataclass(frozen=True)
class RankingRow:
    rank: int
    case: Case
    panel_total: Decimal
    self_total: Decimal | None


def score_ranking(cases) -> list[RankingRow]:
    """Cases with a submitted panel score, highest first. Equal totals share a rank (1, 1, 3)."""
    panel = _latest_totals(cases, SheetKind.PANEL)
    own = _latest_totals(cases, SheetKind.SELF)
    ranked = sorted((c for c in cases.select_related("institution", "grade", "bureau") if c.pk in panel),
                    key=lambda c: (-panel[c.pk], c.reference))
    rows, previous, rank = [], None, 0
    for position, case in enumerate(ranked, start=1):
        if panel[case.pk] != previous:
            rank, previous = position, panel[case.pk]
        rows.append(RankingRow(rank, case, panel[case.pk], own.get(case.pk)))
    return rows


def _latest_totals(cases, kind: str) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = {}
    for sheet in ScoreSheet.objects.filter(case__in=cases, kind=kind, submitted_at__isnull=False).order_by("round"):
        totals[sheet.case_id] = sheet.total
    return totals


def ranking_workbook(cases) -> bytes:
    headers = [_("Rank"), _("Reference"), _("Applicant"), _("Grade"), _("Assessing bureau"), _("Panel score"),
               _("Self-score")]
    rows = ([r.rank, r.case.reference, r.case.institution.name, r.case.grade.name, r.case.bureau.name,
             r.panel_total, r.self_total] for r in score_ranking(cases))
    return table_workbook(title=str(_("Score ranking")), headers=headers, rows=rows)
