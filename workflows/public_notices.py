"""The public notices (公示) on the public site: open notices with their cases and the objection form, and
the archive of closed notices. No sign-in, no JavaScript; the form is CSRF-protected and rate-limited, and
nothing is shown that is not on the notice."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from certification.exceptions import RuleViolation
from certification.selectors import notices_public
from certification.services.notices import objection_file

from .public import rate_limited

# Objections a single address may file per hour (DESIGN §3.6: submitting an objection is rate-limited).
OBJECTIONS_PER_HOUR = 5
NOTICES_PER_PAGE = 20


class ObjectionForm(forms.Form):
    case = forms.TypedChoiceField(label=gettext_lazy("Case objected to"), coerce=int)
    name = forms.CharField(label=gettext_lazy("Your real name"), max_length=50, required=False)
    contact = forms.CharField(label=gettext_lazy("Contact (phone or e-mail)"), max_length=100, required=False,
                              help_text=gettext_lazy("Objections are made under a real name with a contact. One "
                                                     "without them is still recorded, as anonymous, and may be "
                                                     "set aside."))
    grounds = forms.CharField(label=gettext_lazy("Grounds"), max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, notice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case"].choices = [(c.pk, f"{c.institution.name} — {c.grade.name}")
                                       for c in notice.cases.select_related("institution", "grade")
                                       .order_by("institution__name")]


def _is_open(notice, now) -> bool:
    return notice.closed_at is None and notice.published_at <= now < notice.closes_at


def notice_list(request, state: str):
    """Open notices (``open``) or the archive of closed ones (``closed``), newest first."""
    notices = notices_public(state=state).order_by("-published_at", "-pk")
    page = Paginator(notices, NOTICES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "public/notice_list.html", {"page": page, "state": state})


def notice_detail(request, pk: int):
    """One notice: its cases and, while it is open, the objection form."""
    notice = notices_public().filter(pk=pk).first()
    if notice is None:
        raise Http404
    now = timezone.now()
    is_open = _is_open(notice, now)
    form, receipt, status = None, None, 200
    if is_open:
        form = ObjectionForm(request.POST or None, notice=notice)
        if request.method == "POST":
            if rate_limited(request, scope="objection", limit=OBJECTIONS_PER_HOUR, seconds=3600):
                form.add_error(None, _("Too many objections from your address. Please try again in an hour."))
                status = 429
            elif form.is_valid():
                case = notice.cases.get(pk=form.cleaned_data["case"])
                try:
                    receipt = objection_file(notice=notice, case=case, name=form.cleaned_data["name"],
                                             contact=form.cleaned_data["contact"],
                                             grounds=form.cleaned_data["grounds"], now=now)
                except RuleViolation as violation:
                    for refusal in violation.refusals:
                        field = refusal.params.get("field")
                        form.add_error(field if field in form.fields else None, str(refusal))
                    status = 400
            else:
                status = 400
    elif request.method == "POST":
        status = 400
    cases = notice.cases.select_related("institution", "grade").order_by("institution__name")
    return render(request, "public/notice_detail.html",
                  {"notice": notice, "cases": cases, "is_open": is_open, "form": form, "receipt": receipt},
                  status=status)


urlpatterns = [
    path("", notice_list, {"state": "open"}, name="notice_list"),
    path("archive/", notice_list, {"state": "closed"}, name="notice_archive"),
    path("<int:pk>/", notice_detail, name="notice_detail"),
]
