"""Documents (§5 of the design): Django templates under ``templates/documents/`` rendered to PDF by WeasyPrint.

Every document goes through :func:`render_pdf`, which gives WeasyPrint a URL fetcher that serves only the
project's own static files and ``data:`` URLs, so that no text a user typed can make the renderer read a
local file or reach the network.

Every PDF is written as PDF/A-2b (ISO 19005-2, level B), tagged, with an sRGB output intent, every font
embedded, and XMP metadata an archive's intake reads before it opens the file (:class:`PdfRecord`): the
title, the issuing bureau as author, the date of issue, the case's reference and the scheme. The archives
the bureaus serve take PDF/A for permanent records (DA/T 47, GB/T 18894).
"""

import datetime as dt
import functools
import logging
import mimetypes
import posixpath
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import unquote, urljoin, urlsplit, uses_netloc, uses_relative
from urllib.request import DataHandler, Request

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# The internal scheme of the static files a document may use: ``docstatic://static/css/x.css``. Registered
# with urllib so that relative references in a document resolve against ``BASE_URL`` like they would
# against an http base; WeasyPrint never sees a real location.
STATIC_SCHEME = "docstatic"
BASE_URL = f"{STATIC_SCHEME}://static/"
if STATIC_SCHEME not in uses_relative:
    uses_relative.append(STATIC_SCHEME)
    uses_netloc.append(STATIC_SCHEME)

# Options for ``write_pdf``, written out so that a change of WeasyPrint's defaults cannot silently make
# every document embed whole CJK fonts (``full_fonts``) or carry their hinting. PDF/A-2b with tags: WeasyPrint
# then adds the sRGB OutputIntent, the pdfaid XMP identification and the structure tree.
PDF_VARIANT = "pdf/a-2b"
PDF_OPTIONS = {"full_fonts": False, "hinting": False, "optimize_images": True, "pdf_variant": PDF_VARIANT,
               "pdf_tags": True}
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDFAID_NS = "http://www.aiim.org/pdfa/ns/id/"


@dataclass(frozen=True)
class PdfRecord:
    """What a PDF says of itself in its XMP metadata and document information, for an archive's intake.

    ``author`` is the issuing bureau (dc:creator), ``created`` the moment of issue (xmp:CreateDate, in the
    scheme's zone), ``reference`` the case's reference or the document's number, ``scheme`` the scheme and its
    version; the last two go in dc:description and pdf:Keywords."""

    author: str
    created: dt.datetime
    reference: str = ""
    scheme: str = ""

    @property
    def description(self) -> str:
        parts = [f"编号：{self.reference}" if self.reference else "", f"考评方案：{self.scheme}" if self.scheme else ""]
        return "；".join(p for p in parts if p)


def _scheme_label(version) -> str:
    return f"{version.title}（第{version.number}版）" if version is not None else ""


def case_pdf_record(case, *, created: dt.datetime | None = None) -> PdfRecord:
    """A case's document: issued by the case's bureau, under the case's scheme version."""
    from django.utils import timezone

    return PdfRecord(author=case.bureau.name, created=created or timezone.now(), reference=case.reference,
                     scheme=_scheme_label(case.scheme_version))


def certificate_pdf_record(certificate, *, created: dt.datetime | None = None) -> PdfRecord:
    """A certificate: issued by the province (its ``issued_by`` bureau) on its issue date."""
    from django.utils import timezone

    if created is None:
        created = timezone.make_aware(dt.datetime.combine(certificate.issued_on, dt.time()))
    return PdfRecord(author=certificate.issued_by.name, created=created, reference=certificate.number,
                     scheme=_scheme_label(getattr(certificate, "scheme_version", None)))


def pdf_format(pdf: bytes) -> str:
    """The format a PDF declares in its XMP identification (``PDF/A-2b``), else its header's (``PDF 1.7``):
    what the case archive's manifest names for each file."""
    import io
    import re

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    header = re.match(rb"%PDF-(\d\.\d)", pdf)
    plain = f"PDF {header.group(1).decode()}" if header else "PDF"
    try:
        xmp = PdfReader(io.BytesIO(pdf)).xmp_metadata
    except (PdfReadError, ValueError, KeyError, OSError):  # an uploaded file pypdf cannot read: its header says
        return plain
    for node in xmp.rdf_root.getElementsByTagNameNS(RDF_NS, "Description") if xmp is not None else ():
        part = node.getAttributeNS(PDFAID_NS, "part")
        if part:
            return f"PDF/A-{part}{node.getAttributeNS(PDFAID_NS, 'conformance').lower()}"
    return plain


def _write_pdf(html: str, record: PdfRecord | None) -> bytes:
    from django.utils import timezone
    from weasyprint import HTML

    font_subsetter()
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=safe_url_fetcher()).render(**PDF_OPTIONS)
    if record is not None:
        created = timezone.localtime(record.created).isoformat(timespec="seconds")
        metadata = document.metadata
        metadata.authors = [record.author]
        metadata.created = metadata.modified = created
        metadata.description = record.description or None
        metadata.keywords = [k for k in (record.reference, record.scheme) if k]
    return document.write_pdf(**PDF_OPTIONS)


def _static_response(url: str):
    from weasyprint.urls import URLFetcherResponse

    parts = urlsplit(url)
    if parts.netloc != "static" or parts.query or not parts.path.startswith("/"):
        raise ValueError(f"Not a static file of this project: {url!r}")
    relative = unquote(parts.path)[1:]
    normalised = posixpath.normpath(relative)
    if (not relative or "\\" in relative or "\x00" in relative or normalised != relative
            or normalised.startswith(("/", "..")) or ".." in normalised.split("/")):
        raise ValueError(f"Not a static file of this project: {url!r}")
    # The staticfiles finders look only in STATICFILES_DIRS and the apps' static/ folders, and join
    # with safe_join (a path that escapes them raises SuspiciousFileOperation, a ValueError too).
    try:
        path = finders.find(normalised)
    except Exception as exception:
        raise ValueError(f"Not a static file of this project: {url!r}") from exception
    if not path:
        raise ValueError(f"No such static file: {url!r}")
    content_type = mimetypes.guess_type(normalised)[0] or "application/octet-stream"
    with open(path, "rb") as static_file:
        body = static_file.read()
    return URLFetcherResponse(url, body, {"Content-Type": content_type})


def _data_response(url: str):
    from weasyprint.urls import URLFetcherResponse

    # urllib's DataHandler only decodes the URL (base64 or percent-encoded); it opens nothing.
    response = DataHandler().data_open(Request(url))  # noqa: S310 - the caller checked: data: only
    return URLFetcherResponse(url, response.read(), {"Content-Type": response.headers["Content-Type"]})


def url_fetcher(url: str, timeout: float = 10, ssl_context=None):
    """Fetch ``url`` for WeasyPrint if it is a ``data:`` URL or one of the project's static files
    (``docstatic://static/<path>``, found by the staticfiles finders); raise ``ValueError`` for anything
    else: ``file:``, ``http(s):``, any other scheme, a relative reference, or a path leaving the static
    folders. ``timeout`` and ``ssl_context`` are accepted for the shape of WeasyPrint's fetchers and unused:
    nothing here touches the network.

    WeasyPrint 70 no longer has ``default_url_fetcher``: ``HTML(url_fetcher=...)`` takes a
    ``weasyprint.urls.URLFetcher`` (whose ``fetch(url)`` returns a ``URLFetcherResponse`` and whose
    ``_fail_on_errors`` decides whether a failed fetch stops the rendering). :class:`SafeURLFetcher` is
    that object, delegating to this function; this function returns the same ``URLFetcherResponse``.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        return _data_response(url)
    if scheme == STATIC_SCHEME:
        return _static_response(url)
    raise ValueError(f"Refusing to fetch {url[:200]!r}: documents may use only static files and data: URLs")


def safe_url_fetcher():
    """A ``weasyprint.urls.URLFetcher`` whose every fetch goes through :func:`url_fetcher`. A refused URL
    is logged by WeasyPrint as a warning and the resource left out; the rendering goes on."""
    from weasyprint.urls import URLFetcher

    class SafeURLFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            return url_fetcher(url, timeout=self._timeout)

    return SafeURLFetcher(allowed_protocols={"data", STATIC_SCHEME}, allow_redirects=False)


@functools.cache
def font_subsetter() -> str:
    """``"harfbuzz"`` when WeasyPrint can subset fonts with HarfBuzz (libharfbuzz-subset >= 4.1), else
    ``"fonttools"``: the pure-Python fallback that takes seconds per CJK font (see :func:`render_pdf`)."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    if harfbuzz_subset and harfbuzz.hb_version_atleast(4, 1, 0):
        return "harfbuzz"
    logger.error(
        "WeasyPrint cannot load libharfbuzz-subset (>= 4.1): every PDF with Chinese text will take seconds "
        "a font to embed (fontTools parses the whole CJK font). Install it: apt-get install "
        "libharfbuzz-subset0 (scripts/run.sh and scripts/test.sh do).")
    return "fonttools"


def render_pdf(template_name: str, context: dict, record: PdfRecord | None = None) -> bytes:
    """Render ``template_name`` (autoescaped HTML) and write it as PDF with WeasyPrint.

    Resources resolve against ``BASE_URL`` (an internal scheme) and are fetched only by
    :func:`url_fetcher`, so markup a user typed, even if a template forgot to escape it, cannot read a file
    or reach the network.

    Why a naive set-up takes 2-12 s a page, and what this function does about it. Measured on Debian 12,
    WeasyPrint 70, fonts-noto-cjk 20220127 (Noto CJK: .ttc collections of 19-27 MB, 65,535 glyphs a
    face) with a one-page certificate in ``font-family: "Noto Sans CJK SC"``:

    * Layout, shaping and fontconfig are not the cost: fontconfig answers from its cache in milliseconds
      and layout takes tens of milliseconds whatever the script.
    * The cost is embedding the fonts. WeasyPrint subsets each font face it used (``Font.clean`` in
      ``weasyprint/pdf/fonts.py``). With libharfbuzz-subset >= 4.1 loadable it calls HarfBuzz's C
      subsetter: about 40 ms a CJK face, 0.1 s for a page in two faces. Without it, WeasyPrint falls back
      to fontTools, which loads the face's whole CFF table (65,535 charstrings) into Python objects before
      keeping the few dozen glyphs used: 4-5 s a face, 8-10 s for the same page in regular and bold
      (measured here by hiding libharfbuzz-subset), which is the 2-12 s seen, depending on how many faces
      a page uses. ``full_fonts=True`` would be worse still: the whole face (several MB) in every PDF.
    * So the fix belongs in the set-up, not in the document: the system library must be there and be
      used. scripts/lib.sh installs ``libharfbuzz-subset0`` with WeasyPrint's other libraries, and this
      function checks once a process (:func:`font_subsetter`) that WeasyPrint actually loaded it, logging
      an error naming the package when it did not, instead of rendering ten times slower in silence. The
      benchmark (``python -m benchmarks certificate_pdf``) reports the subsetter it ran with.
    * The options are pinned (``PDF_OPTIONS``): subset fonts, no hinting. Even subset, a CJK face costs
      some 100 KB compressed, because WeasyPrint keeps glyph ids (HarfBuzz ``RETAIN_GIDS``), so the
      embedded face keeps empty entries up to the highest glyph used; templates should therefore use few
      faces (the certificate uses two: Noto Serif CJK SC regular and bold).
    """
    return _write_pdf(render_to_string(template_name, context), record)


# --- Certificate ---------------------------------------------------------------------------------------

def chinese_date(day: dt.date) -> str:
    """``2026年5月20日``: Arabic numerals, as GB/T 9704-2012 (7.3.5.1) prescribes for dates in official
    documents since 2012 (the older 二〇二六年五月二十日 form is no longer the standard)."""
    return f"{day.year}年{day.month}月{day.day}日"


def public_base_url() -> str:
    """The site's public address, which QR codes, credentials, DIDs and status lists name. Unset only outside
    production (the deploy check refuses it there): a local run's own address."""
    return (getattr(settings, "CERTIFICATION_PUBLIC_BASE_URL", "") or "http://127.0.0.1:8000").rstrip("/")


def verification_url(certificate) -> str:
    return urljoin(public_base_url() + "/", "verify/" + certificate.verification_token)


def qr_svg_data_uri(data: str) -> str:
    """A QR code for ``data`` as an SVG ``data:`` URI (vector, so it stays sharp at any print size)."""
    import segno

    return segno.make(data, error="m", micro=False).svg_data_uri(scale=4, border=0, dark="#000")


def certificate_context(certificate, *, qr_token: str = "") -> dict:
    """The template context of a certificate: every printed string is made here, so that the template only
    lays them out (and the benchmark can set them all to Latin text for its floor). ``qr_token`` (the issuing
    bureau's compact JWS over the certificate's essentials) follows the URL in the QR code, after ``#``: a
    phone reads it without the network, and the browser never sends it to the server."""
    words = certificate.scheme_version.specification().documents  # the scheme's own title and statement
    grade = certificate.grade.name
    url = verification_url(certificate)
    return {
        "title": words.certificate_title_for(str(certificate.kind)),
        "holder": certificate.institution.name,
        "grade": grade,
        "statement": words.certificate_statement.format(grade=grade),
        "number_label": "证书编号：",
        "number": certificate.number,
        "valid_until_label": "有效期至：",
        "valid_until": chinese_date(certificate.valid_until),
        "issuer": certificate.issued_by.name,
        "issued_on": chinese_date(certificate.issued_on),
        "seal_label": "（盖章）",
        "verify_label": "扫码核验",
        "verification_url": url,
        "qr": qr_svg_data_uri(f"{url}#{qr_token}" if qr_token else url),
        "lang": "zh-CN",
    }


def certificate_html(certificate, *, qr_token: str = "") -> str:
    """The certificate as HTML (the same page the PDF is printed from)."""
    return render_to_string("documents/certificate.html", certificate_context(certificate, qr_token=qr_token))


def certificate_pdf(certificate) -> bytes:
    """The certificate (证书, or 复查合格证书 after a recheck) of a ``Certificate``: landscape A4."""
    return render_pdf("documents/certificate.html", certificate_context(certificate),
                      certificate_pdf_record(certificate))


def sample_certificate(spec, **overrides) -> SimpleNamespace:
    """An unsaved certificate-like object with the attributes the certificate reads (benchmarks, previews), under
    the scheme ``spec`` (a ``SchemeSpec``): its number format, its lowest grade."""
    values = {
        "scheme_version": SimpleNamespace(specification=lambda: spec),
        "number": spec.documents.certificate_number_for(2026, 1),
        "institution": SimpleNamespace(name="武汉市江岸区人民政府办公室"),
        "grade": SimpleNamespace(name=min(spec.grades, key=lambda g: g.rank).name),
        "kind": "promotion",
        "issued_on": dt.date(2026, 5, 20),
        "valid_until": dt.date(2029, 5, 19),
        "issued_by": SimpleNamespace(name="（发证机关）"),
        "verification_token": "sample-token-0123456789abcdef",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


# --- The case's documents (§5) ------------------------------------------------------------------------
#
# Every printed string of a document is Chinese whatever the reader's language: these are the official forms
# of a Chinese procedure (the certificate above does the same). A context is built from the case's own
# records; a field the system does not hold (the archives unit's staff, holdings and facilities of 附件4) is
# printed as an empty box, to be filled in by hand on the paper form.

ISSUER_PLACEHOLDER = "（盖章）"
KIND_LABELS = {"promotion": "晋升", "recheck": "复查"}


def _local_day(moment) -> dt.date | None:
    from django.utils import timezone

    return None if moment is None else timezone.localtime(moment).date()


def _cn(moment_or_day) -> str:
    if moment_or_day is None:
        return ""
    day = moment_or_day if type(moment_or_day) is dt.date else _local_day(moment_or_day)
    return chinese_date(day)


def _last_day(moment) -> dt.date | None:
    """The last day a deadline leaves (``rules.deadline_last_day``): a period ending at midnight is printed as
    the day before."""
    from . import rules

    return None if moment is None else rules.deadline_last_day(moment)


def _deadline_cn(moment) -> str:
    """A deadline in a document: ``2026年12月15日24:00`` for one at the midnight that ends its last day."""
    from . import rules

    text = rules.deadline_text(moment)
    day, _sep, time = text.partition(" ")
    return chinese_date(dt.date.fromisoformat(day)) + time


def _points(value) -> str:
    return "" if value is None else f"{value:.2f}"


def declaration_type(case) -> str:
    """申报类型 of 附件4: 复查 for a recheck, 初次 for a first grade (no grade held before), else 升级."""
    from .enums import Kind
    from .models import Certificate

    if case.kind == Kind.RECHECK:
        return "复查"
    held = (Certificate.objects.filter(institution=case.institution_id, scheme=case.scheme_id,
                                       issued_on__lte=_local_day(case.declared_at))
            .exclude(status="revoked").exists())
    return "升级" if held else "初次"


# --- Reads shared by the documents of one case ------------------------------------------------------------
_SHARED = "_document_reads"


@contextmanager
def shared_reads(case):
    """Within this block, the documents of ``case`` rendered together (the approval's six) read its records
    once: the case's heading, the sheets and their lines, the pre-check, the review and the panel. Outside
    it every render reads the records as they stand."""
    setattr(case, _SHARED, {})
    try:
        yield case
    finally:
        delattr(case, _SHARED)


def _once_per_case(fn):
    """Read once per :func:`shared_reads` block (keyed by the function and its keyword arguments)."""
    @functools.wraps(fn)
    def read(case, **kwargs):
        memo = getattr(case, _SHARED, None)
        if memo is None:
            return fn(case, **kwargs)
        key = (fn.__name__, tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = fn(case, **kwargs)
        return memo[key]
    return read


@_once_per_case
def _held_certificate(case):
    from .enums import CERTIFICATE_STATUSES_CURRENT
    from .models import Certificate

    if case.renews_id:
        return case.renews
    return (Certificate.objects.filter(institution=case.institution_id, scheme=case.scheme_id,
                                       status__in=CERTIFICATE_STATUSES_CURRENT, issued_on__lte=_local_day(case.declared_at))
            .select_related("grade").first())


def _latest_sheet(case, kind):
    return (case.sheets.filter(kind=kind, submitted_at__isnull=False).order_by("-round", "-id")
            .prefetch_related("lines").first())


def _reasons(entry: dict) -> list[str]:
    """The reasons written on a self-check or member line: each deduction's, and the item's own (the reason for
    sub-criteria not met)."""
    reasons = [d["reason"] for d in entry.get("deductions", []) if d.get("reason")]
    return reasons + [entry["reason"]] if entry.get("reason") and entry["reason"] not in reasons else reasons


def _deducted(entry: dict):
    points = [Decimal(d["points"]) for d in entry.get("deductions", []) if d.get("points")]
    return sum(points, Decimal(0)) if points else None


@_once_per_case
def case_context(case) -> dict:
    """What every document of a case prints about the case, the applicant and the assessing bureau."""
    institution = case.institution
    held = _held_certificate(case)
    return {
        "lang": "zh-CN",
        "case": case,
        # the scheme's own words: the text its documents cite, its word for the assessment, its titles
        "words": case.scheme_version.specification().documents,
        "reference": case.reference,
        "scheme_title": case.scheme_version.title if case.scheme_version_id else "",
        "institution": institution.name,
        "uscc": institution.uscc,
        "address": institution.address,
        "postcode": institution.postcode,
        "head": institution.head,
        "archives_leader": institution.archives_leader,
        "contact_name": institution.contact_name,
        "contact_phone": institution.contact_phone,
        "fonds_number": institution.fonds_number,
        "grade": case.grade.name,
        "grade_code": case.grade.code,
        "kind": KIND_LABELS.get(str(case.kind), str(case.kind)),
        "declaration_type": declaration_type(case),
        "held_grade": held.grade.name if held else "",
        "held_issued_on": _cn(held.issued_on) if held else "",
        "held_number": held.number if held else "",
        "bureau": case.bureau.name,
        "supervision_phone": case.bureau.supervision_phone,
        "bureau_phone": case.bureau.phone,
        "declared_on": _cn(case.declared_at),
        "seal_label": ISSUER_PLACEHOLDER,
    }


@_once_per_case
def _item_rows(case, *, with_panel: bool) -> tuple[list[dict], dict]:
    """One row per rubric item: maximum, self-score with the deductions' reasons, and (with_panel) the panel's
    score with its reasons — the departure reason of the consolidation and the members' deduction reasons."""
    from .models import ScoreLine, SheetKind

    spec = case.scheme_version.specification()
    rubric = spec.rubric_for(case.grade.code)
    self_sheet = _latest_sheet(case, SheetKind.SELF)
    panel_sheet = _latest_sheet(case, SheetKind.PANEL) if with_panel else None
    self_lines = {line.item_code: line for line in (self_sheet.lines.all() if self_sheet else [])}
    panel_lines = {line.item_code: line for line in (panel_sheet.lines.all() if panel_sheet else [])}
    member_reasons: dict[str, list[str]] = {}
    if with_panel:
        for line in ScoreLine.objects.filter(sheet__case=case, sheet__kind=SheetKind.MEMBER).order_by("id"):
            member_reasons.setdefault(line.item_code, []).extend(_reasons(line.entry))
    rows, category_code = [], None
    for category, item in rubric.items():
        own = self_lines.get(item.code)
        panel = panel_lines.get(item.code)
        panel_reasons = ([panel.entry.get("reason")] if panel and panel.entry.get("reason") else [])
        panel_reasons = list(dict.fromkeys(panel_reasons + member_reasons.get(item.code, [])))  # each once
        rows.append({
            "category": category.name if category.code != category_code else "",
            "category_max": _points(category.max_points) if category.code != category_code else "",
            "code": item.code,
            "name": item.name,
            "key": getattr(item, "key", False),
            "max": _points(item.max_points),
            "self_score": _points(own.points) if own else "",
            "self_deducted": _points(_deducted(own.entry)) if own and _deducted(own.entry) is not None else "",
            "self_reasons": _reasons(own.entry) if own else [],
            "panel_score": _points(panel.points) if panel else "",
            "panel_reasons": panel_reasons,
            "lower": bool(own and panel and panel.points < own.points),
        })
        category_code = category.code
    totals = {
        "max": _points(sum((i.max_points for _c, i in rubric.items()), Decimal(0))),
        "self": _points(self_sheet.total) if self_sheet else "",
        "self_submitted_on": _cn(self_sheet.submitted_at) if self_sheet else "",
        "panel": _points(panel_sheet.total) if panel_sheet else "",
        "rubric_title": rubric.title,
    }
    return rows, totals


@_once_per_case
def _precheck(case):
    from .models import Precheck

    return case.prechecks.filter(decision=Precheck.Decision.PASS).order_by("-round").first()


@_once_per_case
def _review(case):
    from .models import Review

    return Review.objects.filter(case=case).first()


@_once_per_case
def _panel_members(case):
    from .models import PanelMember

    # the members who sit on the panel: not one who gave up their seat for a declared conflict
    return list(PanelMember.objects.filter(panel__case=case).active().select_related("expert__employer")
                .order_by("-is_chair", "expert__name"))


def _approval(case) -> dict:
    from .models import Outcome, Stage

    approved = case.stage == Stage.CERTIFICATE or case.outcome == Outcome.CERTIFIED
    refused = case.outcome == Outcome.APPROVAL_REFUSED
    if not (approved or refused):
        return {"decided": False, "opinion": "", "on": ""}
    from django.utils import timezone

    return {"decided": True, "approved": approved, "opinion": case.outcome_reason,
            "on": _cn(case.approval_decided_at or timezone.now())}


def _words(case):
    """The documents' words of the case's scheme version (its file's ``documents``)."""
    return case.scheme_version.specification().documents


def acceptance_request_context(case) -> dict:
    rows, totals = _item_rows(case, with_panel=False)
    return {**case_context(case), "title": "验收申请报告", "self_total": totals["self"],
            "requested_on": _cn(case.acceptance_requested_at),
            "report_attached": bool(case.report)}


def application_form_context(case) -> dict:
    precheck = _precheck(case)
    review = _review(case)
    members = _panel_members(case)
    chair = next((m.expert.name for m in members if m.is_chair), "")
    _rows, totals = _item_rows(case, with_panel=True)
    return {
        **case_context(case),
        "title": _words(case).application_form_title,
        "self_total": totals["self"],
        "self_submitted_on": totals["self_submitted_on"],
        "filled_on": _cn(case.acceptance_requested_at),
        "precheck": {"opinion": precheck.summary if precheck else "",
                     "by": precheck.prechecker.get_full_name() if precheck else "",
                     "on": _cn(precheck.decided_at) if precheck else ""},
        "panel": {"opinion": review.conclusion if review and review.concluded_at else "",
                  "total": totals["panel"], "chair": chair,
                  "passed": review.passed if review else None,
                  "on": _cn(review.concluded_at) if review and review.concluded_at else ""},
        "approval": _approval(case),
    }


def self_check_form_context(case) -> dict:
    rows, totals = _item_rows(case, with_panel=False)
    return {**case_context(case), "title": _words(case).self_check_form_title, "rows": rows, "totals": totals}


def assessment_form_context(case) -> dict:
    rows, totals = _item_rows(case, with_panel=True)
    review = _review(case)
    return {**case_context(case), "title": _words(case).assessment_form_title, "rows": rows, "totals": totals,
            "members": _panel_members(case),
            "conclusion": review.conclusion if review else "",
            "passed": review.passed if review else None,
            "votes_for": review.votes_for if review else None,
            "vetoes": review.vetoes if review else [],
            "concluded_on": _cn(review.concluded_at) if review and review.concluded_at else ""}


def precheck_opinion_context(case) -> dict:
    spec = case.scheme_version.specification()
    names = {i.code: i.name for _c, i in spec.rubric_for(case.grade.code).items()}
    rounds = [{
        "round": p.round, "decision": p.get_decision_display(), "passed": p.decision == "pass",
        "summary": p.summary, "on": _cn(p.decided_at), "due": _cn(_last_day(p.rectification_due_at)),
        "by": p.prechecker.get_full_name(),
        "opinions": [(code, names.get(code, ""), text) for code, text in sorted(p.opinions.items()) if text],
        # a pre-check delegated to a city bureau: its written result, and the assessing bureau's decision on it
        "delegated_to": p.delegated_to.name if p.delegated_to_id else "",
        "recommendation": p.get_recommendation_display() if p.recommendation else "",
        "reported_on": _cn(p.reported_at) if p.reported_at else "",
        "written_attached": bool(p.attachment),
        "decided_by": p.decided_by.get_full_name() if p.decided_by_id else "",
        "decision_reason": p.decision_reason,
    } for p in case.prechecks.select_related("prechecker", "delegated_to", "decided_by").order_by("round")]
    return {**case_context(case), "title": "预检意见书", "rounds": rounds}


def _verification(objection) -> dict | None:
    """Who verified an objection (the experts' names), their findings and the day, or None."""
    from .models import ObjectionVerification

    verification = ObjectionVerification.objects.filter(objection=objection).first()
    if verification is None:
        return None
    return {"experts": "、".join(e.name for e in verification.experts.order_by("name")),
            "findings": verification.findings, "on": _cn(verification.verified_on)}


def notice_result_context(case) -> dict:
    notice = case.notices.order_by("-published_at").first()
    objections = list(case.objections.order_by("received_at"))
    listed = []
    if notice is not None:
        for other in notice.cases.select_related("institution", "grade").order_by("institution__name"):
            listed.append({"institution": other.institution.name, "grade": other.grade.name,
                           "kind": KIND_LABELS.get(str(other.kind), "")})
    return {
        **case_context(case), "title": notice.title if notice else "公示",
        "notice": notice, "listed": listed,
        "published_on": _cn(notice.published_at) if notice else "",
        "closes_at": _cn(_last_day(notice.closes_at)) if notice else "",
        "closed_on": _cn(notice.closed_at) if notice and notice.closed_at else "",
        "extension_reason": notice.extension_reason if notice else "",
        "objections": [{"receipt": o.receipt, "received_on": _cn(o.received_at), "status": o.get_status_display(),
                        "resolution": o.resolution, "anonymous": o.anonymous,
                        "set_aside_as": o.get_set_aside_as_display() if o.set_aside_as else "",
                        "verification": _verification(o)} for o in objections],
    }


def timezone_text(moment) -> str:
    from django.utils import timezone

    local = timezone.localtime(moment)
    return f"{local.year}年{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}"


def panel_roster_context(case) -> dict:
    panel = getattr(case, "panel", None)
    members = [{
        "name": m.expert.name, "employer": m.expert.employer.name if m.expert.employer else "",
        "title": m.expert.title, "level": m.expert.get_reviewer_level_display(), "chair": m.is_chair,
        "recusal_on": timezone_text(m.recusal_declared_at) if m.recusal_declared_at else "",
    } for m in _panel_members(case)]
    years = case.scheme_version.specification().panel.conflict_employment_years
    return {**case_context(case), "title": _words(case).panel_roster_title, "members": members, "window_years": years,
            "formed_on": _cn(panel.formed_at) if panel else "",
            "scoring_due": _deadline_cn(panel.scoring_due_at) if panel else ""}


def integrity_notice_context(case) -> dict:
    members = _panel_members(case)
    review = _review(case)
    onsite = None
    if review and review.steps:
        onsite = min((v for v in review.steps.values() if isinstance(v, str)), default=None)
    return {**case_context(case), "title": "廉政告知书",
            "integrity_lead": _words(case).integrity_lead_for(case.bureau.name),
            "chair": next((m.expert.name for m in members if m.is_chair), ""),
            "assessment_on": onsite[:10] if onsite else "",
            "acknowledged_on": _cn(case.integrity_acknowledged_at)}


def confirmation_letter_template(case) -> str:
    """The letter's model the scheme names for the grade (the archives' 附件5 has two: one for the special and
    first grades, one for the second grade)."""
    return case.scheme_version.specification().documents.letter_template(case.grade.code)


def confirmation_letter_context(case, *, number: str = "") -> dict:
    rows, totals = _item_rows(case, with_panel=True)
    review = _review(case)
    approval = _approval(case)
    from .selectors import awarded_grade

    spec = case.scheme_version.specification()
    grade = awarded_grade(case).name  # a lower one where the review placed the case below the grade declared
    return {**case_context(case), "grade": grade,
            "title": spec.documents.letter_subject.format(institution=case.institution.name, grade=grade),
            "validity_years": spec.times.validity_years,
            "award_reason": (getattr(review, "award_reason", "") or "") if review else "",
            "number": number, "total": totals["panel"],
            "assessed_on": _cn(review.concluded_at) if review and review.concluded_at else "",
            "approved_on": approval["on"],
            "rectifications": [r for r in rows if r["lower"]],
            "recheck": str(case.kind) == "recheck"}


# kind -> (template, context builder); the confirmation letter's template depends on the grade.
CASE_DOCUMENTS = {
    "acceptance_request": ("documents/acceptance_request.html", acceptance_request_context),
    "application_form": ("documents/application_form.html", application_form_context),
    "self_check_form": ("documents/self_check_form.html", self_check_form_context),
    "assessment_form": ("documents/assessment_form.html", assessment_form_context),
    "precheck_opinion": ("documents/precheck_opinion.html", precheck_opinion_context),
    "notice_result": ("documents/notice_result.html", notice_result_context),
    "panel_roster": ("documents/panel_roster.html", panel_roster_context),
    "integrity_notice": ("documents/integrity_notice.html", integrity_notice_context),
    "confirmation_letter": (None, confirmation_letter_context),
}
# The documents approval rests on (第十条 五): frozen when the approver approves, with the letter.
BASIS_DOCUMENTS = ("acceptance_request", "application_form", "assessment_form", "notice_result",
                   "integrity_notice")


def case_document_template(kind: str, case) -> str:
    """The template of a case's document: the scheme's own where its file names one (the letter's per grade),
    else the shared one."""
    template, _builder = CASE_DOCUMENTS[kind]
    return _words(case).template_for(kind, template) if template else confirmation_letter_template(case)


def case_document_available(kind: str, case) -> bool:
    """Whether the case's records are far enough on to print ``kind`` (a live rendering). The confirmation
    letter exists only as issued at approval."""
    from .models import SheetKind

    if kind == "confirmation_letter":
        return False
    if kind in ("self_check_form", "acceptance_request"):
        return case.sheets.filter(kind=SheetKind.SELF, submitted_at__isnull=False).exists()
    if kind == "assessment_form":
        return case.sheets.filter(kind=SheetKind.PANEL).exists()
    if kind == "precheck_opinion":
        return case.prechecks.exists()
    if kind == "notice_result":
        return case.notices.exists()
    if kind == "panel_roster":
        return hasattr(case, "panel")
    return kind in CASE_DOCUMENTS


def case_document_render(kind: str, case, **extra) -> tuple[str, str, dict]:
    """(template name, HTML, context) of a case's document as the records stand now."""
    _template, builder = CASE_DOCUMENTS[kind]
    context = builder(case, **extra)
    template = case_document_template(kind, case)
    return template, render_to_string(template, context), context


def html_to_pdf(html: str, record: PdfRecord | None = None) -> bytes:
    """Print HTML made by a document template (the stored HTML of a frozen document prints the same), with
    ``record`` as its archival metadata."""
    return _write_pdf(html, record)


# --- The annual approvals summary (审批情况汇总表, 第十条 五 (二)) ------------------------------------------

SUMMARY_HEADERS = ["序号", "单位名称", "申报等级", "类型", "评审总分", "审批机关", "确认函文号", "审批日期",
                   "证书编号"]


#: What the annual summary prints in place of a score for a certificate registered from the paper register.
REGISTERED_MARK = "纸质证书登记"


def bureau_and_below(bureau) -> list[int]:
    from .models import Bureau

    ids, frontier = [bureau.pk], [bureau.pk]
    while frontier:
        frontier = list(Bureau.objects.filter(parent__in=frontier).values_list("pk", flat=True))
        ids += frontier
    return ids


def _month_day_cn(month_day: str) -> str:
    month, day = (int(part) for part in month_day.split("-"))
    return f"{month}月{day}日"


def approvals_summary(bureau, year: int, *, scheme) -> dict:
    """The approvals of ``bureau`` and the bureaus below it under ``scheme`` (a ``SchemeSpec``) in ``year``
    (the scheme's calendar): one row per confirmation letter issued, with the certificate's number once issued,
    and the certificates registered from the paper register. Its title and closing note are the scheme's words;
    each scheme a bureau runs has its own summary."""
    from django.utils import timezone

    from . import rules
    from .models import Certificate, IssuedDocument, ScoreSheet

    start = rules.start_of_local_day(dt.date(year, 1, 1), scheme=scheme)
    end = rules.start_of_local_day(dt.date(year + 1, 1, 1), scheme=scheme)
    letters = (IssuedDocument.objects.filter(kind="confirmation_letter", case__bureau__in=bureau_and_below(bureau),
                                             issued_at__gte=start, issued_at__lt=end, case__scheme__code=scheme.code)
               .select_related("case__institution", "case__grade", "case__bureau").order_by("issued_at", "id"))
    certificates = dict(IssuedDocument.objects.filter(kind="certificate", case__in=[d.case_id for d in letters])
                        .values_list("case_id", "certificate__number"))
    totals = {s.case_id: s.total for s in ScoreSheet.objects.filter(case__in=[d.case_id for d in letters],
                                                                    kind="panel")}
    approvals = [(_local_day(d.issued_at), d.pk, [
        d.case.institution.name, d.case.grade.name, KIND_LABELS.get(str(d.case.kind), ""),
        _points(totals.get(d.case_id)), d.case.bureau.name, d.number, _cn(d.issued_at),
        certificates.get(d.case_id) or "待发证"]) for d in letters]
    # The certificates of the year registered from the paper register: approved before the engine, they have
    # no case; their row says so in place of a score.
    registered = (Certificate.objects.filter(register_batch__isnull=False, approved_by__in=bureau_and_below(bureau),
                                             issued_on__year=year, scheme__code=scheme.code)
                  .select_related("institution", "grade", "approved_by").order_by("issued_on", "id"))
    approvals += [(c.issued_on, -c.pk, [
        c.institution.name, c.grade.name, KIND_LABELS.get(str(c.kind), ""), REGISTERED_MARK, c.approved_by.name,
        c.letter_number, _cn(c.issued_on), c.number]) for c in registered]
    approvals.sort(key=lambda a: (a[0], a[1]))
    rows = [[n, *row] for n, (_day, _key, row) in enumerate(approvals, start=1)]
    return {"lang": "zh-CN", "bureau": bureau.name, "year": year,
            "title": scheme.documents.annual_summary_title_for(bureau.name, year),
            "note": scheme.documents.annual_summary_note.format(due=_month_day_cn(scheme.times.annual_summary.due)),
            "headers": SUMMARY_HEADERS, "rows": rows, "made_on": _cn(rules.local_date(timezone.now(), scheme=scheme)),
            "seal_label": ISSUER_PLACEHOLDER}


def summary_pdf_record(bureau, year: int, *, scheme, created: dt.datetime | None = None) -> PdfRecord:
    from django.utils import timezone

    return PdfRecord(author=bureau.name, created=created or timezone.now(), reference=f"{year}年审批情况汇总表",
                     scheme=scheme.title)


def approvals_summary_pdf(bureau, year: int, *, scheme) -> bytes:
    return render_pdf("documents/annual_summary.html", approvals_summary(bureau, year, scheme=scheme),
                      summary_pdf_record(bureau, year, scheme=scheme))


def approvals_summary_xlsx(bureau, year: int, *, scheme) -> bytes:
    """The same summary as an .xlsx workbook (one sheet: title, headers, one row per approval), written by the
    one .xlsx writer: text typed by users (an institution's name) is never a formula."""
    from openpyxl.styles import Alignment, Font

    from .xlsx import new_workbook, workbook_bytes

    summary = approvals_summary(bureau, year, scheme=scheme)
    book = new_workbook()
    sheet = book.active
    sheet.title = f"{year}"
    sheet.append([summary["title"]])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(SUMMARY_HEADERS))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(SUMMARY_HEADERS)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in summary["rows"]:
        sheet.append(list(row))
    for column, width in zip("ABCDEFGHI", (6, 40, 10, 8, 10, 24, 22, 16, 24), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A3"
    return workbook_bytes(book)
