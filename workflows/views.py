from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django.views.generic import DetailView, TemplateView

from certification.models import Bureau
from certification.permissions import ACT_FOR_INSTITUTION, WORK_IN_BUREAU, granted, objects_for
from certification.rules import deadline_text
from certification.selectors import (
    action_label,
    awaits_declaration,
    case_evidence,
    case_get_for_user_or_404,
    case_matter,
    case_next_step,
    case_timeline,
    cases_for_user,
    certificate_queue,
    notice_candidates,
    oversight_work,
    panel_seat_awaiting_declaration,
    workplaces_for,
)

from . import actions


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        from certification.models import SchemeVersion

        context = super().get_context_data(**kwargs)
        context["workplaces"] = workplaces_for(self.request.user)
        # each scheme in force with its own times, read from its file (no scheme's numbers in the page)
        context["schemes"] = [
            {"title": version.scheme.title, "notice": spec.stages.notice, "notice_days": spec.times.notice_days,
             "validity_years": spec.times.validity_years}
            for version in SchemeVersion.objects.filter(is_current=True).select_related("scheme")
            .order_by("scheme__title") for spec in [version.specification()]]
        return context


class CaseListView(LoginRequiredMixin, TemplateView):
    """The cases the signed-in user may see, newest first, fifty a page (keyset pages: see ``paging``),
    narrowed by the filters and sorted within the page by any column (``workflows.lists``)."""

    template_name = "workflows/case_list.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        from django_tables2 import RequestConfig

        from .lists import CaseFilter, CaseTable
        from .paging import newest_first_page

        context = super().get_context_data(**kwargs)
        from certification.dashboard import cases_listed

        # the dashboard's links narrow the list (cases_listed); the filter form narrows it further
        cases, context["narrowed"] = cases_listed(self.request.user, cases_for_user(self.request.user).select_related(
            "institution", "grade", "bureau"), self.request.GET)
        filters = CaseFilter(self.request.GET, queryset=cases)
        page = newest_first_page(filters.qs, after=self.request.GET.get("after"), size=self.paginate_by)
        table = CaseTable(page.object_list)
        RequestConfig(self.request, paginate=False).configure(table)  # sorts the page's rows by a column
        context.update(page=page, cases=page.object_list, filter=filters, table=table)
        return context


class CaseDetailView(LoginRequiredMixin, DetailView):
    """The matter page (案件办理页) of one case: where it stands, what is expected of whom and by when, the
    user's own open task, its documents and uploads, notices and objections, panel, scores, decisions,
    certificate and whole timeline (gathered by ``case_matter``). Another user's case answers 404, as a
    missing one does."""

    template_name = "workflows/case_detail.html"
    context_object_name = "case"

    def get(self, request, *args, **kwargs):
        if awaits_declaration(request.user, kwargs["pk"]):
            return redirect("case_recusal", pk=kwargs["pk"])
        return super().get(request, *args, **kwargs)

    def get_object(self, queryset=None):
        return case_get_for_user_or_404(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        from certification.models import AuditEntry, Outcome, PanelMember, ScoreSheet, SheetKind, Stage
        from certification.selectors import may_keep_case_file

        from .engine import open_tasks, process_for, workable_on_case

        context = super().get_context_data(**kwargs)
        user, case = self.request.user, self.object
        context["next_step"] = case_next_step(case)
        matter = context["matter"] = case_matter(case, user)
        context["timeline"] = [(entry, action_label(entry.action)) for entry in case_timeline(
            case, objections=[o.pk for o in matter.objections], notices=matter.notice_ids)]
        process = context["process"] = process_for(case)
        tasks = list(open_tasks(case, process=process))
        mine = workable_on_case(user, case, tasks)  # the case was read through the user's visibility
        context["tasks"] = [(task, task.pk in mine) for task in tasks]
        is_open = case.outcome == Outcome.OPEN
        context["can_withdraw"] = is_open and case.institution_id in granted(user, ACT_FOR_INSTITUTION)
        context["can_cancel"] = is_open and case.bureau_id in granted(user, WORK_IN_BUREAU)
        context["can_archive"] = may_keep_case_file(user, case)
        context["to_replace"] = list(PanelMember.objects.filter(
            Q(conflict_declared_at__isnull=False) | Q(expert__user__isnull=True), panel__case=case,
            replaced_by__isnull=True).select_related("expert")) if context["can_cancel"] and case.stage == Stage.REVIEW else []
        context["needs_prechecker"] = (
            is_open and case.stage in (Stage.PRECHECK, Stage.RECTIFICATION) and case.prechecker_id is None
            and not any(task.flow_task.name == "designate" for task in tasks)
            and case.prechecking_bureau.pk in granted(user, WORK_IN_BUREAU))
        prechecks = context["prechecks"] = list(case.prechecks.select_related(
            "prechecker", "delegated_to", "decided_by").order_by("round"))
        context["evidence"] = case_evidence(user, case, prechecks=prechecks, objections=matter.objections)
        # a sheet the chair reopened (after the member had submitted it), not one never submitted: a member whose
        # scoring task is someone else's or nobody's is not told the chair returned a sheet
        unsubmitted = [str(pk) for pk in ScoreSheet.objects.filter(
            case=case, kind=SheetKind.MEMBER, expert__user=user, submitted_at__isnull=True).values_list("pk", flat=True)
            ] if case.stage == Stage.REVIEW and not mine else []
        context["reopened_sheet"] = bool(unsubmitted) and AuditEntry.objects.filter(
            action="sheet.reopen", target_type="certification.scoresheet", target_id__in=unsubmitted).exists()
        return context


# --- Tasks ---------------------------------------------------------------------------------------------------
class InboxView(LoginRequiredMixin, TemplateView):
    """The signed-in user's open tasks, oldest first, with the case and any deadline."""

    template_name = "workflows/inbox.html"

    paginate_by = 50

    def get_context_data(self, **kwargs):
        from django.core.paginator import Paginator

        from .engine import inbox, with_cases

        context = super().get_context_data(**kwargs)
        user = self.request.user
        page = Paginator(inbox(user), self.paginate_by).get_page(self.request.GET.get("page"))
        context["page_obj"] = page
        context["tasks"] = [(task, case, case_next_step(case)) for task, case in with_cases(page.object_list)]
        context["awaiting_notice"] = notice_candidates(user).count()
        context["certificate_queue"] = certificate_queue(user).count()
        context["bureau_staff"] = bool(granted(user, WORK_IN_BUREAU))
        context["oversight"] = oversight_work(user) if context["bureau_staff"] else {}
        return context


def _closed_task_response(request, case, task, message):
    response = render(request, "workflows/task_closed.html", {"case": case, "task": task, "message": message},
                      status=409)
    return response


def case_task_or_404(user, pk: int, task_pk: int):
    """The case (one the user may see) and one of its human tasks, or 404 — alike for missing and another's."""
    from viewflow.workflow.models import Task

    from .engine import process_for

    case = case_get_for_user_or_404(user, pk)
    process = process_for(case)
    task = Task.objects.filter(pk=task_pk, process=process, flow_task_type="HUMAN").first() if process else None
    if task is None:
        raise Http404
    return case, process, task


def task_closed_message(user, task) -> str:
    """Why ``user`` cannot act on ``task`` now (done, cancelled, someone else's), or "" if they can."""
    from .engine import may_work_on

    if task.status not in ("NEW", "ASSIGNED"):
        return _("This task is no longer open (%(status)s%(when)s). Nothing was changed.") % {
            "status": task.get_status_display(),
            "when": "，" + timezone.localtime(task.finished).strftime("%Y-%m-%d %H:%M") if task.finished else ""}
    if not may_work_on(user, task):
        return _("This task is not yours to do. Nothing was changed.")
    return ""


@login_required
def task(request, pk: int, task_pk: int):
    """Open or act on one task of a case. The case must be one the user may see (else 404), the task one of
    its tasks (else 404); a task that is done, cancelled or someone else's says so and changes nothing.
    A POST goes through ``workflows.actions.task_act`` (the row lock, the service and the task's completion in
    one transaction), as the API's does."""
    if awaits_declaration(request.user, pk):
        return redirect("case_recusal", pk=pk)  # a member sees nothing of the case before signing
    case, _process, task = case_task_or_404(request.user, pk, task_pk)
    message = task_closed_message(request.user, task)
    if message:
        return _closed_task_response(request, case, task, message)
    node = task.flow_task
    request.activation = node.activation_class(task)
    return node.view(request, pk=pk, task_pk=task_pk)


# --- Declaration, withdrawal, cancellation -------------------------------------------------------------------
def declaration_window_state(institutions, *, scheme: str, has_inclusion: bool) -> dict:
    """Whether this year's declaration window is open today, said before the applicant types anything; when it
    is not, the bureaus that may include a late declaration, per grade, with their telephone."""
    from certification import rules
    from certification.exceptions import NotEligible
    from certification.models import SchemeVersion
    from certification.selectors import planning_bureau

    version = SchemeVersion.objects.filter(scheme__code=scheme, is_current=True).first()
    if version is None:
        return {}
    spec = version.specification()
    today = rules.local_date(timezone.now(), scheme=spec)
    opens, closes = rules.declaration_window(today.year, scheme=spec)
    state = {"window_opens": opens, "window_closes": closes, "window_open": opens <= today <= closes}
    if not state["window_open"] and not has_inclusion:
        asks = []
        for institution in institutions.select_related("region")[:5]:
            for grade in version.grades.order_by("rank"):
                try:  # the grades this institution may declare for, each with the bureau that plans it
                    bureau = planning_bureau(institution, grade=grade.code, kind="promotion", version=version)
                except NotEligible:
                    continue
                asks.append((institution, grade.name, bureau, grade.code))
        state["ask_bureaus"] = asks
    return state


class DeclareView(LoginRequiredMixin, TemplateView):
    """An institution declares for a grade (promotion) or for the recheck of the grade it holds."""

    template_name = "workflows/declare.html"

    def institutions(self):
        from certification.models import Institution
        from certification.permissions import objects_for

        return objects_for(self.request.user, ACT_FOR_INSTITUTION, Institution.objects.all())

    def schemes(self) -> list:
        """The schemes the user's institutions may declare under (each institution's bureau's)."""
        from certification.selectors import schemes_open_to_any

        if getattr(self, "_schemes", None) is None:  # asked by the form, the chosen scheme and the page: read once
            self._schemes = schemes_open_to_any(list(self.institutions()))
        return self._schemes

    def form(self, data=None, files=None):
        from .forms import DeclarationForm

        schemes = self.schemes()
        return DeclarationForm(data, files, institutions=self.institutions(), scheme=self.chosen_scheme(data),
                               schemes=schemes)

    def chosen_scheme(self, data=None) -> str:
        """The scheme asked for (posted, or in the address), if the user may declare under it; else the first
        of those it may declare under (by code), or, where it may declare under none, the first loaded."""
        from certification.models import Scheme

        codes = [v.scheme.code for v in self.schemes()]
        chosen = (data or {}).get("scheme") or self.request.GET.get("scheme")
        if chosen not in codes:
            chosen = codes[0] if codes else Scheme.objects.order_by("code").values_list("code", flat=True).first()
        return chosen

    # --- Files kept across a refusal ---------------------------------------------------------------------
    # A browser never sends a file twice: a declaration refused (a missing answer, the window closed) would lose
    # every file chosen. Each one posted is kept aside in the storage under a token signed for this user, and
    # the page posts the token back with the form, so the file counts as uploaded again unless another is chosen.
    HELD_SALT = "workflows.declare.held"
    HELD_MAX_AGE = 24 * 60 * 60

    def hold_uploads(self, form) -> None:
        import os
        import uuid

        from django.core import signing
        from django.core.files.storage import default_storage

        held = {}
        for name in form.fields:
            if not name.startswith("evidence_"):
                continue
            upload = self.request.FILES.get(name)
            if upload is not None:
                upload.seek(0)
                stored = default_storage.save(f"held/{self.request.user.pk}/{uuid.uuid4().hex}/"
                                              f"{os.path.basename(upload.name)}", upload)
                held[name] = (signing.dumps({"u": self.request.user.pk, "n": stored}, salt=self.HELD_SALT),
                              os.path.basename(upload.name))
            elif name in self.held_files:
                held[name] = self.held_files[name]
        form.held = held

    def held_uploads(self):
        """The files kept from the refused post, by field: a token posted back opens its file (or nothing, if
        the token is not this user's or too old)."""
        import os

        from django.core import signing
        from django.core.files import File
        from django.core.files.storage import default_storage

        files, self.held_files = {}, {}
        for key, token in self.request.POST.items():
            if not key.startswith("held_evidence_"):
                continue
            try:
                value = signing.loads(token, salt=self.HELD_SALT, max_age=self.HELD_MAX_AGE)
            except signing.BadSignature:
                continue
            if value.get("u") != self.request.user.pk or not default_storage.exists(value.get("n", "")):
                continue
            name = key.removeprefix("held_")
            self.held_files[name] = (token, os.path.basename(value["n"]))
            files[name] = File(default_storage.open(value["n"], "rb"), name=os.path.basename(value["n"]))
        return files

    def get_context_data(self, **kwargs):
        from certification.models import LateInclusion, LateInclusionRequest

        from .forms import LateRequestForm

        context = super().get_context_data(**kwargs)
        context["late_inclusions"] = (LateInclusion.objects.active()
                                      .filter(institution__in=self.institutions(), case__isnull=True,
                                              declare_by__gte=timezone.localdate())
                                      .select_related("institution", "bureau").order_by("declare_by"))
        context.update(self.window_state(
            self.chosen_scheme(self.request.POST if self.request.method == "POST" else None),
            has_inclusion=bool(context["late_inclusions"])))
        context["late_requests"] = (LateInclusionRequest.objects.active()
                                    .filter(institution__in=self.institutions(), year=timezone.localdate().year)
                                    .exclude(status=LateInclusionRequest.Status.GRANTED)
                                    .select_related("institution", "bureau", "grade").order_by("-requested_at"))
        if context.get("ask_bureaus"):
            context["late_form"] = kwargs.get("late_form") or LateRequestForm(asks=context["ask_bureaus"])
        return context

    held_files: dict = {}

    def get(self, request, *args, **kwargs):
        if not self.institutions().exists():
            raise Http404
        return self.render_to_response(self.get_context_data(form=self.form()))

    def post(self, request, *args, **kwargs):
        from certification.exceptions import RuleViolation

        from .task_views import refusal_text

        if not self.institutions().exists():
            raise Http404
        if "late-ask" in request.POST:
            return self.ask_late(request)
        files = request.FILES.copy()
        for name, kept in self.held_uploads().items():
            if name not in files:  # a file chosen anew replaces the one kept
                files[name] = kept
        form = self.form(request.POST, files)
        if form.is_valid():
            data = form.cleaned_data
            try:
                case = actions.case_declare(actor=request.user, institution=data["institution"],
                                            grade=data["grade"], kind=data["kind"], answers=form.answers(),
                                            evidence=form.evidence(), gates=form.gates(), scheme=data["scheme"])
            except RuleViolation as exc:
                for text in refusal_text(exc):
                    form.add_error(None, text)
            else:
                messages.success(request, _("Declared. The reference of the case is %(ref)s.") % {
                    "ref": case.reference})
                return redirect("case_detail", pk=case.pk)
        self.hold_uploads(form)
        return self.render_to_response(self.get_context_data(form=form), status=200)

    def window_state(self, scheme: str, *, has_inclusion: bool) -> dict:
        """:func:`declaration_window_state`, read once per request."""
        key = (scheme, has_inclusion)
        cache = self.__dict__.setdefault("_window_states", {})
        if key not in cache:
            cache[key] = declaration_window_state(self.institutions(), scheme=scheme, has_inclusion=has_inclusion)
        return cache[key]

    def ask_late(self, request):
        """The applicant asks the bureau to include its late declaration (the window is closed); the error of a
        refused request stands beside its field, and what was typed stays."""
        from certification.exceptions import RuleViolation
        from certification.services.late_inclusions import late_inclusion_ask

        from .forms import LateRequestForm
        from .task_views import refusal_text

        state = self.window_state(self.chosen_scheme(request.POST), has_inclusion=False)
        late_form = LateRequestForm(request.POST, asks=state.get("ask_bureaus", ()))
        if late_form.is_valid():
            institution, grade = late_form.chosen()
            try:
                asked = late_inclusion_ask(actor=request.user, institution=institution, grade=grade,
                                           reason=late_form.cleaned_data["reason"],
                                           scheme=self.chosen_scheme(request.POST))
            except RuleViolation as exc:
                for text in refusal_text(exc):
                    late_form.add_error(None, text)
            else:
                messages.success(request, _("Your request is sent to %(bureau)s; you will be told its answer.")
                                 % {"bureau": asked.bureau.name})
                return redirect("declare")
        return self.render_to_response(self.get_context_data(form=self.form(), late_form=late_form), status=400)


@login_required
def case_end(request, pk: int, how: str):
    """The applicant withdraws its case, or the bureau cancels it, with a reason; the process is cancelled."""
    from certification.exceptions import RuleViolation
    from certification.permissions import can

    from .forms import ReasonForm
    from .task_views import refusal_text

    case = case_get_for_user_or_404(request.user, pk)
    action = {"withdraw": actions.case_withdraw, "cancel": actions.case_cancel}.get(how)
    # the applicant withdraws, the assessing bureau's staff cancel; to anyone else the page does not exist
    allowed = (can(request.user, ACT_FOR_INSTITUTION, case.institution) if how == "withdraw"
               else can(request.user, WORK_IN_BUREAU, case.bureau))
    if action is None or not allowed:
        raise Http404
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            action(actor=request.user, case=case, reason=form.cleaned_data["reason"])
        except RuleViolation as exc:
            for text in refusal_text(exc):
                form.add_error(None, text)
        else:
            messages.success(request, _("The case is closed."))
            return redirect("case_detail", pk=case.pk)
    return render(request, "workflows/case_end.html", {"case": case, "form": form, "how": how})


# --- Public notices (the bureau's side) ----------------------------------------------------------------------
@login_required
def notice_publish(request):
    """The bureau publishes one public notice listing many cases."""
    from certification.exceptions import RuleViolation

    from .forms import NoticeForm
    from .task_views import refusal_text

    candidates = notice_candidates(request.user)
    bureaus = {c.bureau for c in candidates}
    if not bureaus and request.method == "POST":
        raise Http404
    form = NoticeForm(request.POST or None, cases=candidates)
    if request.method == "POST" and form.is_valid():
        chosen = list(form.cleaned_data["cases"])
        if len({c.bureau_id for c in chosen}) != 1:
            form.add_error("cases", _("One notice lists the cases of one bureau."))
        else:
            try:
                notice = actions.notice_publish(actor=request.user, bureau=chosen[0].bureau, cases=chosen,
                                                title=form.cleaned_data["title"])
            except RuleViolation as exc:
                for text in refusal_text(exc):
                    form.add_error(None, text)
            else:
                messages.success(request, _("Published; the notice closes at %(at)s.") % {
                    "at": deadline_text(notice.closes_at)})
                return redirect("inbox")
    from certification.models import Bureau, Notice
    from certification.permissions import objects_for

    open_notices = Notice.objects.filter(
        bureau__in=objects_for(request.user, WORK_IN_BUREAU, Bureau.objects.all()),
        closed_at__isnull=True).order_by("closes_at")
    return render(request, "workflows/notice_publish.html", {"form": form, "candidates": candidates,
                                                              "open_notices": open_notices})


@login_required
def notice_extend(request, pk: int):
    """The bureau extends an open notice, with a reason (never shortens it). Each case's timer waits for the
    new closing time. Another bureau's notice answers 404."""
    from certification.exceptions import RuleViolation
    from certification.models import Bureau, Notice
    from certification.permissions import objects_for
    from certification.services.notices import notice_extend as extend

    from .forms import NoticeExtendForm
    from .task_views import refusal_text

    bureaus = objects_for(request.user, WORK_IN_BUREAU, Bureau.objects.all())
    notice = Notice.objects.filter(pk=pk, bureau__in=bureaus).first()
    if notice is None:
        raise Http404
    form = NoticeExtendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            extend(actor=request.user, notice=notice, closes_at=form.cleaned_data["closes_at"],
                   reason=form.cleaned_data["reason"])
        except RuleViolation as exc:
            for text in refusal_text(exc):
                form.add_error(None, text)
        else:
            messages.success(request, _("Extended; the notice closes at %(at)s.") % {
                "at": timezone.localtime(form.cleaned_data["closes_at"]).strftime("%Y-%m-%d %H:%M")})
            return redirect("notice_publish")
    return render(request, "workflows/notice_extend.html", {"notice": notice, "form": form})


# --- Late declarations (DESIGN §3.6) ---------------------------------------------------------------------------
@login_required
def late_inclusions(request):
    """The bureau includes late declarations in its plan by hand, with a reason, and withdraws one not yet
    used. Only the staff of a bureau see the page (404 otherwise); the service holds every rule."""
    from certification.exceptions import RuleViolation
    from certification.models import LateInclusionRequest
    from certification.services.late_inclusions import (
        default_declare_by,
        institutions_of,
        late_inclusion_grant,
        late_inclusion_refuse,
        late_inclusion_withdraw,
        late_inclusions_for_user,
        late_requests_for_user,
    )

    from .forms import LateInclusionForm, LateRequestAnswerForm, ReasonForm
    from .task_views import refusal_text

    bureaus = objects_for(request.user, WORK_IN_BUREAU, Bureau.objects.all()).order_by("pk")
    if not bureaus.exists():
        raise Http404
    form = LateInclusionForm(request.POST if "grant" in request.POST else None, bureaus=bureaus,
                             institutions=institutions_of(*bureaus),
                             initial={"declare_by": default_declare_by(timezone.localdate())})
    withdraw = ReasonForm(request.POST if "withdraw" in request.POST else None)
    inclusions = late_inclusions_for_user(request.user)
    asked = late_requests_for_user(request.user)
    # one form per open request: include it (the last day and the bureau's reason) or refuse it (a reason)
    answering = request.POST.get("request", "") if request.method == "POST" else ""
    open_requests = []
    for row in asked.filter(status=LateInclusionRequest.Status.OPEN)[:200]:
        posted = request.POST if str(row.pk) == answering else None
        open_requests.append((row, LateRequestAnswerForm(
            posted, prefix=f"r{row.pk}", grant="grant_request" in request.POST,
            initial={"declare_by": default_declare_by(timezone.localdate())})))
    status = 200
    if request.method == "POST" and answering:
        found = next(((row, f) for row, f in open_requests if str(row.pk) == answering), None)
        if found is None:
            raise Http404  # not a request to this user's bureaus, or no longer open
        row, answer = found
        status = 400
        if answer.is_valid():
            try:
                if "grant_request" in request.POST:
                    inclusion = late_inclusion_grant(
                        actor=request.user, bureau=row.bureau, institution=row.institution,
                        reason=answer.cleaned_data["reason"], declare_by=answer.cleaned_data["declare_by"],
                        scheme=row.scheme.code)
                    messages.success(request, _("%(institution)s may declare until %(day)s.") % {
                        "institution": inclusion.institution, "day": inclusion.declare_by.isoformat()})
                else:
                    late_inclusion_refuse(actor=request.user, request=row, reason=answer.cleaned_data["reason"])
                    messages.success(request, _("The request is refused; the applicant is told why."))
                return redirect("late_inclusions")
            except RuleViolation as exc:
                for text in refusal_text(exc):
                    answer.add_error(None, text)
    elif request.method == "POST":
        status = 400
        try:
            if "grant" in request.POST and form.is_valid():
                data = form.cleaned_data
                inclusion = late_inclusion_grant(actor=request.user, bureau=data["bureau"],
                                                 institution=data["institution"], reason=data["reason"],
                                                 declare_by=data["declare_by"], scheme=data["scheme"].code)
                messages.success(request, _("%(institution)s may declare until %(day)s.") % {
                    "institution": inclusion.institution, "day": inclusion.declare_by.isoformat()})
                return redirect("late_inclusions")
            if "withdraw" in request.POST and withdraw.is_valid():
                chosen = request.POST.get("inclusion", "")
                found = inclusions.filter(pk=int(chosen)).first() if chosen.isdigit() else None
                if found is None:
                    raise Http404
                late_inclusion_withdraw(actor=request.user, inclusion=found, reason=withdraw.cleaned_data["reason"])
                messages.success(request, _("The inclusion is withdrawn."))
                return redirect("late_inclusions")
        except RuleViolation as exc:
            target = form if "grant" in request.POST else withdraw
            for text in refusal_text(exc):
                target.add_error(None, text)
    return render(request, "workflows/late_inclusions.html", {
        "form": form, "withdraw": withdraw, "inclusions": inclusions[:200], "open_requests": open_requests,
        "answered_requests": asked.exclude(status=LateInclusionRequest.Status.OPEN)[:50]}, status=status)


# --- Viewflow's chart of the process -------------------------------------------------------------------------
@login_required
def flow_chart(request, pk: int | None = None):
    """The process graph, drawn by Viewflow; with a case, its process's current state is marked."""
    from viewflow.workflow.flow.views import FlowChartView

    from .engine import process_for
    from .flows import CaseFlow

    kwargs = {}
    if pk is not None:
        process = process_for(case_get_for_user_or_404(request.user, pk))
        if process is None:
            raise Http404
        kwargs["process_pk"] = process.pk
    return FlowChartView.as_view(flow_class=CaseFlow)(request, **kwargs)


@login_required
@require_GET
def chart_page(request, pk: int | None = None):
    """The process chart within the site's layout, with the way back: the case's (its current state marked)
    or the process's own."""
    case = None
    if pk is not None:
        from .engine import process_for

        case = case_get_for_user_or_404(request.user, pk)
        if process_for(case) is None:
            raise Http404
    return render(request, "workflows/chart.html", {"case": case})


@login_required
def change_chair(request, pk: int):
    """The bureau names another member of the panel as chair, with a reason; the chair's tasks follow."""
    from django import forms as dj_forms

    from certification.exceptions import RuleViolation
    from certification.models import Expert, PanelMember
    from certification.permissions import can

    from .forms import REASON
    from .task_views import refusal_text

    case = case_get_for_user_or_404(request.user, pk)
    if not (can(request.user, WORK_IN_BUREAU, case.bureau) and hasattr(case, "panel")):
        raise Http404

    class ChairForm(dj_forms.Form):
        chair = dj_forms.ModelChoiceField(label=_("New chair"), queryset=Expert.objects.filter(
            pk__in=PanelMember.objects.filter(panel__case=case, is_chair=False).values("expert_id")))
        reason = REASON

    form = ChairForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = actions.panel_change_chair(actor=request.user, case=case, chair=form.cleaned_data["chair"],
                                                reason=form.cleaned_data["reason"])
        except RuleViolation as exc:
            for text in refusal_text(exc):
                form.add_error(None, text)
        else:
            messages.success(request, _("%(expert)s now chairs the panel.") % {"expert": member.expert})
            return redirect("case_detail", pk=case.pk)
    return render(request, "workflows/case_end.html", {"case": case, "form": form, "how": "chair",
                                                        "title": _("Name another chair")})


# --- The recusal declaration and the replacement of a member ------------------------------------------------
@login_required
def recusal(request, pk: int):
    """A panel member's recusal declaration (回避声明) for the case: the declaration's text and the applicant,
    nothing else of the case; the member signs it, or declares a conflict of interest with a reason. Only a
    member whose declaration is still to be made reaches it (anyone else: 404)."""
    from django import forms as dj_forms

    from certification.exceptions import RuleViolation

    from .forms import REASON
    from .task_views import refusal_text

    seat = panel_seat_awaiting_declaration(request.user, pk)
    if seat is None:
        raise Http404
    case = seat.panel.case

    class ConflictForm(dj_forms.Form):
        reason = REASON

    conflict_form = ConflictForm(request.POST if request.POST.get("action") == "conflict" else None,
                                 prefix="conflict")
    errors = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "sign":
                actions.panel_sign_recusal(actor=request.user, member=seat)
                messages.success(request, _("Recusal declaration signed."))
                return redirect("case_detail", pk=case.pk)
            if request.POST.get("action") == "conflict" and conflict_form.is_valid():
                actions.panel_declare_conflict(actor=request.user, member=seat,
                                               reason=conflict_form.cleaned_data["reason"])
                messages.success(request, _("Your conflict of interest is recorded: the bureau names another "
                                            "member in your place."))
                return redirect("inbox")
        except RuleViolation as exc:
            errors = refusal_text(exc)
    years = case.scheme_version.specification().panel.conflict_employment_years
    return render(request, "workflows/recusal.html", {
        "case": case, "seat": seat, "conflict_form": conflict_form, "errors": errors, "years": years,
        "title": _("Recusal declaration")})


@login_required
def replace_member(request, pk: int):
    """The bureau names the replacement of a member who declared a conflict of interest."""
    from django import forms as dj_forms

    from certification.exceptions import RuleViolation
    from certification.models import Expert, PanelMember
    from certification.permissions import can
    from certification.services.panels import panel_candidates_for

    from .task_views import refusal_text

    case = case_get_for_user_or_404(request.user, pk)
    if not (can(request.user, WORK_IN_BUREAU, case.bureau) and hasattr(case, "panel")):
        raise Http404
    recused = PanelMember.objects.filter(Q(conflict_declared_at__isnull=False) | Q(expert__user__isnull=True),
                                         panel__case=case, replaced_by__isnull=True).select_related("expert")

    class ReplaceForm(dj_forms.Form):
        member = dj_forms.ModelChoiceField(label=_("Member to replace"), queryset=recused, empty_label=None)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fields["member"].label_from_instance = lambda m: (
                _("%(expert)s (declared a conflict of interest)") if m.conflict_declared_at
                else _("%(expert)s (has no account to sign in with)")) % {"expert": m.expert.name}
        expert = dj_forms.ModelChoiceField(label=_("Replacement"), queryset=Expert.objects.filter(
            pk__in=[c.expert_id for c in panel_candidates_for(case)]).exclude(
            pk__in=PanelMember.objects.filter(panel__case=case).values("expert_id")).order_by("pool", "name"))

    form = ReplaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.panel_replace_member(actor=request.user, case=case, member=form.cleaned_data["member"],
                                               expert=form.cleaned_data["expert"])
        except RuleViolation as exc:
            for text in refusal_text(exc):
                form.add_error(None, text)
        else:
            messages.success(request, _("%(expert)s now sits on the panel.") % {"expert": new.expert})
            return redirect("case_detail", pk=case.pk)
    return render(request, "workflows/case_end.html", {"case": case, "form": form, "how": "replace",
                                                        "title": _("Replace a member of the panel")})


@login_required
def designate_prechecker(request, pk: int):
    """The pre-checking bureau designates the case's pre-checker again, where the case has none while its
    pre-check is still to be done (it passed up from a suspended bureau, whose pre-checker it lost): the open
    pre-check task goes to the one designated. Audited."""
    from certification.exceptions import RuleViolation
    from certification.models import Outcome, Stage
    from certification.permissions import can
    from certification.selectors import prechecker_candidates

    from .forms import PrecheckerForm
    from .task_views import refusal_text

    case = case_get_for_user_or_404(request.user, pk)
    bureau = case.prechecking_bureau
    if not (case.outcome == Outcome.OPEN and case.stage in (Stage.PRECHECK, Stage.RECTIFICATION)
            and can(request.user, WORK_IN_BUREAU, bureau)):
        raise Http404
    form = PrecheckerForm(request.POST or None, candidates=prechecker_candidates(bureau))
    if request.method == "POST" and form.is_valid():
        try:
            actions.case_designate_prechecker(actor=request.user, case=case,
                                              prechecker=form.cleaned_data["prechecker"])
        except RuleViolation as exc:
            for text in refusal_text(exc):
                form.add_error(None, text)
        else:
            messages.success(request, _("The pre-check of this case is now theirs to do."))
            return redirect("case_detail", pk=case.pk)
    return render(request, "workflows/case_end.html", {"case": case, "form": form, "how": "prechecker",
                                                        "title": _("Designate the pre-checker")})


@login_required
def reassign_member(request, pk: int):
    """The bureau gives a seat's open tasks to the account its expert signs in with now (an account linked after
    the panel was formed): the member's scoring task, and the chair's tasks for the chair. Audited."""
    from django import forms as dj_forms

    from certification.exceptions import RuleViolation
    from certification.models import PanelMember
    from certification.permissions import can

    from .task_views import refusal_text

    case = case_get_for_user_or_404(request.user, pk)
    if not (can(request.user, WORK_IN_BUREAU, case.bureau) and hasattr(case, "panel")):
        raise Http404
    seats = PanelMember.objects.active().filter(panel__case=case, expert__user__isnull=False).select_related(
        "expert__user").order_by("pk")

    class ReassignForm(dj_forms.Form):
        member = dj_forms.ModelChoiceField(label=_("Member"), queryset=seats, empty_label=None)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fields["member"].label_from_instance = lambda m: f"{m.expert.name}（{m.expert.user}）"

    form = ReassignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            seat = actions.panel_member_reassign(actor=request.user, case=case, member=form.cleaned_data["member"])
        except RuleViolation as exc:
            for text in refusal_text(exc):
                form.add_error(None, text)
        else:
            messages.success(request, _("The tasks of %(expert)s are now theirs to do.") % {"expert": seat.expert})
            return redirect("case_detail", pk=case.pk)
    return render(request, "workflows/case_end.html", {"case": case, "form": form, "how": "reassign",
                                                        "title": _("Give a member's tasks to their account")})
