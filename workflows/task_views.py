"""The views of the process's human tasks. Each collects a form, calls one ``certification`` service and, when
the service has moved the case, completes the task so that the flow goes on. A refusal is shown on the form
in the user's language and changes nothing.

They run inside ``workflows.views.task`` — which finds the task among the case's and checks that the user may work
on it — with ``request.activation`` set. A POST goes through ``workflows.actions.task_act``, which holds the
process's row lock and one transaction around the form, the service and the task's completion.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from certification import rules, scoring
from certification.exceptions import RuleViolation
from certification.models import (
    Case,
    Expert,
    Grade,
    Objection,
    OnsiteStep,
    PanelMember,
    Precheck,
    ScoreSheet,
    SheetKind,
)
from certification.selectors import case_evidence, precheck_delegate, prechecker_candidates
from certification.services import assignments as assignment_services
from certification.services import cases as case_services
from certification.services import notices as notice_services
from certification.services import panels as panel_services
from certification.services import review as review_services
from certification.services import sheets as sheet_services

from . import forms


def refusal_text(exc: RuleViolation) -> list[str]:
    return [f"{r.rule}：{r}" if r.rule else str(r) for r in exc.refusals]


def add_refusals(form, exc: RuleViolation) -> None:
    """A service's refusals on the form: beside the field a refusal names (``params["field"]``) where the form
    has it, otherwise above the form. The text is the refusal's own, as the API gives it."""
    for refusal in exc.refusals:
        field = refusal.params.get("field")
        if field and field in form.fields:
            form.add_error(field, str(refusal))
        else:
            form.add_error(None, f"{refusal.rule}：{refusal}" if refusal.rule else str(refusal))


def clamp_text(clamp: dict) -> str:
    """A bound the scoring applied to an item (``ScoreLine.clamps``), in the reader's language."""
    labels = {"sub_criterion": _("a sub-criterion loses at most its %(limit)s points"),
              "deduction_cap": _("deductions capped at %(limit)s points"),
              "bonus_cap": _("extra points capped at %(limit)s"),
              "ceiling": _("capped at %(limit)s points"), "floor": _("not below %(limit)s points")}
    label = labels.get(clamp.get("kind"), _("bounded at %(limit)s points"))
    return label % {"limit": clamp.get("limit", "")}


class TaskView(TemplateView):
    """A task's page: the case, what the task asks, and one form per action."""

    def title(self) -> str:
        return str(self.task.flow_task.task_title)

    template_name = "workflows/task.html"
    part_template = ""  # what the task shows above its forms
    actions: tuple[str, ...] = ()
    action_labels: dict[str, str] = {}

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.activation = request.activation
        self.task = self.activation.task
        # Acting, the case read under the process's lock (workflows.actions.task_act); showing, read here.
        self.case = getattr(request, "case", None) or Case.objects.select_related(
            "institution", "grade", "bureau", "scheme_version").get(pk=self.task.process.artifact_object_id)

    # --- forms -------------------------------------------------------------------------------------------
    def form_class(self, action):
        return forms.ConfirmForm

    def form_kwargs(self, action) -> dict:
        return {}

    def make_form(self, action, bound=False):
        kwargs = self.form_kwargs(action)
        if bound:
            kwargs.update(data=self.request.POST, files=self.request.FILES)
        return self.form_class(action)(prefix=action, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        bound = kwargs.pop("bound", {})
        context.update(case=self.case, task=self.task, title=self.title(), part_template=self.part_template,
                       forms=[(action, self.action_label(action), bound.get(action) or self.make_form(action))
                              for action in self.visible_actions()])
        texts = {p.code: p.text for p in self.case.scheme_version.specification().prerequisites}
        context["conditions"] = [(texts.get(row.code, row.code), row) for row in self.case.prerequisites.order_by("pk")]
        context["evidence"] = case_evidence(self.request.user, self.case)  # every upload, on every task's page
        context["latest_report"] = next((f for r in reversed(context["evidence"]) for f in r.files
                                         if f.kind == "report"), None)
        context.update(self.extra_context_data())
        return context

    def visible_actions(self):
        return self.actions

    def action_label(self, action) -> str:
        return str(self.action_labels.get(action, _("Submit")))

    def extra_context_data(self) -> dict:
        return {}

    # --- posting -----------------------------------------------------------------------------------------
    def perform(self, action):
        """Validate the posted form of ``action`` and call its service: (form, done, refusal). ``done`` tells
        whether the task was completed; ``refusal`` is the service's RuleViolation, if it refused. Used by the
        page and by the API alike, so both validate the same way."""
        form = self.make_form(action, bound=True)
        if not form.is_valid():
            return form, False, None
        try:
            done = getattr(self, f"do_{action}")(form)
        except RuleViolation as exc:
            add_refusals(form, exc)
            return form, False, exc
        if done:
            self.complete()
        return form, bool(done), None

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "")
        if action not in self.actions:
            return HttpResponseBadRequest(_("Unknown action."))
        outcome = self.act(action)
        if outcome.closed:
            from .views import _closed_task_response

            return _closed_task_response(request, self.case, self.task, outcome.closed)
        if outcome.ok:
            if outcome.done:
                messages.success(request, _("Done: %(task)s.") % {"task": self.title()})
                return HttpResponseRedirect(reverse("case_detail", args=[self.case.pk]))
            messages.success(request, _("Saved."))
            return HttpResponseRedirect(request.path)
        return self.render_to_response(self.get_context_data(bound={action: outcome.form}))

    def act(self, action):
        """The posted action, through the one write path the API also takes (``workflows.actions.task_act``)."""
        from . import actions

        return actions.task_act(user=self.request.user, case=self.case, task=self.task, action=action,
                        data=self.request.POST, files=self.request.FILES)

    def complete(self):
        """The service has moved the case: finish this task and let the flow go on."""
        activation = self.activation
        if self.task.owner_id is None:
            activation.assign(self.request.user)
        activation.start(self.request)
        activation.execute()


# --- 1–2 Forward and plan -----------------------------------------------------------------------------------
class ForwardView(TaskView):
    part_template = "workflows/parts/declaration.html"
    actions = ("forward",)

    @property
    def action_labels(self):
        return {"forward": _("Forward to the assessing bureau")}

    def do_forward(self, form):
        case_services.case_forward(actor=self.request.user, case=self.case)
        return True


class PlanView(TaskView):
    part_template = "workflows/parts/declaration.html"
    actions = ("plan",)

    def form_class(self, action):
        return forms.PlanForm

    def do_plan(self, form):
        if form.cleaned_data["decision"] == "include":
            case_services.case_plan_include(actor=self.request.user, case=self.case)
        else:
            case_services.case_plan_return(actor=self.request.user, case=self.case,
                                           reason=form.cleaned_data["reason"])
        return True


# --- 3 Self-check and acceptance request (and each rectification round) --------------------------------------
class SheetTaskView(TaskView):
    """A task around a score sheet: one small form per rubric item (the posted one names its item)."""

    def items(self):
        spec = self.case.scheme_version.specification()
        return [item for _category, item in spec.rubric_for(self.case.grade.code).items()]

    def item(self, code):
        return next((i for i in self.items() if i.code == code), None)

    def form_class(self, action):
        return {"item": forms.ItemForm, "report": forms.ReportForm, "integrity": forms.IntegrityForm}.get(
            action, forms.ConfirmForm)

    def make_form(self, action, bound=False):
        if action == "item":
            code = self.request.POST.get("item", "")
            item = self.item(code)
            if item is None:
                raise Http404
            return forms.ItemForm(data=self.request.POST if bound else None, prefix=f"item-{code}", item=item)
        return super().make_form(action, bound)

    def shown_items(self):
        """The items this page lists (all of the rubric's, or a member's share)."""
        return self.items()

    def totals(self, sheet) -> dict:
        """Where the sheet stands, over the items this page lists: how many are scored, their points against
        their maximum, and the points of those still to score (nothing counts before it is scored)."""
        lines = {line.item_code: line for line in sheet.lines.all()}
        shown = self.shown_items()
        scored = [i for i in shown if i.code in lines]
        return {"scored": len(scored), "count": len(shown),
                "points": sum((lines[i.code].points for i in scored), Decimal(0)),
                "of": sum((i.max_points for i in scored), Decimal(0)),
                "left": sum((i.max_points for i in shown if i.code not in lines), Decimal(0))}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["totals"] = self.totals(self.sheet())
        return context

    def post(self, request, *args, **kwargs):
        if request.POST.get("action") == "item" and self.item(request.POST.get("item", "")) is None:
            return HttpResponseBadRequest(_("There is no such item in this rubric."))
        response = super().post(request, *args, **kwargs)
        if request.POST.get("action") == "item" and response.status_code == 302:
            # back at the item just saved, not at the top of an 18-item page
            if request.headers.get("X-Sheet-Item"):  # static/workflows/sheet.js: the page, to take the row from
                return self.render_to_response(self.get_context_data())
            return HttpResponseRedirect(f"{response.url}#item-{request.POST.get('item', '')}")
        return response

    def rows(self, sheet, bound):
        lines = {line.item_code: line for line in sheet.lines.all()}
        bound_item = bound.get("item")
        rows = []
        shown = self.shown_items()
        if bound_item is not None and bound_item.item not in shown:
            shown = [bound_item.item, *shown]  # an item posted that is not this page's: its refusal is shown
        for item in shown:
            line = lines.get(item.code)
            if bound_item is not None and bound_item.item.code == item.code:
                form = bound_item
            else:
                form = forms.ItemForm(prefix=f"item-{item.code}", item=item,
                                      initial=forms.ItemForm.initial_from(line.entry) if line else None)
            rows.append({"item": item, "line": line, "form": form,
                         "clamps": [clamp_text(c) for c in (line.clamps if line else ())]})
        return rows

    def do_item(self, form):
        sheet_services.sheet_record(actor=self.request.user, sheet=self.sheet(), item_code=form.item.code,
                                    entry=form.entry())
        return False


class SelfCheckView(SheetTaskView):
    """The applicant's self-check sheet item by item, the narrative report, the integrity notice, then submit."""

    part_template = "workflows/parts/self_check.html"
    actions = ("item", "report", "integrity", "submit")

    @property
    def action_labels(self):
        return {"item": _("Save the item"), "report": _("Upload the report"),
                "integrity": _("Acknowledge"), "submit": _("Submit the acceptance request")}

    def sheet(self) -> ScoreSheet:
        latest = self.case.sheets.filter(kind=SheetKind.SELF).order_by("-round").first()
        rounds = self.case.prechecks.count() + 1
        if latest is None or latest.round < rounds:
            return sheet_services.self_check_sheet(actor=self.request.user, case=self.case)
        return latest

    def visible_actions(self):
        return tuple(a for a in self.actions if a != "item")

    def get_context_data(self, **kwargs):
        bound = kwargs.get("bound", {})
        context = super().get_context_data(**kwargs)
        sheet = self.sheet()
        context.update(sheet=sheet, rows=self.rows(sheet, bound), previous=self.case.prechecks.order_by("round"),
                       assessment=sheet_services.sheet_assessment(sheet))
        return context

    def do_report(self, form):
        case_services.case_attach_report(actor=self.request.user, case=self.case, upload=form.cleaned_data["report"])
        return False

    def do_integrity(self, form):
        case_services.case_acknowledge_integrity(actor=self.request.user, case=self.case)
        return False

    def do_submit(self, form):
        sheet = self.sheet()
        if not sheet.locked:
            sheet_services.sheet_submit(actor=self.request.user, sheet=sheet)
        case_services.case_request_acceptance(actor=self.request.user, case=self.case,
                                              explanation=form.cleaned_data.get("explanation", ""))
        return True


class RectifyView(SelfCheckView):
    """A rectification round: the same self-check, a new round, with the pre-check's opinions beside it; the
    request says what was rectified (整改说明)."""

    def form_class(self, action):
        return forms.RectificationSubmitForm if action == "submit" else super().form_class(action)


# --- 3b Designate the pre-checker ----------------------------------------------------------------------------
class DesignateView(TaskView):
    """The pre-checking bureau designates its pre-checker. The assessing bureau may instead delegate the
    pre-check (where the scheme allows it) to the city bureau, whose staff then take this same task."""

    part_template = "workflows/parts/declaration.html"
    actions = ("designate", "delegate")

    @property
    def action_labels(self):
        return {"designate": _("Designate"),
                "delegate": _("Delegate the pre-check to %(bureau)s") % {"bureau": self.delegate() or ""}}

    def form_class(self, action):
        return forms.PrecheckerForm if action == "designate" else forms.ConfirmForm

    def form_kwargs(self, action):
        if action != "designate":
            return {}
        return {"candidates": prechecker_candidates(self.case.prechecking_bureau)}

    def delegate(self):
        """The bureau the pre-check may be delegated to (the scheme's rule), while it is not delegated."""
        if self.case.precheck_bureau_id is not None:
            return None
        level = rules.precheck_delegate_level(self.case.institution.level, self.case.grade.code, self.case.kind,
                                              scheme=self.case.scheme_version.specification())
        return precheck_delegate(self.case.institution, level=level) if level else None

    def visible_actions(self):
        return self.actions if self.delegate() is not None else ("designate",)

    def do_designate(self, form):
        case_services.case_designate_prechecker(actor=self.request.user, case=self.case,
                                                prechecker=form.cleaned_data["prechecker"])
        return True

    def do_delegate(self, form):
        case_services.case_precheck_delegate(actor=self.request.user, case=self.case)
        return False  # the same task now waits for the delegate bureau's staff

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if request.POST.get("action") == "delegate" and response.status_code == 302:
            return HttpResponseRedirect(reverse("case_detail", args=[self.case.pk]))
        return response


# --- 4 Pre-check ---------------------------------------------------------------------------------------------
class PrecheckView(TaskView):
    """The designated pre-checker decides; while the pre-check is delegated, the delegate city's pre-checker
    sends its written result to the assessing bureau instead."""

    part_template = "workflows/parts/precheck.html"
    actions = ("decide", "report")

    @property
    def action_labels(self):
        return {"decide": _("Submit"), "report": _("Send the written result to %(bureau)s")
                % {"bureau": self.case.bureau}}

    def visible_actions(self):
        return ("report",) if self.case.precheck_bureau_id is not None else ("decide",)

    def form_class(self, action):
        return forms.PrecheckReportForm if action == "report" else forms.PrecheckForm

    def form_kwargs(self, action):
        spec = self.case.scheme_version.specification()
        return {"items": [item for _c, item in spec.rubric_for(self.case.grade.code).items()],
                "notice": spec.stages.notice}

    def extra_context_data(self):
        sheet = self.case.sheets.filter(kind=SheetKind.SELF, submitted_at__isnull=False).order_by("-round").first()
        lines = {line.item_code: line for line in sheet.lines.all()} if sheet else {}
        spec = self.case.scheme_version.specification()
        return {"sheet": sheet, "lines": [(item, lines.get(item.code)) for _c, item in
                                          spec.rubric_for(self.case.grade.code).items()],
                "previous": self.case.prechecks.order_by("round")}

    def do_decide(self, form):
        data = form.cleaned_data
        case_services.case_precheck_decide(actor=self.request.user, case=self.case,
                                           passed=data["decision"] == "pass", summary=data["summary"],
                                           opinions=form.opinions(), days=data.get("days"))
        return True

    def do_report(self, form):
        data = form.cleaned_data
        case_services.case_precheck_report(actor=self.request.user, case=self.case,
                                           recommend_pass=data["decision"] == "pass", summary=data["summary"],
                                           opinions=form.opinions(), attachment=data.get("attachment") or None)
        return True


class DelegatedPrecheckView(TaskView):
    """The assessing bureau decides on the written result of the pre-check it delegated."""

    part_template = "workflows/parts/precheck_result.html"
    actions = ("decide",)

    def form_class(self, action):
        return forms.DelegatedPrecheckDecisionForm

    def form_kwargs(self, action):
        return {"notice": self.case.scheme_version.specification().stages.notice}

    def extra_context_data(self):
        return {"written": self.case.prechecks.filter(decision=Precheck.Decision.REPORTED)
                .select_related("prechecker", "delegated_to").first(),
                "previous": self.case.prechecks.order_by("round")}

    def do_decide(self, form):
        data = form.cleaned_data
        case_services.case_precheck_decide_delegated(actor=self.request.user, case=self.case,
                                                     accepted=data["decision"] == "accept", reason=data["reason"],
                                                     days=data.get("days"))
        return True


# --- 5 Objections --------------------------------------------------------------------------------------------
class ResolveObjectionsView(TaskView):
    """Each objection (anonymous ones too, flagged), its verification by two or three experts where the
    bureau recorded one, and, for each pending objection, the forms to record a verification and to resolve."""

    part_template = "workflows/parts/objections.html"
    actions = ("resolve", "verify")

    def form_class(self, action):
        return forms.ObjectionVerifyForm if action == "verify" else forms.ObjectionResolveForm

    def form_kwargs(self, action):
        if action == "verify":
            pools, bureau = [], self.case.bureau
            while bureau is not None:
                pools.append(bureau.pk)
                bureau = bureau.parent
            return {"experts": Expert.objects.filter(pool__in=pools).order_by("name")}
        return {"grades": Grade.objects.filter(version=self.case.scheme_version, rank__lt=self.case.grade.rank)
                .order_by("-rank")}

    def visible_actions(self):
        return ()

    def get_context_data(self, **kwargs):
        self.bound = kwargs.get("bound", {})
        return super().get_context_data(**kwargs)

    def _form(self, action, objection):
        """The posted form of ``action`` for this objection (with its errors), or a new one."""
        bound = self.bound.get(action)
        if bound is not None and str(bound.data.get(f"{action}-objection")) == str(objection.pk):
            return bound
        return self.form_class(action)(prefix=action, initial={"objection": objection.pk},
                                       **self.form_kwargs(action))

    def extra_context_data(self):
        objections = list(self.case.objections.select_related("verification")
                          .prefetch_related("verification__experts").order_by("received_at"))
        pending = [o for o in objections if o.status == Objection.Status.RECEIVED]
        return {"objections": objections,
                "pending": [(o, self._form("resolve", o),
                             None if hasattr(o, "verification") else self._form("verify", o))
                            for o in pending]}

    def do_verify(self, form):
        objection = self.case.objections.filter(pk=form.cleaned_data["objection"]).first()
        if objection is None:
            raise RuleViolation(_refusal(_("There is no such objection to this case.")))
        notice_services.objection_verify(actor=self.request.user, objection=objection,
                                         experts=list(form.cleaned_data["experts"]),
                                         findings=form.cleaned_data["findings"],
                                         verified_on=form.cleaned_data["verified_on"])
        return False

    def do_resolve(self, form):
        objection = self.case.objections.filter(pk=form.cleaned_data["objection"]).first()
        if objection is None:
            raise RuleViolation(_refusal(_("There is no such objection to this case.")))
        notice_services.objection_resolve(actor=self.request.user, objection=objection,
                                          decision=form.cleaned_data["decision"],
                                          reason=form.cleaned_data["reason"],
                                          grade=form.cleaned_data.get("grade") or None,
                                          set_aside_as=form.cleaned_data.get("set_aside_as") or "")
        self.case.refresh_from_db()
        return not self.case.objections.filter(status=Objection.Status.RECEIVED).exists()


def _refusal(message):
    from certification.exceptions import Refusal

    return Refusal(code="form.invalid", rule="", message=message)


# --- 6 Panel -------------------------------------------------------------------------------------------------
class FormPanelView(TaskView):
    part_template = "workflows/parts/panel.html"
    actions = ("form",)

    @property
    def action_labels(self):
        return {"form": _("Form the panel")}

    def form_class(self, action):
        return forms.PanelForm

    def candidates(self):
        return panel_services.panel_candidates_for(self.case)

    def candidate_rows(self) -> dict:
        """Per expert of the pools: (the expert, its pool, its load, its conflicts with this case), read once."""
        if not hasattr(self, "_candidate_rows"):
            facts = panel_services.panel_case_facts(self.case)
            spec = self.case.scheme_version.specification()
            today = rules.local_date(timezone.now(), scheme=spec)
            candidates = {c.expert_id: c for c in self.candidates()}
            experts = Expert.objects.filter(pk__in=list(candidates)).select_related("pool", "employer")
            self._candidate_rows = {e.pk: (e, candidates[e.pk].load, [str(r) for r in rules.expert_conflicts(
                candidates[e.pk], facts, today=today, scheme=spec)]) for e in experts}
        return self._candidate_rows

    def form_kwargs(self, action):
        rows = self.candidate_rows()
        return {"experts": Expert.objects.filter(pk__in=list(rows)).select_related("pool", "employer")
                .order_by("pool__level", "name"),
                "describe": lambda e: forms.expert_label(e, rows[e.pk][1], rows[e.pk][2]),
                "groups": self.case.scheme_version.specification().panel.groups}

    def extra_context_data(self):
        return {"without_account": panel_services.members_without_account(
            [expert for expert, _load, conflicts in self.candidate_rows().values() if not conflicts])}

    def do_form(self, form):
        data = form.cleaned_data
        panel_services.panel_form(actor=self.request.user, case=self.case, members=list(data["members"]) or None,
                                  chair=data.get("chair"), groups=form.member_groups())
        return True


# --- 7 Review ------------------------------------------------------------------------------------------------
class ScoreView(SheetTaskView):
    """A member's own sheet, item by item; others' proposals stay hidden until the member has submitted."""

    part_template = "workflows/parts/score.html"
    actions = ("item", "submit")

    @property
    def action_labels(self):
        return {"item": _("Save the item"), "submit": _("Submit my sheet")}

    def member(self) -> PanelMember:
        # kept on the case, which the page's view shares with the action's (workflows.actions.task_act), so that
        # a refused action re-rendered on the page does not read the membership again
        members = self.case.__dict__.setdefault("_score_members", {})
        pk = self.task.data["member"]
        if pk not in members:
            members[pk] = PanelMember.objects.select_related("expert").get(pk=pk)
        return members[pk]

    def title(self) -> str:
        return str(self.task.flow_task.task_title)

    def sheet(self) -> ScoreSheet:
        return (ScoreSheet.objects.filter(case=self.case, kind=SheetKind.MEMBER, expert=self.member().expert)
                .order_by("-round").first())

    def visible_actions(self):
        return ("submit",)

    def shown_items(self):
        """The member's share of the items (every item while the chair has not split them); another item
        posted is refused by the service, as through the API."""
        mine = set(assignment_services.member_items(self.case, self.member().expert_id))
        return [item for item in self.items() if item.code in mine]

    def get_context_data(self, **kwargs):
        bound = kwargs.get("bound", {})
        context = super().get_context_data(**kwargs)
        sheet = self.sheet()
        shown = self.shown_items()
        context.update(sheet=sheet, rows=self.rows(sheet, bound), assessment=sheet_services.sheet_assessment(sheet),
                       split=assignment_services.assignment_stored(self.case) is not None,
                       assigned_points=sum((i.max_points for i in shown), 0), assigned_count=len(shown),
                       others=[s for s in review_services.member_sheets_visible(self.request.user, self.case)
                               if s.pk != sheet.pk],
                       self_sheet=self.case.sheets.filter(kind=SheetKind.SELF, submitted_at__isnull=False)
                       .order_by("-round").first())
        return context

    def do_submit(self, form):
        sheet_services.sheet_submit(actor=self.request.user, sheet=self.sheet())
        return True


class OnsiteView(TaskView):
    """The chair records the six on-site steps (and, for the special grade, the draw of units to visit)."""

    part_template = "workflows/parts/onsite.html"
    actions = ("assign", "draw", "step", "done")

    @property
    def action_labels(self):
        return {"assign": _("Assign the items"), "draw": _("Draw the subordinate units to visit"),
                "step": _("Record the step"), "done": _("All six steps are recorded")}

    def onsite(self) -> bool:
        return self.case.scheme_version.specification().grade(self.case.grade.code).decision == "onsite"

    def visible_actions(self):
        review = getattr(self.case, "review", None)
        drawn = bool(review and review.units_drawn)
        spec = self.case.scheme_version.specification()
        return tuple(a for a in self.actions if (a != "draw" or (self.onsite() and not drawn))
                     and (a != "assign" or (not self.onsite() and not spec.panel.every_member_scores_every_item)))

    def do_draw(self, form):
        review_services.review_draw_units(actor=self.request.user, case=self.case)
        return False

    def form_class(self, action):
        return {"step": forms.OnsiteStepForm, "assign": forms.AssignForm}.get(action, forms.ConfirmForm)

    def form_kwargs(self, action):
        if action != "assign":
            return {}
        spec = self.case.scheme_version.specification()
        stored = assignment_services.assignment_stored(self.case)
        current = (assignment_services.assignment_current(self.case) if stored
                   else assignment_services.assignment_proposal(self.case))
        members = [(m.expert_id, m.expert.name) for m in PanelMember.objects.filter(panel__case=self.case)
                   .select_related("expert").order_by("pk")]
        return {"members": members, "items": [i for _c, i in spec.rubric_for(self.case.grade.code).items()],
                "current": current}

    def do_assign(self, form):
        assignment_services.assignment_set(actor=self.request.user, case=self.case, items=form.items())
        return False

    def extra_context_data(self):
        from certification.models import Institution

        review = getattr(self.case, "review", None)
        recorded = review.steps if review else {}
        drawn = review.units_drawn if review else {}
        sheets = {s.expert_id: s for s in self.case.sheets.filter(kind=SheetKind.MEMBER)}
        members = [(m, sheets.get(m.expert_id)) for m in PanelMember.objects.filter(panel__case=self.case)
                   .select_related("expert").order_by("pk")]
        spec = self.case.scheme_version.specification()
        points = {i.code: i.max_points for _c, i in spec.rubric_for(self.case.grade.code).items()}
        stored = assignment_services.assignment_stored(self.case)
        split = assignment_services.assignment_current(self.case)
        proposal = assignment_services.assignment_proposal(self.case)
        shares = [(m, split.get(m.expert_id, []), sum((points[c] for c in split.get(m.expert_id, [])), 0),
                   proposal.get(m.expert_id, [])) for m, _sheet in members]
        return {"steps": [(s, recorded.get(s.value)) for s in OnsiteStep], "units_drawn": drawn,
                "units": Institution.objects.filter(pk__in=drawn.get("units", ())).order_by("pk"),
                "members": members, "scoring_due_at": self.case.panel.scoring_due_at,
                "assignment": stored, "shares": shares,
                "every_member_every_item": spec.panel.every_member_scores_every_item}

    def do_step(self, form):
        review_services.review_record_step(actor=self.request.user, case=self.case,
                                           step=form.cleaned_data["step"], note=form.cleaned_data["note"])
        return False

    def do_done(self, form):
        review_services.review_onsite_done(actor=self.request.user, case=self.case)
        return True


class ConcludeView(TaskView):
    """The chair reopens a sheet if needed, consolidates the panel's score and records the conclusion."""

    part_template = "workflows/parts/conclude.html"
    actions = ("reopen", "consolidate", "conclude")

    @property
    def action_labels(self):
        return {"reopen": _("Reopen the sheet"), "consolidate": _("Record the panel's score"),
                "conclude": _("Record the conclusion")}

    def form_class(self, action):
        return {"reopen": forms.ReopenForm, "consolidate": forms.ConsolidateForm,
                "conclude": forms.ConcludeForm}[action]

    def form_kwargs(self, action):
        if action != "consolidate":
            return {}
        spec = self.case.scheme_version.specification()
        return {"rows": [r for r in review_services.consolidation_preview(self.case) if r.prefill is not None],
                "formula": spec.panel.aggregation in ("mean", "trimmed_mean"), **self.findings()}

    def findings(self) -> dict:
        """Per item with a veto and per key sub-criterion: (code, label, the members who recorded it)."""
        rubric = self.case.scheme_version.specification().rubric_for(self.case.grade.code)
        vetoes, keys = review_services.member_findings(self.case)
        return {
            "vetoes": [(i.code, f"{i.code} {i.name}", vetoes.get(i.code, [])) for _c, i in rubric.items()
                       if i.veto is not None],
            "keys": [(f"{i.code}.{sub}", f"{i.code}.{sub} " + next(s.text for s in i.sub_criteria if s.code == sub),
                      keys.get(f"{i.code}.{sub}", [])) for i, sub in scoring.key_sub_criteria(rubric)]}

    def visible_actions(self):
        consolidated = self.case.sheets.filter(kind=SheetKind.PANEL).exists()
        onsite = self.case.scheme_version.specification().grade(self.case.grade.code).decision == "onsite"
        return ("conclude",) if consolidated or onsite else ("consolidate", "conclude")

    def extra_context_data(self):
        spec = self.case.scheme_version.specification()
        rubric = spec.rubric_for(self.case.grade.code)
        panel_sheet = self.case.sheets.filter(kind=SheetKind.PANEL).first()
        review = getattr(self.case, "review", None)
        result = None
        if panel_sheet is not None and spec.grade(self.case.grade.code).decision == "score":
            assessment = scoring.assess_points(
                {line.item_code: line.points for line in panel_sheet.lines.all()}, vetoes=review.vetoes,
                failed_key_subs=review.key_failures, rubric=spec.grade(self.case.grade.code).rubric, scheme=spec)
            grade = assessment.grades[self.case.grade.code]
            result = {"passed": grade.passed,
                      "reasons": [review_services.reason_text(r, rubric) for r in grade.reasons]}
        findings = self.findings()
        return {"rows": review_services.consolidation_preview(self.case),
                "member_sheets": self.case.sheets.filter(kind=SheetKind.MEMBER).select_related("expert"),
                "panel_sheet": panel_sheet, "review": review, "result": result,
                "aggregation": review_services.aggregation_label(spec),
                "veto_findings": [(c, label, f) for c, label, f in findings["vetoes"] if f],
                "key_findings": [(c, label, f) for c, label, f in findings["keys"] if f],
                "reopen_form": forms.ReopenForm(prefix="reopen")}

    def do_reopen(self, form):
        sheet = self.case.sheets.filter(pk=form.cleaned_data["sheet"], kind=SheetKind.MEMBER).first()
        if sheet is None:
            raise RuleViolation(_refusal(_("There is no such sheet in this case.")))
        review_services.sheet_reopen(actor=self.request.user, sheet=sheet, reason=form.cleaned_data["reason"])
        return False

    def do_consolidate(self, form):
        review_services.panel_consolidate(actor=self.request.user, case=self.case, scores=form.scores(),
                                          reasons=form.reasons(), vetoes=form.vetoes(),
                                          veto_reasons=form.veto_reasons(), key_failures=form.key_failures(),
                                          key_reasons=form.key_reasons())
        return False

    def do_conclude(self, form):
        review_services.review_conclude(actor=self.request.user, case=self.case,
                                        conclusion=form.cleaned_data["conclusion"],
                                        votes_for=form.cleaned_data.get("votes_for"))
        return True


# --- 8 Approval ----------------------------------------------------------------------------------------------
class ApproveView(TaskView):
    part_template = "workflows/parts/approve.html"
    actions = ("decide",)

    def form_class(self, action):
        return forms.ApproveForm

    def extra_context_data(self):
        return {"basis": case_services.approval_basis(self.case), "review": getattr(self.case, "review", None),
                "panel_sheet": self.case.sheets.filter(kind=SheetKind.PANEL).first()}

    def do_decide(self, form):
        case_services.case_approve(actor=self.request.user, case=self.case,
                                   approved=form.cleaned_data["decision"] == "approve",
                                   reasons=form.cleaned_data["reasons"])
        return True



class ReopenedSheetView(ScoreView):
    """A member's sheet the chair has reopened, after the member's scoring task is done: the same page, outside
    the flow (the chair's conclusion task waits until every sheet is submitted again)."""

    def setup(self, request, *args, **kwargs):
        TemplateView.setup(self, request, *args, **kwargs)
        from certification.selectors import case_get_for_user_or_404

        self.activation = self.task = None
        self.case = case_get_for_user_or_404(request.user, kwargs["pk"])
        self.membership = PanelMember.objects.filter(panel__case=self.case, expert__user=request.user).first()
        if self.membership is None or self.sheet() is None or self.sheet().locked:
            raise Http404

    def member(self) -> PanelMember:
        return self.membership

    def title(self) -> str:
        return _("My reopened score sheet")

    def act(self, action):
        from .actions import reopened_sheet_act

        return reopened_sheet_act(user=self.request.user, case=self.case, action=action, data=self.request.POST)

    def complete(self):
        """Nothing to complete: the member's task was done before the chair reopened the sheet."""
