"""A case's documents as HTML and PDF, and the annual approvals summary: printed from the records, and sent
by a city bureau to the province. Every download looks the case (or the bureau, or the summary sent) up for
the signed-in user first: another user's answers 404. A frozen document is served from its stored file,
with its SHA-256; the others are rendered from the records as they stand."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from certification import documents, rules
from certification.exceptions import RuleViolation
from certification.models import Bureau, DocumentKind
from certification.permissions import WORK_IN_BUREAU, get_for_user_or_404, objects_for
from certification.selectors import (
    SUMMARY_READERS,
    case_get_for_user_or_404,
    summaries_overview,
    summary_submission_get_for_user_or_404,
)
from certification.services.documents import case_frozen_documents
from certification.services.summaries import summary_submit

SUMMARY_YEARS = 5  # the summaries page shows this year and the four before


def _pdf_response(content: bytes, filename: str, *, sha256: str = "") -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f"inline; filename*=UTF-8''{_quote(filename)}"
    if sha256:
        response["X-Content-SHA256"] = sha256
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
                  {"case": case, "rows": rows, "certificate": frozen.get(DocumentKind.CERTIFICATE)})


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
def case_document_html(request, pk: int, kind: str):
    case, frozen = _case_document(request, pk, kind)
    html = frozen.html if frozen else documents.case_document_render(kind, case)[1]
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@login_required
@require_GET
def case_document_pdf(request, pk: int, kind: str):
    case, frozen = _case_document(request, pk, kind)
    filename = f"{case.reference}-{kind}.pdf"
    if frozen is not None:
        with frozen.file.open("rb") as stored:
            return _pdf_response(stored.read(), filename, sha256=frozen.sha256)
    _template, html, _context = documents.case_document_render(kind, case)
    return _pdf_response(documents.html_to_pdf(html), filename)


def _summary_bureaus(user):
    bureaus = Bureau.objects.none()
    for perm in SUMMARY_READERS:
        bureaus = bureaus | objects_for(user, perm, Bureau.objects.all())
    return bureaus.distinct().order_by("region__code")


def _summaries_page(request, *, error: str = "", status: int = 200):
    today = rules.local_date(timezone.now())
    years = list(range(today.year, today.year - SUMMARY_YEARS, -1))
    return render(request, "documents/summaries.html", {
        "bureaus": list(_summary_bureaus(request.user)), "years": years, "today": today, "error": error,
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
def summary_send(request, bureau: int, year: int):
    """The bureau's staff send the province its summary of ``year`` (again, with a reason, to correct it)."""
    bureau = get_for_user_or_404(request.user, WORK_IN_BUREAU, Bureau.objects.all(), pk=bureau)
    try:
        summary_submit(actor=request.user, bureau=bureau, year=year, reason=request.POST.get("reason", ""))
    except RuleViolation as exc:
        return _summaries_page(request, error=str(exc), status=400)
    messages.success(request, _("The approvals summary of %(year)s was sent to the province.") % {"year": year})
    return redirect("documents:summaries")


@login_required
@require_GET
def summary_sent_pdf(request, pk: int):
    """A summary as it was sent: its stored PDF, with its SHA-256."""
    sent = summary_submission_get_for_user_or_404(request.user, pk)
    with sent.file.open("rb") as stored:
        return _pdf_response(stored.read(), f"{sent.bureau.name}-{sent.year}-审批情况汇总表-报送.pdf",
                             sha256=sent.sha256)


@login_required
@require_GET
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


@login_required
@require_GET
def summary_pdf(request, bureau: int, year: int):
    bureau = _summary_bureau(request, bureau)
    return _pdf_response(documents.approvals_summary_pdf(bureau, year), f"{bureau.name}-{year}-审批情况汇总表.pdf")


@login_required
@require_GET
def summary_xlsx(request, bureau: int, year: int):
    bureau = _summary_bureau(request, bureau)
    response = HttpResponse(documents.approvals_summary_xlsx(bureau, year),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(f'{bureau.name}-{year}-审批情况汇总表.xlsx')}"
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
    response = HttpResponse(case_archive(case), content_type="application/zip")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(case.reference + '-案卷.zip')}"
    return response
