"""Documents (§5 of the design): Django templates under ``templates/documents/`` rendered to PDF by WeasyPrint.

Every document goes through :func:`render_pdf`, which gives WeasyPrint a URL fetcher that serves only the
project's own static files and ``data:`` URLs, so that no text a user typed can make the renderer read a
local file or reach the network.
"""

import datetime as dt
import functools
import logging
import mimetypes
import posixpath
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
# every document embed whole CJK fonts (``full_fonts``) or carry their hinting.
PDF_OPTIONS = {"full_fonts": False, "hinting": False, "optimize_images": True}


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


def render_pdf(template_name: str, context: dict) -> bytes:
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
    from weasyprint import HTML

    font_subsetter()
    html = render_to_string(template_name, context)
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=safe_url_fetcher())
    return document.write_pdf(**PDF_OPTIONS)


# --- Certificate ---------------------------------------------------------------------------------------

CERTIFICATE_TITLES = {
    "promotion": "湖北省机关档案工作目标管理等级证书",
    "recheck": "湖北省机关档案工作目标管理等级复查合格证书",
}


def chinese_date(day: dt.date) -> str:
    """``2026年5月20日``: Arabic numerals, as GB/T 9704-2012 (7.3.5.1) prescribes for dates in official
    documents since 2012 (the older 二〇二六年五月二十日 form is no longer the standard)."""
    return f"{day.year}年{day.month}月{day.day}日"


def verification_url(certificate) -> str:
    base = getattr(settings, "CERTIFICATION_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    return urljoin(base.rstrip("/") + "/", "verify/" + certificate.verification_token)


def qr_svg_data_uri(data: str) -> str:
    """A QR code for ``data`` as an SVG ``data:`` URI (vector, so it stays sharp at any print size)."""
    import segno

    return segno.make(data, error="m", micro=False).svg_data_uri(scale=4, border=0, dark="#000")


def certificate_context(certificate) -> dict:
    """The template context of a certificate: every printed string is made here, so that the template only
    lays them out (and the benchmark can set them all to Latin text for its floor)."""
    kind = str(certificate.kind)
    grade = certificate.grade.name
    url = verification_url(certificate)
    return {
        "title": CERTIFICATE_TITLES.get(kind, CERTIFICATE_TITLES["promotion"]),
        "holder": certificate.institution.name,
        "grade": grade,
        "statement": f"经考评，达到湖北省机关档案工作目标管理{grade}标准，特发此证。",
        "number_label": "证书编号：",
        "number": certificate.number,
        "valid_until_label": "有效期至：",
        "valid_until": chinese_date(certificate.valid_until),
        "issuer": certificate.issued_by.name,
        "issued_on": chinese_date(certificate.issued_on),
        "seal_label": "（盖章）",
        "verify_label": "扫码核验",
        "verification_url": url,
        "qr": qr_svg_data_uri(url),
        "lang": "zh-CN",
    }


def certificate_html(certificate) -> str:
    """The certificate as HTML (the same page the PDF is printed from)."""
    return render_to_string("documents/certificate.html", certificate_context(certificate))


def certificate_pdf(certificate) -> bytes:
    """The certificate (证书, or 复查合格证书 after a recheck) of a ``Certificate``: landscape A4."""
    return render_pdf("documents/certificate.html", certificate_context(certificate))


def sample_certificate(**overrides) -> SimpleNamespace:
    """An unsaved certificate-like object with the attributes the certificate reads (benchmarks, previews)."""
    values = {
        "number": "鄂档等证〔2026〕0001号",
        "institution": SimpleNamespace(name="武汉市江岸区人民政府办公室"),
        "grade": SimpleNamespace(name="省二级"),
        "kind": "promotion",
        "issued_on": dt.date(2026, 5, 20),
        "valid_until": dt.date(2029, 5, 19),
        "issued_by": SimpleNamespace(name="湖北省档案局"),
        "verification_token": "sample-token-0123456789abcdef",
    }
    values.update(overrides)
    return SimpleNamespace(**values)
