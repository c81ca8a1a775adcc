"""The provincial certificate officer's pages: the queue (issue one, or the chosen ones as a batch of Celery
tasks), the batch's progress (a page that refreshes itself, no JavaScript), and a certificate's page with
suspend / reinstate / revoke. The services hold the rules; these views look objects up for the user (404
for another's) and show the services' refusals."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from certification.exceptions import RuleViolation
from certification.models import IssueBatch
from certification.permissions import ISSUE_FOR_BUREAU, can
from certification.selectors import (
    certificate_get_for_user_or_404,
    certificate_history,
    certificate_queue,
    issue_batch_progress,
)
from certification.services.certificates import certificate_transition
from certification.services.documents import certificate_document_freeze
from certification.services.issuing import issue_batch_start

from . import actions
from .documents import frozen_pdf_response

REFRESH_SECONDS = 3
BATCH_PAGE = 50
QUEUE_PAGE = 50


class IssueForm(forms.Form):
    cases = forms.ModelMultipleChoiceField(queryset=None, label=gettext_lazy("Cases"),
                                           error_messages={"required": gettext_lazy("Choose at least one case.")})

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cases"].queryset = certificate_queue(user)


class TransitionForm(forms.Form):
    """What the officer may do to an issued certificate; nothing else is accepted."""

    transition = forms.ChoiceField(label=gettext_lazy("Action"), choices=[
        ("suspend", gettext_lazy("Suspend")), ("reinstate", gettext_lazy("Reinstate")),
        ("revoke", gettext_lazy("Revoke"))])
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=2000, error_messages={"required": gettext_lazy("A reason is required.")})


def _is_officer(user, certificate) -> bool:
    return can(user, ISSUE_FOR_BUREAU, certificate.issued_by)


@login_required
@require_http_methods(["GET", "POST"])
def queue(request):
    """Approved cases waiting for their certificate. POST ``issue`` (one chosen case, at once), ``batch`` (the
    chosen ones) or ``all`` (every case waiting, however many: no box to tick five hundred times)."""
    error = None
    if request.method == "POST" and "all" in request.POST:
        form = IssueForm(user=request.user)
        try:
            batch = issue_batch_start(actor=request.user,
                                      case_ids=list(certificate_queue(request.user).values_list("pk", flat=True)))
            return redirect("certificates:batch", pk=batch.pk)
        except RuleViolation as exc:
            error = str(exc)
    else:
        form = IssueForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        chosen = list(form.cleaned_data["cases"])
        try:
            if "issue" in request.POST and len(chosen) == 1:
                # the case's process ends now rather than at the next minute
                certificate = actions.case_issue_certificate(actor=request.user, case=chosen[0])
                messages.success(request, _("Certificate %(number)s issued.") % {"number": certificate.number})
                return redirect("certificates:detail", pk=certificate.pk)
            batch = issue_batch_start(actor=request.user, case_ids=[c.pk for c in chosen])
            return redirect("certificates:batch", pk=batch.pk)
        except RuleViolation as exc:
            error = str(exc)
    # Fifty a page, oldest approval first; "issue all" takes every case waiting, on whatever page.
    waiting = certificate_queue(request.user).order_by("updated_at", "pk")
    page = Paginator(waiting, QUEUE_PAGE).get_page(request.GET.get("page"))
    status = 400 if request.method == "POST" else 200
    return render(request, "certificates/queue.html", {
        "cases": page.object_list, "page": page, "waiting": page.paginator.count, "form": form, "error": error},
        status=status)


@login_required
@require_GET
def batch(request, pk: int):
    """The batch's progress: a bar with done, failed and total, each failure's reason, and the items a page
    at a time; the page refreshes itself (no JavaScript) until the batch is finished."""
    found = IssueBatch.objects.filter(pk=pk, created_by=request.user).first()
    if found is None:
        raise Http404
    progress = issue_batch_progress(found)
    items = Paginator(found.items.select_related("case__institution", "certificate").order_by("id"), BATCH_PAGE)
    page = items.get_page(request.GET.get("page"))
    return render(request, "certificates/batch.html", {
        "batch": found, "progress": progress, "page": page,
        "refresh": None if progress["finished"] else REFRESH_SECONDS})


@login_required
@require_GET
def detail(request, pk: int):
    certificate = certificate_get_for_user_or_404(request.user, pk)
    history = certificate_history(certificate)
    officer = _is_officer(request.user, certificate)
    return render(request, "certificates/detail.html", {
        "certificate": certificate, "history": history, "officer": officer,
        "form": TransitionForm() if officer else None,
        "document": certificate.documents.filter(kind="certificate").first()})


@login_required
@require_POST
def transition(request, pk: int):
    """Suspend, reinstate or revoke, with a reason (the holder is told through the audit log's listeners)."""
    certificate = certificate_get_for_user_or_404(request.user, pk)
    if not _is_officer(request.user, certificate):
        raise Http404
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            certificate_transition(actor=request.user, certificate=certificate,
                                   transition=form.cleaned_data["transition"], reason=form.cleaned_data["reason"])
        except RuleViolation as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Certificate %(number)s: done.") % {"number": certificate.number})
            return redirect("certificates:detail", pk=certificate.pk)
    history = certificate_history(certificate)
    return render(request, "certificates/detail.html", {
        "certificate": certificate, "history": history, "officer": True, "form": form,
        "document": certificate.documents.filter(kind="certificate").first()}, status=400)


@login_required
@require_GET
def pdf(request, pk: int):
    """The certificate's PDF as frozen when it was issued (frozen now if it was issued without), served as
    every frozen document is: once drawn, with both hashes holding (``workflows.documents.frozen_pdf_response``)."""
    certificate = certificate_get_for_user_or_404(request.user, pk)
    document = certificate.documents.filter(kind="certificate").first()
    if document is None:
        document = certificate_document_freeze(actor=None, certificate=certificate)
    return frozen_pdf_response(request, document, f"{certificate.number}.pdf",
                               back=reverse("certificates:detail", args=[certificate.pk]))
