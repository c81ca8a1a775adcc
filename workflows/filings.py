"""A bureau's filings (备案): the approved rechecks filed with it, listed newest first and exported as .xlsx.

Only the staff, approvers, certificate officers and auditors of the bureau filed with, and those of the bureaus
above it, read them; anyone else gets 404, as for a page that does not exist."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from certification.selectors import filing_bureaus_for_user, filings_for_user
from certification.services.filings import document_names, filings_workbook

from .paging import newest_first_page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SIZE = 50


def _filings(request):
    """The filings the user reads, narrowed to ``?bureau=`` (one of the bureaus the user reads, else 404)."""
    bureaus = list(filing_bureaus_for_user(request.user).order_by("region__code"))
    if not bureaus:
        raise Http404
    filings = filings_for_user(request.user)
    chosen = None
    if request.GET.get("bureau"):
        chosen = next((b for b in bureaus if str(b.pk) == request.GET["bureau"]), None)
        if chosen is None:
            raise Http404
        filings = filings.filter(bureau=chosen)
    return bureaus, chosen, filings


@login_required
def filing_list(request):
    bureaus, chosen, filings = _filings(request)
    page = newest_first_page(
        filings.select_related("bureau", "case__institution", "case__grade", "case__bureau", "filed_by"),
        after=request.GET.get("after"), size=PAGE_SIZE, field="filed_at")
    rows = [(filing, document_names(filing)) for filing in page.object_list]
    return render(request, "filings/list.html", {"bureaus": bureaus, "chosen": chosen, "page": page, "rows": rows})


@login_required
def filing_export(request):
    _bureaus, chosen, filings = _filings(request)
    response = HttpResponse(filings_workbook(filings), content_type=XLSX)
    name = f"filings-{chosen.pk}-" if chosen else "filings-"
    response["Content-Disposition"] = f'attachment; filename="{name}{timezone.localdate():%Y%m%d}.xlsx"'
    return response


urlpatterns = [
    path("", filing_list, name="filing_list"),
    path("export.xlsx", filing_export, name="filing_export"),
]
