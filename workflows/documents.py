"""A case's documents as HTML and PDF, and the annual approvals summary: printed from the records, and sent
by a city bureau to the province. Every download looks the case (or the bureau, or the summary sent) up for
the signed-in user first: another user's answers 404. A frozen document is served from its stored file,
with its SHA-256, once its PDF is drawn and both hashes hold; the others are rendered from the records as they
stand. A frozen document whose PDF the worker has not drawn yet answers 202 with a page that refreshes itself
(for ``DOCUMENT_DRAW_GRACE`` after its issue; later the download draws it itself); one whose stored HTML or PDF
no longer matches its hash answers 409 and is never served."""

from csp.decorators import csp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from certification import documents, rules
from certification.exceptions import RuleViolation
from certification.models import Bureau, DocumentKind
from certification.permissions import WORK_IN_BUREAU, get_for_user_or_404, objects_for
from certification.selectors import (
    SUMMARY_READERS,
    case_evidence,
    case_get_for_user_or_404,
    scheme_run_by,
    summaries_overview,
    summary_submission_get_for_user_or_404,
)
from certification.services.documents import (
    DocumentIntegrityError,
    DocumentNotReady,
    case_frozen_documents,
    document_html,
    document_pdf,
)
from certification.services.summaries import summary_submit

SUMMARY_YEARS = 5  # the summaries page shows this year and the four before

# A document's own HTML, as printed: its inline style sheet applies, and nothing else may run or load. The page
# is sandboxed (no script, no form, no same-origin access), so markup a user typed into a document, even one a
# template forgot to escape, can do nothing in the reader's browser.
document_policy = csp({"default-src": "'none'", "style-src": "'unsafe-inline'", "img-src": "data:",
                       "sandbox": True})


def _pdf_response(content: bytes, filename: str, *, sha256: str = "") -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f"inline; filename*=UTF-8''{_quote(filename)}"
    if sha256:
        response["X-Content-SHA256"] = sha256
    return response


PREPARING_REFRESH_SECONDS = 3


def frozen_pdf_response(request, document, filename: str, *, back: str = "") -> HttpResponse:
    """A frozen document's PDF as :func:`document_pdf` gives it; 202 with a self-refreshing page while the worker
    draws it, 409 if a hash no longer holds."""
    try:
        return _pdf_response(document_pdf(document), filename, sha256=document.sha256)
    except (DocumentNotReady, DocumentIntegrityError) as exc:
        return not_served(request, exc, back=back)


def not_served(request, exc: Exception, *, back: str = "") -> HttpResponse:
    """The page of a frozen document that cannot be served now: being prepared (202, refreshes itself) or
    failing its hash (409)."""
    preparing = isinstance(exc, DocumentNotReady)
    response = render(request, "documents/not_served.html", {
        "title": _("Document being prepared") if preparing else _("Document failed its integrity check"),
        "refresh": PREPARING_REFRESH_SECONDS if preparing else 0, "back": back},
        status=202 if preparing else 409)
    if preparing:
        response["Retry-After"] = str(PREPARING_REFRESH_SECONDS)
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@login_required
@require_GET
def case_documents(request, pk: int):
    """The list of the case's documents: frozen ones with their number, date and SHA-256."""
    case = case_get_for_user_or_404(request.user, pk)
    frozen = case_frozen_documents(case)
    rows = []
    for kind in DocumentKind:
        if kind == DocumentKind.CERTIFICATE:
            continue
        document = frozen.get(kind.value)
        if document is not None or documents.case_document_available(kind.value, case):
            rows.append({"kind": kind.value, "label": kind.label, "frozen": document})
    return render(request, "documents/case_documents.html",
                  {"case": case, "rows": rows, "certificate": frozen.get(DocumentKind.CERTIFICATE),
                   "evidence": case_evidence(request.user, case)})


def _case_document(request, pk: int, kind: str):
    case = case_get_for_user_or_404(request.user, pk)
    if kind not in documents.CASE_DOCUMENTS:
        raise Http404
    frozen = case_frozen_documents(case).get(kind)
    if frozen is None and not documents.case_document_available(kind, case):
        raise Http404
    return case, frozen


@login_required
@require_GET
@document_policy
def case_document_html(request, pk: int, kind: str):
    case, frozen = _case_document(request, pk, kind)
    if frozen is None:
        return HttpResponse(documents.case_document_render(kind, case)[1], content_type="text/html; charset=utf-8")
    try:
        html = document_html(frozen)
    except DocumentIntegrityError as exc:
        return not_served(request, exc, back=reverse("documents:case_documents", args=[case.pk]))
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@login_required
@require_GET
def case_document_pdf(request, pk: int, kind: str):
    case, frozen = _case_document(request, pk, kind)
    filename = f"{case.reference}-{kind}.pdf"
    if frozen is not None:
        return frozen_pdf_response(request, frozen, filename,
                                   back=reverse("documents:case_documents", args=[case.pk]))
    _template, html, _context = documents.case_document_render(kind, case)
    return _pdf_response(documents.html_to_pdf(html, documents.case_pdf_record(case)), filename)


def _summary_bureaus(user):
    bureaus = Bureau.objects.none()
    for perm in SUMMARY_READERS:
        bureaus = bureaus | objects_for(user, perm, Bureau.objects.all())
    return bureaus.distinct().order_by("region__code")


def _summaries_page(request, *, error: str = "", status: int = 200):
    today = rules.local_date(timezone.now())
    years = list(range(today.year, today.year - SUMMARY_YEARS, -1))
    return render(request, "documents/summaries.html", {
        "years": years, "today": today, "error": error,
        **summaries_overview(request.user, years=years, today=today)}, status=status)


@login_required
@require_GET
def summaries(request):
    """The annual approvals summaries: a city bureau's, sent to the province or not (and the button to send
    them); at a higher bureau, those its city bureaus sent, with the overdue ones flagged; and every summary
    the user's bureaus may print from the records (this year and the four before)."""
    return _summaries_page(request)


@login_required
@require_POST
def summary_send(request, bureau: int, scheme: str, year: int):
    """The bureau's staff send the province its summary of ``year`` under ``scheme`` (again, with a reason, to
    correct it)."""
    bureau = get_for_user_or_404(request.user, WORK_IN_BUREAU, Bureau.objects.all(), pk=bureau)
    try:
        sent = summary_submit(actor=request.user, bureau=bureau, scheme=scheme, year=year,
                              reason=request.POST.get("reason", ""))
    except RuleViolation as exc:
        return _summaries_page(request, error=str(exc), status=400)
    messages.success(request, _("The %(year)s approvals summary of %(scheme)s was sent to the province.")
                     % {"year": year, "scheme": sent.scheme.title})
    return redirect("documents:summaries")


@login_required
@require_GET
def summary_sent_pdf(request, pk: int):
    """A summary as it was sent: its stored PDF, with its SHA-256."""
    sent = summary_submission_get_for_user_or_404(request.user, pk)
    with sent.file.open("rb") as stored:
        return _pdf_response(stored.read(), f"{sent.bureau.name}-{sent.scheme.title}-{sent.year}-审批情况汇总表-报送.pdf",
                             sha256=sent.sha256)


@login_required
@require_GET
@document_policy
def summary_sent_html(request, pk: int):
    """A summary as it was sent: the HTML its PDF was printed from."""
    sent = summary_submission_get_for_user_or_404(request.user, pk)
    return HttpResponse(sent.html, content_type="text/html; charset=utf-8")


def _summary_bureau(request, bureau: int) -> Bureau:
    """A bureau the user works for (any bureau role), or 404."""
    found = _summary_bureaus(request.user).filter(pk=bureau).first()
    if found is None:
        raise Http404
    return found


def _summary_scheme(bureau: Bureau, scheme: str):
    """The current version of a scheme the bureau runs, or 404."""
    version = scheme_run_by(bureau, scheme)
    if version is None:
        raise Http404
    return version


@login_required
@require_GET
def summary_pdf(request, bureau: int, scheme: str, year: int):
    bureau = _summary_bureau(request, bureau)
    version = _summary_scheme(bureau, scheme)
    return _pdf_response(documents.approvals_summary_pdf(bureau, year, scheme=version.specification()),
                         f"{bureau.name}-{version.title}-{year}-审批情况汇总表.pdf")


@login_required
@require_GET
def summary_xlsx(request, bureau: int, scheme: str, year: int):
    bureau = _summary_bureau(request, bureau)
    version = _summary_scheme(bureau, scheme)
    response = HttpResponse(documents.approvals_summary_xlsx(bureau, year, scheme=version.specification()),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    name = f"{bureau.name}-{version.title}-{year}-审批情况汇总表.xlsx"
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}"
    return response


@login_required
@require_GET
def case_archive_download(request, pk: int):
    """The whole case file as one .zip, for the records of the bureaus that assessed or filed it (their staff,
    approvers and auditors). To anyone else the archive does not exist (404)."""
    from urllib.parse import quote

    from certification.selectors import may_keep_case_file
    from certification.services.documents import case_archive

    case = case_get_for_user_or_404(request.user, pk)
    if not may_keep_case_file(request.user, case):
        raise Http404
    try:
        archive = case_archive(case)
    except (DocumentNotReady, DocumentIntegrityError) as exc:
        return not_served(request, exc, back=reverse("documents:case_documents", args=[case.pk]))
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(case.reference + '-案卷.zip')}"
    return response


EVIDENCE_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".gif": "image/gif", ".webp": "image/webp"}


@login_required
@require_GET
def case_evidence_download(request, pk: int, kind: str, item: int):
    """One uploaded piece of a case's evidence (``certification.selectors.case_evidence``): shown in the
    browser where it can (a PDF, an image), otherwise downloaded. Anything the user may not open answers 404."""
    import os

    from django.http import FileResponse

    from certification.selectors import case_evidence_file

    case = case_get_for_user_or_404(request.user, pk)
    field = case_evidence_file(request.user, case, kind, item)
    if not field:
        raise Http404
    name = os.path.basename(field.name)
    content_type = EVIDENCE_TYPES.get(os.path.splitext(name)[1].lower())
    response = FileResponse(field.open("rb"), content_type=content_type or "application/octet-stream",
                            as_attachment=content_type is None, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
