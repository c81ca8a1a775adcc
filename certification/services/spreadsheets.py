"""Spreadsheet exchange (.xlsx): importing institutions and experts, exporting case lists, score rankings
and the annual approvals summary.

An import checks every row, cell by cell, and reports each bad cell by its row and column in the user's
language. By default nothing is imported unless every row is good; ``good_rows_only`` imports the good rows
and reports the others. Either way the import is one transaction with its audit entries.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .. import rules
from ..enums import (
    CERTIFICATE_STATUSES_CURRENT,
    INSTITUTION_DEPTH,
    CertificateStatus,
    InstitutionLevel,
    Kind,
    Role,
)
from ..exceptions import Refusal, RuleViolation
from ..models import (
    Bureau,
    Case,
    Certificate,
    CertificateSerial,
    Expert,
    ExpertEmployment,
    Grade,
    Institution,
    Region,
    RegisterBatch,
    Scheme,
    SchemeVersion,
    ScoreSheet,
    SheetKind,
    User,
)
from ..permissions import ISSUE_FOR_BUREAU, require, require_bureau_staff, role_grant
from ..uploads import upload_refusals
from ..xlsx import new_workbook
from ..xlsx import workbook_bytes as xlsx_bytes
from .audit import audit_record, audit_record_many

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
    Column("schemes", gettext_lazy("Schemes reviewed"), False,
           gettext_lazy("scheme codes separated by commas; empty for every scheme")),
    Column("phone", gettext_lazy("Phone")),
    Column("username", gettext_lazy("User name"), False, gettext_lazy("An existing user who signs in as this expert")),
)

EMPLOYMENT_COLUMNS = (
    Column("expert", gettext_lazy("Expert's full name"), True),
    Column("phone", gettext_lazy("Expert's phone"), False, gettext_lazy("Only where two experts of the pool "
                                                                         "share a name")),
    Column("employer", gettext_lazy("Past employer's credit code"), True),
    Column("started_on", gettext_lazy("Employed from"), True, gettext_lazy("a date, YYYY-MM-DD")),
    Column("ended_on", gettext_lazy("Employed until"), False,
           gettext_lazy("a date, YYYY-MM-DD; empty while the expert still works there")),
)

CERTIFICATE_COLUMNS = (
    Column("uscc", gettext_lazy("Holder's credit code"), True),
    Column("scheme", gettext_lazy("Scheme"), True, gettext_lazy("the scheme's code, e.g. archives")),
    Column("grade", gettext_lazy("Grade"), True, gettext_lazy("the grade's name or code, e.g. 省二级 or second")),
    Column("kind", gettext_lazy("Kind"), True, gettext_lazy("promotion or recheck")),
    Column("number", gettext_lazy("Certificate number"), True, gettext_lazy("as printed on the certificate")),
    Column("issued_by", gettext_lazy("Issuing bureau"), True, gettext_lazy("the bureau's name or division code")),
    Column("issued_on", gettext_lazy("Date of issue"), True, gettext_lazy("a date, YYYY-MM-DD")),
    Column("valid_until", gettext_lazy("Expiry date"), True, gettext_lazy("a date, YYYY-MM-DD, as printed")),
    Column("letter_number", gettext_lazy("Confirmation letter number"), True,
           gettext_lazy("as printed on the confirmation letter")),
    Column("approved_by", gettext_lazy("Approving bureau"), False,
           gettext_lazy("the bureau's name or division code; empty: the issuing bureau")),
    Column("scan", gettext_lazy("Scan file"), False,
           gettext_lazy("the name of the scan (PDF, JPEG or PNG) in the .zip uploaded with the sheet")),
)

KINDS = {"institutions": INSTITUTION_COLUMNS, "experts": EXPERT_COLUMNS, "employments": EMPLOYMENT_COLUMNS,
         "certificates": CERTIFICATE_COLUMNS}
KIND_TITLES = {"institutions": gettext_lazy("Institutions"), "experts": gettext_lazy("Experts"),
               "employments": gettext_lazy("Experts' past employments"),
               "certificates": gettext_lazy("Certificates already held")}


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
    # What the user should know of rows that are imported all the same (an expiry accepted off the scheme's
    # rule, a certificate that lapses at import), by row and column as the errors are.
    notes: list[CellError] = field(default_factory=list)
    dry_run: bool = False
    ready: int = 0  # the rows that would be imported (a dry run stores none)
    batch: int | None = None  # the register import that holds the certificates imported

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


def _codes(value: str) -> list[str]:
    """Codes separated by commas (either width)."""
    return [c.strip() for c in value.replace("，", ",").split(",") if c.strip()]


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
                good_rows_only: bool, source: str, dry_run: bool = False,
                permission: Callable = require_bureau_staff, audit_after: dict | None = None) -> ImportReport:
    """The one import: check who imports (``permission``), read the sheet, ``build`` every row (its errors
    and notes in the report), then ``save`` the good rows, all or nothing unless ``good_rows_only``, with one
    audit entry per object (``audit_after`` adds what ``save`` put in it). A ``dry_run`` stops before saving:
    the report says what would be imported and nothing is stored."""
    permission(actor, bureau)
    sheet = _Sheet(content, columns)
    report = ImportReport(kind=kind, rows=len(sheet.rows), good_rows_only=good_rows_only, errors=sheet.errors,
                          dry_run=dry_run)
    if sheet.errors:
        return report
    if not sheet.rows:
        raise _refuse("import.empty", _("The sheet has no rows below its header."))
    built = build(sheet, report)
    report.errors.sort(key=lambda e: (e.row, e.column))
    bad = set(report.bad_rows)
    report.notes = sorted((n for n in report.notes if n.row not in bad), key=lambda e: (e.row, e.column))
    good = [(number, obj) for number, obj in built if number not in bad]
    report.ready = len(good) if good_rows_only or not bad else 0
    if dry_run or (report.errors and not good_rows_only):
        return report
    audit_after = {} if audit_after is None else audit_after
    with transaction.atomic():
        objects = save(good)
        report.imported = len(objects)
        audit_record_many(actor=actor, action=f"{kind[:-1]}.import", targets=objects,
                          after={"source": source[:200], "bureau": bureau.pk, **audit_after})
    report.batch = audit_after.get("batch")
    return report


# --- Institutions ---------------------------------------------------------------------------------------


def _region_under(region: Region, bureau: Bureau) -> bool:
    return region.ancestor_at(bureau.region.level) == bureau.region


@transaction.atomic(durable=True)
def institutions_import(*, actor, bureau: Bureau, content, good_rows_only: bool = False,
                        source: str = "", dry_run: bool = False, **_options) -> ImportReport:
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
                       save=save, kind="institutions", good_rows_only=good_rows_only, source=source,
                       dry_run=dry_run)


# --- Experts --------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def experts_import(*, actor, bureau: Bureau, content, good_rows_only: bool = False, source: str = "",
                   dry_run: bool = False, **_options) -> ImportReport:
    """Import experts into the bureau's pool from an .xlsx sheet (the columns of the template)."""

    def build(sheet: _Sheet, report: ImportReport):
        built, users_seen = [], {}
        scheme_codes = set(Scheme.objects.values_list("code", flat=True))
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
            schemes = _codes(values.get("schemes", ""))
            unknown = [code for code in schemes if code not in scheme_codes]
            if unknown:
                errors.append(sheet.cell_error(number, "schemes", _("There is no scheme with the code %(code)s.")
                                               % {"code": ", ".join(unknown)}))
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
                            grades=grades, schemes=schemes, term_starts_on=dates.get("term_starts_on"),
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
                       kind="experts", good_rows_only=good_rows_only, source=source, dry_run=dry_run)


# --- Experts' past employments ----------------------------------------------------------------------------


@transaction.atomic(durable=True)
def employments_import(*, actor, bureau: Bureau, content, good_rows_only: bool = False, source: str = "",
                       dry_run: bool = False, **_options) -> ImportReport:
    """Import the past employers of the experts of the bureau's pool, with their dates, so that the
    conflict window (an employer of the last three years) holds from the first panel on. An expert is named
    by full name, and by phone where two of the pool share a name."""

    def build(sheet: _Sheet, report: ImportReport):
        built = []
        experts: dict[str, list[Expert]] = {}
        for expert in Expert.objects.active().filter(pool=bureau).only("pk", "name", "phone", "pool_id"):
            experts.setdefault(expert.name, []).append(expert)
        codes = {_text(raw.get("employer")).upper() for _n, raw in sheet.rows}
        institutions = {i.uscc: i for i in Institution.objects.active().filter(uscc__in=codes)}
        today = timezone.localdate()
        for number, raw in sheet.rows:
            values = {key: _text(value) for key, value in raw.items()}
            errors = _required(sheet, number, values)
            expert = None
            if values.get("expert"):
                named = experts.get(values["expert"], [])
                if values.get("phone"):
                    named = [e for e in named if e.phone == values["phone"]]
                if not named:
                    errors.append(sheet.cell_error(number, "expert", _("The pool of %(bureau)s has no expert "
                                                                       "%(name)s.")
                                                   % {"bureau": bureau.name, "name": values["expert"]}))
                elif len(named) > 1:
                    errors.append(sheet.cell_error(number, "phone", _("Several experts of the pool are named "
                                                                      "%(name)s: give the phone to tell them "
                                                                      "apart.") % {"name": values["expert"]}))
                else:
                    expert = named[0]
            institution = _institution_cell(sheet, number, values, "employer", institutions, errors)
            dates = _dates(sheet, number, raw, values, ("started_on", "ended_on"), errors)
            if dates.get("started_on") and dates.get("ended_on") and dates["ended_on"] < dates["started_on"]:
                errors.append(sheet.cell_error(number, "ended_on", _("An employment cannot end before it "
                                                                     "starts.")))
            for key in ("started_on", "ended_on"):
                if dates.get(key) and dates[key] > today:
                    errors.append(sheet.cell_error(number, key, _("This date is in the future.")))
            report.errors.extend(errors)
            built.append((number, ExpertEmployment(expert=expert, institution=institution,
                                                   started_on=dates.get("started_on"),
                                                   ended_on=dates.get("ended_on"))))
        return built

    def save(rows):
        return ExpertEmployment.objects.bulk_create([employment for _number, employment in rows])

    return _run_import(actor=actor, bureau=bureau, content=content, columns=EMPLOYMENT_COLUMNS, build=build,
                       save=save, kind="employments", good_rows_only=good_rows_only, source=source,
                       dry_run=dry_run)


def _institution_cell(sheet: _Sheet, number: int, values: dict, key: str, institutions: dict, errors: list):
    """The institution a cell names by its credit code (from ``institutions``, read in bulk), or None with the
    cell's error."""
    if not values.get(key):
        return None
    institution = institutions.get(values[key].upper())
    if institution is None:
        errors.append(sheet.cell_error(number, key, _("No institution has the credit code %(code)s.")
                                       % {"code": values[key]}))
    return institution


def _required(sheet: _Sheet, number: int, values: dict) -> list[CellError]:
    return [sheet.cell_error(number, c.key, _("This cell must be filled in."))
            for c in sheet.columns if c.required and not values.get(c.key)]


def _dates(sheet: _Sheet, number: int, raw: dict, values: dict, keys, errors: list) -> dict:
    dates = {}
    for key in keys:
        if values.get(key):
            dates[key] = _date(raw.get(key))
            if dates[key] is None:
                errors.append(sheet.cell_error(number, key, _("“%(value)s” is not a date (YYYY-MM-DD).")
                                               % {"value": values[key]}))
    return dates


# --- The paper register of certificates already held --------------------------------------------------


def require_certificate_officer(actor, bureau: Bureau) -> None:
    require(actor, ISSUE_FOR_BUREAU, bureau,
            message=_("Only a certificate officer of %(bureau)s may register its certificates.")
            % {"bureau": bureau})


KIND_ALIASES = {"晋级": Kind.PROMOTION, "晋升": Kind.PROMOTION, "评定": Kind.PROMOTION, "复查": Kind.RECHECK}


def _version_on(versions: list[SchemeVersion], day: dt.date | None) -> SchemeVersion:
    """The scheme's version in force on ``day`` (the earliest version for a day before them all)."""
    chosen = versions[0]
    for version in versions:  # oldest first
        if day is not None and version.effective_from <= day:
            chosen = version
    return chosen


@transaction.atomic(durable=True)
def certificates_import(*, actor, bureau: Bureau, content, good_rows_only: bool = False, source: str = "",
                        dry_run: bool = False, expiry_reason: str = "", scans=None,
                        now: dt.datetime | None = None, **_options) -> ImportReport:
    """Register the certificates the province issued on paper before it adopted the engine (day one).

    Only a certificate officer of the issuing (provincial) bureau imports them. Every cell is checked as in
    the other imports; besides, the expiry is checked against the scheme's validity rule (a mismatch is an
    error unless ``expiry_reason`` accepts it, and then a note), a number already stored or twice in the sheet
    is refused, and so is a second certificate in force for one holder and scheme. A certificate whose expiry
    has passed is stored as lapsed, and the report says so. ``scans`` maps a file name of the "scan" column to
    the file (PDF, JPEG or PNG).

    Numbering: a registered certificate keeps the number printed on it and takes no serial (the engine's
    sequence is untouched). A number printed in its scheme's own format (the scheme file's certificate number,
    year Y, serial N) is in that scheme's series: it moves the scheme's counter of year Y on to N, so the
    engine's next number follows the paper ones and never meets them.
    All the certificates of an import belong to one register batch, which can be withdrawn as a whole.
    """
    now = now or timezone.now()
    expiry_reason = (expiry_reason or "").strip()
    scans = scans or {}
    stash: dict = {}

    def build(sheet: _Sheet, report: ImportReport):
        rows = [(number, {key: _text(value) for key, value in raw.items()}, raw) for number, raw in sheet.rows]
        codes = {values.get("uscc", "").upper() for _n, values, _r in rows}
        institutions = {i.uscc: i for i in Institution.objects.active().filter(uscc__in=codes)
                        .select_related("region__parent__parent__parent")}
        schemes = {}
        for version in SchemeVersion.objects.select_related("scheme").order_by("effective_from", "number"):
            schemes.setdefault(version.scheme.code, []).append(version)
        titles = {versions[0].scheme.title.lower(): code for code, versions in schemes.items()}
        grades: dict[int, list[Grade]] = {}
        for grade in Grade.objects.filter(version__in=[v for vs in schemes.values() for v in vs]):
            grades.setdefault(grade.version_id, []).append(grade)
        bureaus = {b.pk: b for b in Bureau.objects.active().select_related("region")}

        def province_of(found: Bureau) -> Bureau:
            while found.parent_id is not None:
                found = bureaus[found.parent_id]
            return found

        def bureau_named(value: str) -> Bureau | None:
            return next((b for b in bureaus.values() if value in (b.name, b.region.code)), None)

        numbers = {values.get("number", "") for _n, values, _r in rows}
        stored_numbers = set(Certificate.objects.filter(number__in=numbers).values_list("number", flat=True))
        current = {(c.institution_id, c.scheme_id): c.number for c in Certificate.objects.filter(
            institution__in=institutions.values(), status__in=CERTIFICATE_STATUSES_CURRENT)
            .only("institution_id", "scheme_id", "number")}
        counters = {(scheme, year): last for scheme, year, last
                    in CertificateSerial.objects.values_list("scheme_id", "year", "last")}
        seen_numbers: dict[str, int] = {}
        seen_current: dict[tuple[int, int], int] = {}
        built = []
        for number, values, raw in rows:
            errors = _required(sheet, number, values)
            notes = []
            institution = _institution_cell(sheet, number, values, "uscc", institutions, errors)
            if institution is not None and not _region_under(institution.region, bureau):
                errors.append(sheet.cell_error(number, "uscc", _("%(institution)s is not under %(bureau)s.")
                                               % {"institution": institution.name, "bureau": bureau.name}))
                institution = None
            dates = _dates(sheet, number, raw, values, ("issued_on", "valid_until"), errors)
            issued_on, valid_until = dates.get("issued_on"), dates.get("valid_until")
            versions = None
            if values.get("scheme"):
                code = values["scheme"].strip()
                versions = schemes.get(code) or schemes.get(titles.get(code.lower(), ""))
                if versions is None:
                    errors.append(sheet.cell_error(number, "scheme", _("There is no scheme with the code "
                                                                       "%(code)s.") % {"code": code}))
            version = _version_on(versions, issued_on) if versions else None
            grade = None
            if version is not None and values.get("grade"):
                wanted = values["grade"].strip().lower()
                grade = next((g for g in grades.get(version.pk, []) if wanted in (g.code.lower(), g.name.lower())),
                             None)
                if grade is None:
                    errors.append(sheet.cell_error(number, "grade", _("The scheme %(scheme)s has no grade "
                                                                      "“%(value)s”.")
                                                   % {"scheme": version.scheme.code, "value": values["grade"]}))
            kind = None
            if values.get("kind"):
                kind = _choice(values["kind"], Kind.choices, KIND_ALIASES)
                if kind is None:
                    errors.append(sheet.cell_error(number, "kind", _("Write promotion or recheck.")))
            issuer = None
            if values.get("issued_by"):
                issuer = bureau_named(values["issued_by"])
                if issuer is None or issuer.pk != bureau.pk:
                    errors.append(sheet.cell_error(number, "issued_by", _("Only certificates issued by %(bureau)s "
                                                                          "are registered here.")
                                                   % {"bureau": bureau.name}))
            approver = bureau
            if values.get("approved_by"):
                approver = bureau_named(values["approved_by"])
                if approver is None or province_of(approver).pk != bureau.pk:
                    errors.append(sheet.cell_error(number, "approved_by", _("No bureau under %(bureau)s is named "
                                                                            "%(value)s.")
                                                   % {"bureau": bureau.name, "value": values["approved_by"]}))
                    approver = None
            printed = values.get("number", "")
            if printed:
                own = Certificate.parse_number(printed, version=version) if version is not None else None
                if len(printed) > 40:
                    errors.append(sheet.cell_error(number, "number", _("A certificate number has at most 40 "
                                                                       "characters.")))
                elif printed in stored_numbers:
                    errors.append(sheet.cell_error(number, "number", _("A certificate numbered %(number)s is "
                                                                       "already stored.") % {"number": printed}))
                elif printed in seen_numbers:
                    errors.append(sheet.cell_error(number, "number", _("The same number is on row %(row)d.")
                                                   % {"row": seen_numbers[printed]}))
                elif own is not None and own[1] <= counters.get((version.scheme_id, own[0]), 0):
                    errors.append(sheet.cell_error(number, "number", _("%(number)s belongs to the numbers the "
                                                                       "engine has already issued in %(year)d.")
                                                   % {"number": printed, "year": own[0]}))
                seen_numbers.setdefault(printed, number)
            if issued_on and issued_on > timezone.localdate(now):
                errors.append(sheet.cell_error(number, "issued_on", _("This date is in the future.")))
            if issued_on and valid_until and valid_until <= issued_on:
                errors.append(sheet.cell_error(number, "valid_until", _("A certificate must be valid after the "
                                                                        "day it is issued.")))
            elif issued_on and valid_until and version is not None:
                spec = version.specification()
                expected = rules.valid_until(issued_on, scheme=spec)
                if expected != valid_until:
                    params = {"issued": issued_on.isoformat(), "expected": expected.isoformat(),
                              "given": valid_until.isoformat(), "reason": expiry_reason}
                    if expiry_reason:
                        notes.append(sheet.cell_error(number, "valid_until", _(
                            "The scheme's rule makes a certificate issued on %(issued)s valid until %(expected)s, "
                            "not %(given)s. Accepted: %(reason)s") % params))
                    else:
                        errors.append(sheet.cell_error(number, "valid_until", _(
                            "The scheme's rule makes a certificate issued on %(issued)s valid until %(expected)s, "
                            "not %(given)s. Correct it, or accept the dates as printed with a reason.") % params))
            lapsed = False
            if valid_until and version is not None:
                today = rules.local_date(now, scheme=version.specification())
                lapsed = valid_until < today
                if lapsed:
                    notes.append(sheet.cell_error(number, "valid_until", _("Expired on %(day)s: the certificate "
                                                                           "is registered as lapsed.")
                                                  % {"day": valid_until.isoformat()}))
                elif institution is not None:
                    key = (institution.pk, version.scheme_id)
                    if key in current:
                        errors.append(sheet.cell_error(number, "uscc", _("%(institution)s already holds "
                                                                         "certificate %(number)s in force under "
                                                                         "this scheme.")
                                                       % {"institution": institution.name, "number": current[key]}))
                    elif key in seen_current:
                        errors.append(sheet.cell_error(number, "uscc", _("Row %(row)d already gives this holder "
                                                                         "a certificate in force under this "
                                                                         "scheme.") % {"row": seen_current[key]}))
                    else:
                        seen_current[key] = number
            scan = None
            if values.get("scan"):
                scan = scans.get(values["scan"])
                if scan is None:
                    errors.append(sheet.cell_error(number, "scan", _("No file named %(name)s came with the sheet.")
                                                   % {"name": values["scan"]}))
                else:
                    errors += [sheet.cell_error(number, "scan", r.message)
                               for r in upload_refusals(scan, field="scan")]
            report.errors.extend(errors)
            report.notes.extend(notes)
            certificate = Certificate(
                number=printed, year=issued_on.year if issued_on else 0, serial=None, institution=institution,
                grade=grade, kind=kind or Kind.PROMOTION, issued_on=issued_on, valid_until=valid_until,
                status=CertificateStatus.LAPSED if lapsed else CertificateStatus.IN_FORCE,
                issued_by=bureau, approved_by=approver, letter_number=values.get("letter_number", "")[:60])
            if lapsed:
                certificate.status_changed_at = now
                certificate.status_reason = register_lapse_reason()
            if version is not None:
                certificate.scheme_version_id, certificate.scheme_id = version.pk, version.scheme_id
            certificate._scan = scan
            built.append((number, certificate))
        return built

    def save(rows):
        batch = RegisterBatch.objects.create(bureau=bureau, imported_by=actor, source=source[:200],
                                             expiry_reason=expiry_reason)
        certificates = []
        for _number, certificate in rows:
            certificate.register_batch = batch
            if certificate._scan is not None:
                certificate.scan.save(certificate._scan.name.rsplit("/", 1)[-1], certificate._scan, save=False)
            certificates.append(certificate)
        _register_counters_follow(certificates)
        try:
            with transaction.atomic():
                stored = Certificate.objects.bulk_create(certificates, batch_size=1000)
        except IntegrityError:  # a number or a holder's current certificate taken meanwhile by another import
            raise _refuse("import.register_conflict", _("Another import or issue took one of these numbers or "
                                                        "holders meanwhile."),
                          _("Run the import again: the report will name the rows.")) from None
        audit_record(actor=actor, action="register.import", target=batch,
                     after={"source": source[:200], "certificates": len(stored),
                            "lapsed": sum(c.status == CertificateStatus.LAPSED for c in stored)},
                     reason=expiry_reason)
        stash["batch"] = batch.pk
        return stored

    return _run_import(actor=actor, bureau=bureau, content=content, columns=CERTIFICATE_COLUMNS, build=build,
                       save=save, kind="certificates", good_rows_only=good_rows_only, source=source,
                       dry_run=dry_run, permission=require_certificate_officer, audit_after=stash)


MAX_SCANS_BYTES = 2 * 1024 * 1024 * 1024  # what a .zip of scans may hold once unpacked, all files together


def scans_from_zip(content) -> dict[str, ContentFile]:
    """The files of a .zip of scans by their names (without folders), for :func:`certificates_import`. A file
    larger than the evidence limit is kept by its size only, so that the import reports it; a .zip that would
    unpack beyond ``MAX_SCANS_BYTES``, or is not one, is refused."""
    try:
        archive = zipfile.ZipFile(content)
    except (zipfile.BadZipFile, OSError):
        raise _refuse("import.scans_not_zip", _("The scans must come as one .zip file."),
                      _("Put the scans in a .zip file and upload it again.")) from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_ROWS or sum(m.file_size for m in members) > MAX_SCANS_BYTES:
        raise _refuse("import.scans_too_large", _("The .zip of scans is too large."),
                      _("Split the register into smaller sheets, each with its own scans."))
    limit = settings.CERTIFICATION_UPLOAD_MAX_BYTES
    files = {}
    for member in members:
        name = member.filename.rsplit("/", 1)[-1]
        data = archive.read(member) if member.file_size <= limit else b""
        scan = ContentFile(data, name=name)
        if member.file_size > limit:
            scan.size = member.file_size  # reported as too large; never read
        files[name] = scan
    return files


def register_lapse_reason() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Registered from the paper register after its expiry: the grade has lapsed.")


def _register_counters_follow(certificates) -> None:
    """Move each scheme's counter of a year on past the registered numbers printed in its own format (under
    its lock)."""
    versions = SchemeVersion.objects.in_bulk({c.scheme_version_id for c in certificates})
    highest: dict[tuple[int, int], int] = {}
    for certificate in certificates:
        parsed = Certificate.parse_number(certificate.number, version=versions[certificate.scheme_version_id])
        if parsed is not None:
            key = (certificate.scheme_id, parsed[0])
            highest[key] = max(highest.get(key, 0), parsed[1])
    for (scheme_id, year), serial in sorted(highest.items()):
        CertificateSerial.objects.get_or_create(scheme_id=scheme_id, year=year)
        counter = CertificateSerial.objects.select_for_update().get(scheme_id=scheme_id, year=year)
        if counter.last < serial:
            counter.last = serial
            counter.save(update_fields=["last"])


def import_dispatch(kind: str):
    return {"institutions": institutions_import, "experts": experts_import, "employments": employments_import,
            "certificates": certificates_import}[kind]


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
    table_sheet(book.active, title=str(KIND_TITLES[kind]),
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
