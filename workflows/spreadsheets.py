"""Spreadsheet exchange pages: import institutions and experts (with the template to download), and export
case lists, score rankings and the annual approvals summary. The rules are in
certification.services.spreadsheets; these views only check who may do what and hand the file over."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from certification import documents
from certification.exceptions import RuleViolation
from certification.models import Bureau
from certification.permissions import WORK_IN_BUREAU, objects_for
from certification.selectors import bureau_ids_for_user, cases_for_user
from certification.services import spreadsheets

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_MAX_BYTES = 5 * 1024 * 1024


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What to import"),
                             choices=[("institutions", gettext_lazy("Institutions")),
                                      ("experts", gettext_lazy("Experts"))])
    bureau = forms.TypedChoiceField(label=gettext_lazy("For the bureau"), coerce=int)
    good_rows_only = forms.TypedChoiceField(
        label=gettext_lazy("If some rows are bad"), coerce=lambda v: v == "good", initial="none",
        choices=[("none", gettext_lazy("Import nothing (correct the sheet and upload it again)")),
                 ("good", gettext_lazy("Import the good rows and report the bad ones"))],
        widget=forms.RadioSelect)
    file = forms.FileField(label=gettext_lazy("Spreadsheet (.xlsx)"))

    def __init__(self, *args, bureaus, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bureau"].choices = [(b.pk, b.name) for b in bureaus]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".xlsx"):
            raise forms.ValidationError(_("Upload an Excel workbook (.xlsx)."))
        if upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload


def _staff_bureaus(user):
    return list(objects_for(user, WORK_IN_BUREAU, Bureau.objects.order_by("region__code")))


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _year(request) -> int:
    try:
        year = int(request.GET.get("year") or timezone.localdate().year)
    except ValueError:
        raise Http404 from None
    if not 1900 <= year <= 9999:
        raise Http404
    return year


@login_required
def index(request):
    """The import form (bureau staff) and the exports (anyone with cases to see)."""
    bureaus = _staff_bureaus(request.user)
    report, status = None, 200
    form = ImportForm(request.POST or None, request.FILES or None, bureaus=bureaus) if bureaus else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            bureau = next(b for b in bureaus if b.pk == form.cleaned_data["bureau"])
            service = spreadsheets.import_dispatch(form.cleaned_data["kind"])
            try:
                report = service(actor=request.user, bureau=bureau, content=form.cleaned_data["file"],
                                 good_rows_only=form.cleaned_data["good_rows_only"],
                                 source=form.cleaned_data["file"].name)
            except RuleViolation as violation:
                form.add_error("file", str(violation))
            if report is not None and report.errors:
                status = 400 if not report.imported else 200
        if not form.is_valid() or form.errors:
            status = 400
    visible = bureau_ids_for_user(request.user)
    return render(request, "spreadsheets/index.html", {
        "form": form, "report": report, "year": timezone.localdate().year,
        "summary_bureaus": Bureau.objects.filter(pk__in=visible).order_by("region__code"),
    }, status=status)


@login_required
def template(request, kind: str):
    if kind not in spreadsheets.KINDS or not _staff_bureaus(request.user):
        raise Http404
    return _xlsx(spreadsheets.import_template(kind), f"{kind}-template.xlsx")


@login_required
def export_cases(request):
    cases = cases_for_user(request.user)
    if request.GET.get("year"):
        cases = cases.filter(year=_year(request))
    return _xlsx(spreadsheets.cases_workbook(cases), f"cases-{dt.date.today():%Y%m%d}.xlsx")


@login_required
def export_ranking(request):
    year = _year(request)
    cases = cases_for_user(request.user).filter(year=year)
    return _xlsx(spreadsheets.ranking_workbook(cases), f"ranking-{year}.xlsx")


@login_required
def export_annual_summary(request):
    year = _year(request)
    try:
        pk = int(request.GET.get("bureau", ""))
    except ValueError:
        raise Http404 from None
    if pk not in bureau_ids_for_user(request.user):
        raise Http404
    bureau = Bureau.objects.get(pk=pk)
    # the one annual summary, as the documents print it (certification.documents.approvals_summary)
    return _xlsx(documents.approvals_summary_xlsx(bureau, year), f"annual-summary-{year}.xlsx")


urlpatterns = [
    path("", index, name="spreadsheets"),
    path("templates/<str:kind>.xlsx", template, name="spreadsheet_template"),
    path("exports/cases.xlsx", export_cases, name="export_cases"),
    path("exports/ranking.xlsx", export_ranking, name="export_ranking"),
    path("exports/annual-summary.xlsx", export_annual_summary, name="export_annual_summary"),
]
