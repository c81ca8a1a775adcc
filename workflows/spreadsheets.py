"""Spreadsheet exchange pages: import institutions, experts, experts' past employments and the paper register of
certificates already held (with the template to download; a register import withdrawn as a whole), and export
case lists, score rankings and the annual approvals summary. The rules are in
certification.services.spreadsheets; these views only check who may do what and hand the file over."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from certification import documents
from certification.exceptions import RuleViolation
from certification.models import Bureau
from certification.selectors import (
    bureau_ids_for_user,
    cases_for_user,
    import_bureaus_for,
    register_batches_for,
    scheme_run_by,
    schemes_run_by,
)
from certification.services import spreadsheets
from certification.services.certificates import register_batch_withdraw

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_MAX_BYTES = 5 * 1024 * 1024


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What to import"),
                             choices=list(spreadsheets.KIND_TITLES.items()))
    bureau = forms.TypedChoiceField(label=gettext_lazy("For the bureau"), coerce=int)
    good_rows_only = forms.TypedChoiceField(
        label=gettext_lazy("If some rows are bad"), coerce=lambda v: v == "good", initial="none",
        choices=[("none", gettext_lazy("Import nothing (correct the sheet and upload it again)")),
                 ("good", gettext_lazy("Import the good rows and report the bad ones"))],
        widget=forms.RadioSelect)
    dry_run = forms.BooleanField(label=gettext_lazy("Dry run: check and report only, store nothing"),
                                 required=False)
    file = forms.FileField(label=gettext_lazy("Spreadsheet (.xlsx)"))
    scans = forms.FileField(label=gettext_lazy("Scans of the paper certificates (.zip, optional)"), required=False)
    expiry_reason = forms.CharField(
        label=gettext_lazy("Accept expiry dates that differ from the scheme's rule, because"), required=False,
        max_length=500, help_text=gettext_lazy("Certificates only: paper certificates may follow older rules."))

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

    def clean_scans(self):
        upload = self.cleaned_data.get("scans")
        if upload and not upload.name.lower().endswith(".zip"):
            raise forms.ValidationError(_("Upload the scans as one .zip file."))
        return upload


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000,
                             error_messages={"required": gettext_lazy("A reason is required.")})


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
    bureaus = import_bureaus_for(request.user)
    report, status = None, 200
    form = ImportForm(request.POST or None, request.FILES or None, bureaus=bureaus) if bureaus else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            bureau = next(b for b in bureaus if b.pk == form.cleaned_data["bureau"])
            service = spreadsheets.import_dispatch(form.cleaned_data["kind"])
            try:
                scans = form.cleaned_data.get("scans")
                report = service(actor=request.user, bureau=bureau, content=form.cleaned_data["file"],
                                 good_rows_only=form.cleaned_data["good_rows_only"],
                                 source=form.cleaned_data["file"].name, dry_run=form.cleaned_data["dry_run"],
                                 expiry_reason=form.cleaned_data["expiry_reason"],
                                 scans=spreadsheets.scans_from_zip(scans) if scans else {})
            except RuleViolation as violation:
                form.add_error("file", str(violation))
            if report is not None and report.errors:
                status = 400 if not report.imported else 200
        if not form.is_valid() or form.errors:
            status = 400
    visible = bureau_ids_for_user(request.user)
    summary_bureaus = list(Bureau.objects.filter(pk__in=visible).order_by("region__code"))
    return render(request, "spreadsheets/index.html", {
        "form": form, "report": report, "year": timezone.localdate().year, "kinds": spreadsheets.KIND_TITLES,
        "summary_bureaus": summary_bureaus,
        # the schemes the user's bureaus run (each summary is one scheme's)
        "summary_schemes": list({v.pk: v for vs in schemes_run_by(summary_bureaus).values() for v in vs}.values()),
        "batches": register_batches_for(request.user)[:BATCHES_SHOWN], "withdraw_form": WithdrawForm(),
    }, status=status)


BATCHES_SHOWN = 20


@login_required
@require_POST
def withdraw_batch(request, pk: int):
    """Withdraw a register import made in error (a certificate officer of its bureau, with a reason)."""
    batch = register_batches_for(request.user).filter(pk=pk).first()
    if batch is None:
        raise Http404
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            register_batch_withdraw(actor=request.user, batch=batch, reason=form.cleaned_data["reason"])
        except RuleViolation as violation:
            form.add_error("reason", str(violation))
        else:
            messages.success(request, _("The register import #%(batch)d was withdrawn: its certificates are revoked.")
                             % {"batch": batch.pk})
            return redirect("spreadsheets")
    return render(request, "spreadsheets/withdraw.html", {"batch": batch, "form": form}, status=400)


@login_required
def template(request, kind: str):
    if kind not in spreadsheets.KINDS or not import_bureaus_for(request.user):
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
    code = request.GET.get("scheme", "")
    version = scheme_run_by(bureau, code)
    if version is None:  # no scheme named, or one the bureau does not run
        raise Http404
    # the one annual summary of the scheme, as the documents print it (certification.documents.approvals_summary)
    return _xlsx(documents.approvals_summary_xlsx(bureau, year, scheme=version.specification()),
                 f"annual-summary-{code}-{year}.xlsx")


urlpatterns = [
    path("", index, name="spreadsheets"),
    path("templates/<str:kind>.xlsx", template, name="spreadsheet_template"),
    path("register/<int:pk>/withdraw", withdraw_batch, name="register_withdraw"),
    path("exports/cases.xlsx", export_cases, name="export_cases"),
    path("exports/ranking.xlsx", export_ranking, name="export_ranking"),
    path("exports/annual-summary.xlsx", export_annual_summary, name="export_annual_summary"),
]
