"""Oversight pages (第九条, 第十二条; DESIGN §4.1): spot-check rounds (plan, draw, inspect, conclude per bureau),
rectification orders (answer, decide), a bureau's suspension and reinstatement, and the dashboards.

Every page looks its object up for the user (404 alike for missing and not yours) and acts through
``workflows.actions``; the services hold every rule and refuse with a message shown beside the field."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from certification.dashboard import dashboard, dashboard_bureaus, dashboard_filters, dashboard_workbook
from certification.exceptions import RuleViolation
from certification.models import (
    Bureau,
    BureauConclusion,
    Grade,
    Sampling,
    Scheme,
    ScoreSheet,
    Selection,
    Violation,
)
from certification.permissions import WORK_IN_BUREAU, granted
from certification.selectors import (
    action_label,
    bureaus_below,
    case_timeline,
    findings_for_user,
    order_get_for_user_or_404,
    orders_for_user,
    oversight_candidates,
    oversight_checkers,
    spot_check_items_for_user,
    spot_check_round_get_for_user_or_404,
    spot_check_rounds_for_user,
    suspensions_for_user,
)
from certification.services.oversight import round_replay

from . import actions
from .task_views import add_refusals

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- Forms ---------------------------------------------------------------------------------------------------
class RoundPlanForm(forms.Form):
    bureau = forms.ModelChoiceField(queryset=Bureau.objects.none(), label=gettext_lazy("Checking bureau"))
    year = forms.IntegerField(label=gettext_lazy("Year of the assessments"), min_value=2000, max_value=9999)
    scope = forms.ModelMultipleChoiceField(queryset=Bureau.objects.none(), label=gettext_lazy("Bureaus checked"),
                                           widget=forms.CheckboxSelectMultiple)
    sampling = forms.ChoiceField(choices=Sampling.choices, label=gettext_lazy("Sampling"))
    sample_rate = forms.DecimalField(label=gettext_lazy("Sampling rate, percent"), required=False, max_digits=5,
                                     decimal_places=2)
    sample_count = forms.IntegerField(label=gettext_lazy("Cases per bureau"), required=False, min_value=1)
    selection = forms.ChoiceField(choices=Selection.choices, label=gettext_lazy("Selection"))
    selection_reason = forms.CharField(label=gettext_lazy("Reason for choosing by hand"), required=False,
                                       widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, checkers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bureau"].queryset = Bureau.objects.filter(pk__in=[b.pk for b in checkers])
        self.fields["scope"].queryset = Bureau.objects.filter(
            pk__in=bureaus_below([b.pk for b in checkers])).order_by("region__code")
        self.fields["year"].initial = timezone.localdate().year - 1


class FindingForm(forms.Form):
    violation = forms.ChoiceField(choices=Violation.choices, label=gettext_lazy("Rule broken"))
    description = forms.CharField(label=gettext_lazy("What the file shows"), widget=forms.Textarea(attrs={"rows": 3}))


class ConcludeForm(forms.Form):
    bureau = forms.IntegerField(widget=forms.HiddenInput)
    result = forms.ChoiceField(choices=BureauConclusion.Result.choices, label=gettext_lazy("Result"))
    requirements = forms.CharField(label=gettext_lazy("Rectification required"), required=False,
                                   widget=forms.Textarea(attrs={"rows": 3}))
    due_at = forms.DateField(label=gettext_lazy("Rectify by"), required=False,
                             widget=forms.DateInput(attrs={"type": "date"}))


class AnswerForm(forms.Form):
    measures = forms.CharField(label=gettext_lazy("Measures taken"), widget=forms.Textarea(attrs={"rows": 4}))
    evidence = forms.FileField(label=gettext_lazy("Evidence (PDF, JPG or PNG)"), required=False)


class DecideForm(forms.Form):
    accepted = forms.TypedChoiceField(choices=[("yes", gettext_lazy("Accept the rectification")),
                                               ("no", gettext_lazy("Do not accept it"))],
                                      coerce=lambda v: v == "yes", label=gettext_lazy("Decision"))
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


def _end_of_day(day: dt.date) -> dt.datetime:
    """A deadline given as a day: the end of that local day."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)) - dt.timedelta(
        microseconds=1)


def _checking_bureau(user, bureau: Bureau) -> Bureau | None:
    """The bureau above ``bureau`` that ``user`` is staff of (the nearest), or None."""
    own = granted(user, WORK_IN_BUREAU)
    node = bureau.parent
    while node is not None:
        if node.pk in own:
            return node
        node = node.parent
    return None


# --- Pages ---------------------------------------------------------------------------------------------------
@login_required
def index(request):
    rounds = list(spot_check_rounds_for_user(request.user).select_related("bureau").order_by("-year", "-id")[:100])
    orders = list(orders_for_user(request.user).filter(result=BureauConclusion.Result.RECTIFY)
                  .select_related("bureau", "round__bureau").order_by("-id")[:100])
    suspensions = list(suspensions_for_user(request.user).select_related("bureau").order_by("-suspended_at")[:100])
    if not (rounds or orders or suspensions or dashboard_bureaus(request.user)):
        raise Http404
    return render(request, "oversight/index.html", {
        "rounds": rounds, "orders": orders, "suspensions": suspensions,
        "checkers": oversight_checkers(request.user)})


@login_required
def round_plan(request):
    checkers = oversight_checkers(request.user)
    if not checkers:
        raise Http404
    form = RoundPlanForm(request.POST or None, checkers=checkers)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            round_ = actions.spot_check_plan(
                actor=request.user, bureau=data["bureau"], year=data["year"], scope=list(data["scope"]),
                sampling=data["sampling"], sample_rate=data["sample_rate"], sample_count=data["sample_count"],
                selection=data["selection"], selection_reason=data["selection_reason"])
        except RuleViolation as exc:
            add_refusals(form, exc)
        else:
            messages.success(request, _("The round is planned; draw its cases."))
            return redirect("oversight:round", pk=round_.pk)
    return render(request, "oversight/plan.html", {"form": form})


def _is_checker(user, round_) -> bool:
    return round_.bureau_id in granted(user, WORK_IN_BUREAU)


@login_required
def round_detail(request, pk: int):
    round_ = spot_check_round_get_for_user_or_404(request.user, pk)
    items = list(round_.items.select_related("case__institution", "case__grade", "bureau")
                 .prefetch_related("findings").order_by("position"))
    scope = list(round_.scope.order_by("region__code"))
    conclusions = {c.bureau_id: c for c in round_.conclusions.all()}
    checker = _is_checker(request.user, round_)
    candidates = []
    if checker and round_.status == round_.Status.PLANNED and round_.selection == Selection.MANUAL:
        from certification.models import Case

        keys = [pk for pk, _b in oversight_candidates(scope, year=round_.year)]
        candidates = list(Case.objects.filter(pk__in=keys).select_related("institution", "grade", "bureau")
                          .order_by("bureau__region__code", "reference"))
    rows = [{"bureau": b, "conclusion": conclusions.get(b.pk),
             "uninspected": sum(1 for i in items if i.bureau_id == b.pk and i.inspected_at is None),
             "drawn": sum(1 for i in items if i.bureau_id == b.pk),
             "form": ConcludeForm(initial={"bureau": b.pk})} for b in scope]
    error = ""
    if request.method == "POST" and checker:
        try:
            if "draw" in request.POST:
                chosen = [int(v) for v in request.POST.getlist("chosen") if v.isdigit()]
                actions.spot_check_draw(actor=request.user, round_=round_, chosen=chosen)
                messages.success(request, _("The cases are drawn."))
                return redirect("oversight:round", pk=round_.pk)
            bureau_pk = request.POST.get("bureau", "")
            row = next((r for r in rows if str(r["bureau"].pk) == bureau_pk), None)
            if row is None:
                raise Http404
            form = row["form"] = ConcludeForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    actions.spot_check_conclude(
                        actor=request.user, round_=round_, bureau=row["bureau"],
                        compliant=data["result"] == BureauConclusion.Result.COMPLIANT,
                        requirements=data["requirements"],
                        due_at=_end_of_day(data["due_at"]) if data["due_at"] else None)
                except RuleViolation as exc:
                    add_refusals(form, exc)
                else:
                    messages.success(request, _("Concluded on %(bureau)s.") % {"bureau": row["bureau"]})
                    return redirect("oversight:round", pk=round_.pk)
        except RuleViolation as exc:
            error = "；".join(str(r) for r in exc.refusals)
    replayed = round_replay(round_) if round_.drawn_at else []
    return render(request, "oversight/round.html", {
        "round": round_, "items": items, "rows": rows, "checker": checker, "candidates": candidates,
        "error": error, "replays": replayed == [i.case_id for i in items]})


@login_required
def item_detail(request, pk: int):
    """A drawn case's file, read-only (the frozen documents, the score sheets, the roster, the timeline), its
    findings, and for the inspector the forms to record a finding and to finish the inspection."""
    item = spot_check_items_for_user(request.user).filter(pk=pk).select_related(
        "round__bureau", "case__institution", "case__grade", "case__bureau", "case__certificate", "bureau").first()
    if item is None:
        raise Http404
    case = item.case
    checker = _is_checker(request.user, item.round) and item.round.status == item.round.Status.DRAWN
    form = FindingForm(request.POST or None)
    if request.method == "POST" and checker:
        try:
            if "inspected" in request.POST:
                actions.spot_check_inspected(actor=request.user, item=item)
                messages.success(request, _("The inspection of this case is recorded."))
                return redirect("oversight:round", pk=item.round_id)
            if form.is_valid():
                actions.spot_check_finding(actor=request.user, item=item, **form.cleaned_data)
                messages.success(request, _("The finding is recorded."))
                return redirect("oversight:item", pk=item.pk)
        except RuleViolation as exc:
            add_refusals(form, exc)
    from certification.models import IssuedDocument, PanelMember

    documents = list(IssuedDocument.objects.filter(case=case).order_by("issued_at", "id"))
    sheets = list(ScoreSheet.objects.filter(case=case, submitted_at__isnull=False)
                  .select_related("expert").order_by("kind", "id"))
    roster = list(PanelMember.objects.filter(panel__case=case).select_related("expert").order_by("-is_chair", "pk"))
    return render(request, "oversight/item.html", {
        "item": item, "case": case, "form": form, "checker": checker, "documents": documents, "sheets": sheets,
        "roster": roster, "timeline": [(e, action_label(e.action)) for e in case_timeline(case)], "findings": list(item.findings.order_by("id"))})


@login_required
def order_detail(request, pk: int):
    order = order_get_for_user_or_404(request.user, pk)
    own = granted(request.user, WORK_IN_BUREAU)
    answering = order.bureau_id in own and order.status == BureauConclusion.Status.OPEN
    checking = order.round.bureau_id in own
    answer = AnswerForm(prefix="answer")
    decide = DecideForm(prefix="decide")
    suspend = ReasonForm(prefix="suspend")
    if request.method == "POST":
        step = request.POST.get("step")
        try:
            if step == "answer" and answering:
                answer = AnswerForm(request.POST, request.FILES, prefix="answer")
                if answer.is_valid():
                    actions.order_answer(actor=request.user, order=order, **answer.cleaned_data)
                    messages.success(request, _("Your answer is sent to %(bureau)s.") % {"bureau": order.round.bureau})
                    return redirect("oversight:order", pk=order.pk)
            elif step == "decide" and checking:
                decide = DecideForm(request.POST, prefix="decide")
                if decide.is_valid():
                    actions.order_decide(actor=request.user, order=order, **decide.cleaned_data)
                    return redirect("oversight:order", pk=order.pk)
            elif step == "suspend" and checking:
                suspend = ReasonForm(request.POST, prefix="suspend")
                if suspend.is_valid():
                    actions.bureau_suspend(actor=request.user, bureau=order.bureau, checking=order.round.bureau,
                                           order=order, reason=suspend.cleaned_data["reason"])
                    messages.success(request, _("The authority of %(bureau)s is suspended.") % {
                        "bureau": order.bureau})
                    return redirect("oversight:order", pk=order.pk)
            else:
                raise Http404
        except RuleViolation as exc:
            add_refusals({"answer": answer, "decide": decide, "suspend": suspend}[step], exc)
    findings = list(findings_for_user(request.user).filter(item__round=order.round, item__bureau=order.bureau)
                    .select_related("item__case__institution").order_by("item__position", "id"))
    may_suspend = checking and not order.bureau.authority_suspended and (
        order.status in (BureauConclusion.Status.REJECTED, BureauConclusion.Status.OVERDUE)
        or (order.status == BureauConclusion.Status.OPEN and order.due_at and order.due_at <= timezone.now()))
    return render(request, "oversight/order.html", {
        "order": order, "findings": findings, "answer": answer if answering else None,
        "decide": decide if checking and order.status == BureauConclusion.Status.ANSWERED else None,
        "suspend": suspend if may_suspend else None})


@login_required
def bureau_detail(request, pk: int):
    """A bureau's authority: suspended or not, its suspensions, and for the staff of a bureau above it the
    forms to suspend (without an order) or reinstate."""
    bureau = Bureau.objects.filter(pk=pk, pk__in=[b.pk for b in dashboard_bureaus(request.user)]).select_related(
        "parent").first()
    if bureau is None:
        raise Http404
    checking = _checking_bureau(request.user, bureau)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and checking is not None and form.is_valid():
        act = actions.bureau_reinstate if bureau.authority_suspended else actions.bureau_suspend
        try:
            act(actor=request.user, bureau=bureau, checking=checking, reason=form.cleaned_data["reason"])
        except RuleViolation as exc:
            add_refusals(form, exc)
        else:
            return redirect("oversight:bureau", pk=bureau.pk)
    return render(request, "oversight/bureau.html", {
        "bureau": bureau, "form": form if checking is not None else None,
        "suspensions": list(bureau.suspensions.select_related("suspended_by", "reinstated_by", "order")
                            .order_by("-suspended_at"))})


def _dashboard(request):
    filters = dashboard_filters(request.user, bureau=request.GET.get("bureau"), year=request.GET.get("year"),
                                grade=request.GET.get("grade"), scheme=request.GET.get("scheme"))
    if filters is None:
        raise Http404
    return filters, dashboard(filters)


@login_required
def dashboard_page(request):
    filters, board = _dashboard(request)
    return render(request, "oversight/dashboard.html", {
        "board": board, "filters": filters, "bureaus": dashboard_bureaus(request.user),
        "grades": sorted(set(Grade.objects.values_list("code", "name"))),
        "schemes": list(Scheme.objects.order_by("pk")), "years": range(timezone.localdate().year, 2009, -1)})


@login_required
def dashboard_export(request):
    filters, board = _dashboard(request)
    response = HttpResponse(dashboard_workbook(board), content_type=XLSX)
    response["Content-Disposition"] = (f'attachment; filename="dashboard-{filters.bureau.pk}-'
                                       f'{timezone.localdate():%Y%m%d}.xlsx"')
    return response


@login_required
@require_GET
def certificate_list(request):
    """The certificates the user may see (its own, its bureaus' and those of the bureaus below), narrowed as a
    dashboard figure asks (``certification.dashboard.certificates_listed``), fifty a page, newest first."""
    from certification.dashboard import certificates_listed
    from certification.selectors import certificates_for_user

    certificates, narrowed = certificates_listed(request.user, certificates_for_user(request.user), request.GET)
    page = Paginator(certificates.select_related("institution", "grade", "approved_by").order_by("valid_until", "pk"),
                     50).get_page(request.GET.get("page"))
    return render(request, "certificates/list.html", {"page": page, "narrowed": narrowed})


app_name = "oversight"
urlpatterns = [
    path("", index, name="index"),
    path("dashboard/", dashboard_page, name="dashboard"),
    path("dashboard.xlsx", dashboard_export, name="dashboard_export"),
    path("rounds/plan/", round_plan, name="plan"),
    path("rounds/<int:pk>/", round_detail, name="round"),
    path("items/<int:pk>/", item_detail, name="item"),
    path("orders/<int:pk>/", order_detail, name="order"),
    path("bureaus/<int:pk>/", bureau_detail, name="bureau"),
]
