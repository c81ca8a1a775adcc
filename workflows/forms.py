"""Forms of the process's tasks. They validate the shape of what a user enters, in the user's language; the
rules themselves are the services'. No form carries a field a role may not set (status, grade, owner)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from certification import scoring
from certification.models import Objection, OnsiteStep

REASON = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class ReasonForm(forms.Form):
    reason = REASON


class ConfirmForm(forms.Form):
    """A button with nothing to fill in (the CSRF token is what is checked)."""


class ReportForm(forms.Form):
    report = forms.FileField(label=_("Narrative report (PDF or Word)"))


class RectificationSubmitForm(forms.Form):
    """The request after a rectification: what was rectified, item by item (整改说明)."""

    explanation = forms.CharField(label=_("Rectification explanation"), max_length=8000,
                                  widget=forms.Textarea(attrs={"rows": 6}),
                                  help_text=_("What was rectified, item by item (from the second round on)."))


class IntegrityForm(forms.Form):
    label_suffix = ""  # the label is a sentence, with its own full stop

    acknowledged = forms.BooleanField(
        label=_("I have read the integrity notice and undertake that everything declared is true."))


class PrecheckerForm(forms.Form):
    prechecker = forms.ModelChoiceField(label=_("Pre-checker"), queryset=None, empty_label=None)

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prechecker"].queryset = candidates
        self.fields["prechecker"].label_from_instance = lambda u: u.get_full_name() or str(u)


def item_label(item) -> str:
    return f"{item.code} {item.name}（{item.max_points}）"


class ItemForm(forms.Form):
    """What was found for one rubric item, with the inputs its rule needs."""

    deduction = forms.DecimalField(label=_("Points deducted"), min_value=Decimal(0), max_digits=6,
                                   decimal_places=2, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=1000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, item, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item
        rule = item.rule
        deduction = self.fields["deduction"]
        deduction.widget.attrs.update(inputmode="decimal", step="0.01")
        if item.max_points > 0:  # at most the item's points (the service refuses more, whoever posts)
            deduction.max_value = item.max_points
            deduction.widget.attrs["max"] = str(item.max_points)
            deduction.validators.append(MaxValueValidator(item.max_points))
        if rule.kind == "sub_criteria":
            self.fields["unmet"] = forms.MultipleChoiceField(
                label=_("Sub-criteria not met"), required=False, widget=forms.CheckboxSelectMultiple,
                choices=[(s.code, f"{s.code}. {s.text}（{s.points}）{' ★' if s.key else ''}")
                         for s in item.sub_criteria])
        elif rule.kind == "per_missing" and rule.elements:
            self.fields["missing"] = forms.MultipleChoiceField(
                label=_("Elements missing"), required=False, widget=forms.CheckboxSelectMultiple,
                choices=[(e, e) for e in rule.elements])
        elif rule.kind == "per_occurrence":
            for occurrence in rule.occurrences:
                self.fields[f"count_{occurrence.code}"] = forms.IntegerField(
                    label=f"{occurrence.text or occurrence.code}（{occurrence.points}）", min_value=0,
                    max_value=1000, required=False)
        elif rule.kind == "capped_award":
            self.fields["units"] = forms.DecimalField(label=_("Units earned"), min_value=0, required=False)
        elif rule.kind == "pro_rata":
            self.fields["achieved"] = forms.DecimalField(label=_("Achieved"), min_value=0, required=False)
        elif rule.kind == "rate_band":
            self.fields["rate"] = forms.DecimalField(label=_("Rate (%)"), min_value=0, max_value=100)
        elif rule.kind == "sample_check":
            self.fields["defective"] = forms.IntegerField(label=_("Defective files in the sample"), min_value=0,
                                                          max_value=rule.sample_size, required=False)
        if item.bonus is not None:
            self.fields["bonus"] = forms.DecimalField(label=_("Extra points claimed"), min_value=0, required=False)
        if item.veto is not None:
            self.fields["veto"] = forms.BooleanField(
                label=_("The veto condition is confirmed"), required=False,
                help_text=item.veto.text)
            self.fields["veto_reason"] = forms.CharField(
                label=_("What confirms the veto"), max_length=1000, required=False,
                widget=forms.Textarea(attrs={"rows": 2}))
    # The rules on what an entry needs (a reason for every point lost, a reason for a veto) are the service's
    # (services.sheets.sheet_entry_refusals): its refusal is shown beside the field it names.

    def entry(self) -> scoring.ItemEntry:
        data, reason = self.cleaned_data, (self.cleaned_data.get("reason") or "").strip()
        deductions = []
        if data.get("deduction"):
            deductions.append(scoring.Deduction(points=data["deduction"], reason=reason))
        deductions += [scoring.Deduction(element=e, reason=reason) for e in data.get("missing") or ()]
        deductions += [scoring.Deduction(occurrence=name.removeprefix("count_"), count=data[name], reason=reason)
                       for name in self.fields if name.startswith("count_") and data.get(name)]
        return scoring.ItemEntry(
            deductions=tuple(deductions), units=data.get("units"), achieved=data.get("achieved"),
            rate=data.get("rate"), defective=data.get("defective"), unmet=frozenset(data.get("unmet") or ()),
            bonus=data.get("bonus") or Decimal(0), veto=bool(data.get("veto")),
            reason=reason if data.get("unmet") else "", veto_reason=(data.get("veto_reason") or "").strip())

    @staticmethod
    def initial_from(entry: dict) -> dict:
        e = scoring.entry_from_dict(entry)
        free = [d for d in e.deductions if d.points is not None and not d.element and not d.occurrence]
        initial = {"deduction": sum((d.points for d in free), Decimal(0)) or None,
                   "reason": e.reason or next((d.reason for d in e.deductions if d.reason), ""),
                   "veto_reason": e.veto_reason,
                   "unmet": sorted(e.unmet), "missing": [d.element for d in e.deductions if d.element],
                   "units": e.units, "achieved": e.achieved, "rate": e.rate, "defective": e.defective,
                   "bonus": e.bonus or None, "veto": e.veto}
        initial.update({f"count_{d.occurrence}": d.count for d in e.deductions if d.occurrence})
        return initial


class _PassChoiceByNotice:
    """A pre-check form whose first choice moves the case on: to the public notice, or, under a scheme without
    one (stages.notice: false), to the review panel, in the words of ``pass_to_panel``."""

    pass_to_panel = ""

    def _pass_goes_to_panel(self, notice: bool) -> None:
        if not notice:
            first, *rest = self.fields["decision"].choices
            self.fields["decision"].choices = [(first[0], self.pass_to_panel), *rest]


class PrecheckForm(_PassChoiceByNotice, forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect, choices=[
        ("pass", _("Pass: on to the public notice")), ("return", _("Return for rectification"))])
    summary = forms.CharField(label=_("Opinion"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
    days = forms.IntegerField(label=_("Days allowed for rectification"), min_value=1, max_value=365,
                              required=False, help_text=_("Leave empty for the scheme's rectification period."))

    pass_to_panel = _("Pass: on to the review panel")

    def __init__(self, *args, items=(), notice=True, **kwargs):
        super().__init__(*args, **kwargs)
        self._pass_goes_to_panel(notice)
        for item in items:
            self.fields[f"opinion_{item.code}"] = forms.CharField(
                label=item_label(item), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 1}))

    def opinions(self) -> dict[str, str]:
        return {name.removeprefix("opinion_"): value.strip() for name, value in self.cleaned_data.items()
                if name.startswith("opinion_") and (value or "").strip()}


class PrecheckReportForm(PrecheckForm):
    """The delegated city's written pre-check result: what it recommends, its opinion and opinions per item,
    and an optional signed copy; the province decides, and sets the rectification period if it returns it."""

    decision = forms.ChoiceField(label=_("Recommendation"), widget=forms.RadioSelect, choices=[
        ("pass", _("Recommend passing: on to the public notice")), ("return", _("Recommend rectification"))])
    pass_to_panel = _("Recommend passing: on to the review panel")
    attachment = forms.FileField(label=_("Signed written result (optional)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["days"]


class DelegatedPrecheckDecisionForm(_PassChoiceByNotice, forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect, choices=[
        ("accept", _("Accept the written result: on to the public notice")),
        ("return", _("Return for rectification"))])
    reason = REASON
    days = forms.IntegerField(label=_("Days allowed for rectification"), min_value=1, max_value=365,
                              required=False, help_text=_("Leave empty for the scheme's rectification period."))

    pass_to_panel = _("Accept the written result: on to the review panel")

    def __init__(self, *args, notice=True, **kwargs):
        super().__init__(*args, **kwargs)
        self._pass_goes_to_panel(notice)


class ObjectionVerifyForm(forms.Form):
    """The experts (two or three, of the pool) who verified an objection, their findings and the day."""

    objection = forms.IntegerField(widget=forms.HiddenInput)
    experts = forms.ModelMultipleChoiceField(label=_("Experts who verified it"), queryset=None,
                                             widget=forms.CheckboxSelectMultiple,
                                             help_text=_("Two or three experts of the pool."))
    findings = forms.CharField(label=_("Their findings"), widget=forms.Textarea(attrs={"rows": 3}),
                               max_length=4000)
    verified_on = forms.DateField(label=_("Verified on"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, experts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["experts"].queryset = experts


class PlanForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect, choices=[
        ("include", _("Include in this year's assessment plan")), ("return", _("Return with a reason"))])
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                             required=False)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "return" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("A reason is required."))
        return data


class ObjectionResolveForm(forms.Form):
    objection = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(label=_("Decision"), choices=[
        (Objection.Status.DISMISSED, Objection.Status.DISMISSED.label),
        (Objection.Status.SET_ASIDE, Objection.Status.SET_ASIDE.label),
        (Objection.Status.DOWNGRADED, Objection.Status.DOWNGRADED.label),
        (Objection.Status.UPHELD, Objection.Status.UPHELD.label)])
    grade = forms.ChoiceField(label=_("Grade after the objection"), required=False)
    set_aside_as = forms.ChoiceField(label=_("Set aside as"), required=False,
                                     choices=[("", "—"), *Objection.SetAsideAs.choices])
    reason = REASON

    def __init__(self, *args, grades=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grade"].choices = [("", "—")] + [(g.code, g.name) for g in grades]

    def clean(self):
        data = super().clean()
        if data.get("decision") == Objection.Status.DOWNGRADED and not data.get("grade"):
            self.add_error("grade", _("Choose the grade after the objection."))
        if data.get("decision") == Objection.Status.SET_ASIDE and not data.get("set_aside_as"):
            self.add_error("set_aside_as", _("Say whether it is set aside as anonymous or as without grounds."))
        return data


def expert_label(expert, load: int, conflicts: list[str]) -> str:
    """An expert as the bureau chooses among them: name, pool, employer and title, how many undecided panels
    they sit on, whether they can sign in, and every conflict with the case."""
    from django.utils.translation import gettext

    parts = [gettext("%(pool)s pool") % {"pool": expert.pool.name}]
    if expert.employer_id:
        parts.append(expert.employer.name)
    if expert.title:
        parts.append(expert.title)
    parts.append(gettext("on %(n)d undecided panels") % {"n": load})
    if expert.user_id is None:
        parts.append(gettext("no account to sign in with"))
    text = f"{expert.name}（{'，'.join(parts)}）"
    if conflicts:
        text += " — " + gettext("recused: %(why)s") % {"why": "；".join(conflicts)}
    return text


class PanelForm(forms.Form):
    """Take the system's proposal, or choose the members and the chair (the service checks the rules)."""

    members = forms.ModelMultipleChoiceField(label=_("Members"), queryset=None, required=False,
                                             widget=forms.CheckboxSelectMultiple,
                                             help_text=_("Leave empty to take the system's proposal."))
    chair = forms.ModelChoiceField(label=_("Chair"), queryset=None, required=False,
                                   help_text=_("Leave empty for the first member."))

    def __init__(self, *args, experts=None, describe=None, groups=(), **kwargs):
        """``describe``: the words for each candidate; ``groups``: the scheme's scorer groups, where it weights
        them (each expert chosen then needs one)."""
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = experts
        self.fields["chair"].queryset = experts
        if describe is not None:
            self.fields["members"].label_from_instance = describe
        if groups:
            choices = [("", "—")] + [(g.code, f"{g.name}（{g.weight * 100:g}%）") for g in groups]
            for expert in experts:
                self.fields[f"group_{expert.pk}"] = forms.ChoiceField(
                    label=_("Scorer group of %(expert)s") % {"expert": expert.name}, choices=choices, required=False)

    def member_groups(self) -> dict[int, str]:
        return {int(name.removeprefix("group_")): value for name, value in self.cleaned_data.items()
                if name.startswith("group_") and value}

    def clean(self):
        data = super().clean()
        chair, members = data.get("chair"), data.get("members")
        if chair is not None and members and chair not in members:
            self.add_error("chair", _("The chair is one of the members."))
        return data


class ReopenForm(forms.Form):
    sheet = forms.IntegerField(widget=forms.HiddenInput)
    reason = REASON


class OnsiteStepForm(forms.Form):
    step = forms.ChoiceField(label=_("Step"), choices=OnsiteStep.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


def _findings_text(findings) -> str:
    return "；".join(f"{f.member}：{f.reason or '—'}" for f in findings)


class ConsolidateForm(forms.Form):
    """The panel's score per item, prefilled from the members' proposals (a departure needs its reason; under a
    formula aggregation there is nothing to change); the vetoes and failed key sub-criteria the members
    recorded, each kept unless the chair drops it with a reason; others the chair adds with a reason. An
    untouched form keeps every prefill."""

    def __init__(self, *args, rows=(), formula=False, vetoes=(), keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = list(rows)
        self.formula = formula
        for row in self.rows if not formula else ():
            self.fields[f"score_{row.code}"] = forms.DecimalField(
                label=f"{row.code} {row.name}", min_value=Decimal(0) if row.max_points > 0 else None,
                max_value=row.max_points if row.max_points > 0 else Decimal(0), decimal_places=2, max_digits=6,
                required=False, help_text=_("Mean of the proposals: %(mean)s. Leave empty to keep it.")
                % {"mean": row.prefill} + (" ⚠" if row.flagged else ""))
            self.fields[f"reason_{row.code}"] = forms.CharField(label=_("Reason for a departure"),
                                                                required=False, max_length=1000)
        self.veto_prefill = [code for code, _label, findings in vetoes if findings]
        self.key_prefill = [code for code, _label, findings in keys if findings]
        self.veto_codes, self.key_codes = [c for c, _l, _f in vetoes], [c for c, _l, _f in keys]
        for group, entries, reason_label in (
                ("veto", vetoes, _("Reason (needed to drop or add a veto)")),
                ("key", keys, _("Reason (needed to change the members' finding)"))):
            for code, label, findings in entries:
                if findings:
                    self.fields[f"{group}_drop_{code}"] = forms.BooleanField(
                        required=False, help_text=_("Recorded by %(members)s") % {"members": _findings_text(findings)},
                        label=(_("Drop the veto on %(item)s") if group == "veto"
                               else _("Pass the key sub-criterion %(item)s")) % {"item": label})
                else:
                    self.fields[f"{group}_add_{code}"] = forms.BooleanField(
                        required=False, label=(_("Confirm the veto on %(item)s") if group == "veto"
                                               else _("Fail the key sub-criterion %(item)s")) % {"item": label})
                self.fields[f"{group}_reason_{code}"] = forms.CharField(label=reason_label, required=False,
                                                                        max_length=1000)

    def scores(self):
        return {r.code: self.cleaned_data[f"score_{r.code}"] for r in self.rows
                if self.cleaned_data.get(f"score_{r.code}") is not None}

    def reasons(self):
        return {r.code: self.cleaned_data[f"reason_{r.code}"].strip() for r in self.rows
                if (self.cleaned_data.get(f"reason_{r.code}") or "").strip()}

    def _chosen(self, group, codes, prefill):
        data = self.cleaned_data
        return [c for c in codes if (c in prefill and not data.get(f"{group}_drop_{c}"))
                or (c not in prefill and data.get(f"{group}_add_{c}"))]

    def _reasons(self, group, codes):
        return {c: self.cleaned_data[f"{group}_reason_{c}"].strip() for c in codes
                if (self.cleaned_data.get(f"{group}_reason_{c}") or "").strip()}

    def vetoes(self):
        return self._chosen("veto", self.veto_codes, self.veto_prefill)

    def veto_reasons(self):
        return self._reasons("veto", self.veto_codes)

    def key_failures(self):
        return self._chosen("key", self.key_codes, self.key_prefill)

    def key_reasons(self):
        return self._reasons("key", self.key_codes)


class AssignForm(forms.Form):
    """Which items each member scores: prefilled with the split in force, or the system's proposal."""

    def __init__(self, *args, members=(), items=(), current=None, **kwargs):
        super().__init__(*args, **kwargs)
        current = current or {}
        self.member_pks = [pk for pk, _name in members]
        choices = [(i.code, f"{i.code} {i.name}（{i.max_points}）") for i in items]
        for pk, name in members:
            self.fields[f"items_{pk}"] = forms.MultipleChoiceField(
                label=name, required=False, choices=choices, initial=current.get(pk, []),
                widget=forms.CheckboxSelectMultiple(attrs={"class": "assign"}))

    def items(self):
        """Expert id → item codes; ``None`` when every box is empty (then the system's proposal is taken)."""
        chosen = {pk: list(self.cleaned_data.get(f"items_{pk}") or ()) for pk in self.member_pks}
        return chosen if any(chosen.values()) else None


class ConcludeForm(forms.Form):
    conclusion = forms.CharField(label=_("Conclusion"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
    votes_for = forms.IntegerField(label=_("Members voting for"), min_value=0, max_value=50, required=False,
                                   help_text=_("For the special grade: two thirds of the panel must vote for."))


class ApproveForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect, choices=[
        ("approve", _("Grant the approval")), ("refuse", _("Do not approve"))])
    reasons = forms.CharField(label=_("Reasons"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)


class NoticeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    cases = forms.ModelMultipleChoiceField(label=_("Cases"), queryset=None, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, cases=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cases"].queryset = cases
        # what the notice will list: the institution, the grade and the kind (the reference alone says nothing)
        self.fields["cases"].label_from_instance = lambda c: (
            f"{c.institution.name} · {c.grade.name}（{c.get_kind_display()}）· {c.reference}")


class NoticeExtendForm(forms.Form):
    closes_at = forms.DateTimeField(label=_("New closing time"),
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = REASON

    def clean_closes_at(self):
        value = self.cleaned_data["closes_at"]
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value


class DeclarationForm(forms.Form):
    """The declaration: institution, grade and kind, each condition met (with evidence) or not applicable,
    and the conditions some grades add. The service checks every rule; this form only the shape."""

    scheme = forms.ChoiceField(label=_("Scheme"), required=False)  # left out: the scheme the form was drawn for
    institution = forms.ModelChoiceField(label=_("Institution"), queryset=None, empty_label=None)
    grade = forms.ChoiceField(label=_("Grade"))
    kind = forms.ChoiceField(label=_("Kind"), widget=forms.RadioSelect)

    def __init__(self, *args, institutions=None, scheme: str, schemes=(), **kwargs):
        """``schemes``: the current versions the institutions may declare under; ``scheme`` the chosen one's
        code, whose grades, conditions and gates the form asks for."""
        from certification.enums import Kind
        from certification.models import Scheme

        super().__init__(*args, **kwargs)
        self.fields["scheme"].choices = [(v.scheme.code, v.scheme.title) for v in schemes] or [(scheme, scheme)]
        self.fields["scheme"].initial = self.scheme_code = scheme
        self.fields["institution"].queryset = institutions
        if self.data.get("institution"):  # as written on a form or a letter: upper case, spaces ignored
            self.data = self.data.copy()
            self.data["institution"] = "".join(self.data["institution"].split()).upper()
        self.fields["kind"].choices = Kind.choices
        self.fields["kind"].initial = Kind.PROMOTION
        version = Scheme.objects.get(code=scheme).current_version()
        self.spec = version.specification()
        self.fields["grade"].choices = [(g.code, g.name) for g in version.grades.order_by("rank")]
        for p in self.spec.prerequisites:
            choices = [("yes", _("Met"))] + ([("na", _("Not applicable"))] if p.na_allowed else [])
            self.fields[f"answer_{p.code}"] = forms.ChoiceField(label=p.text, choices=choices,
                                                                widget=forms.RadioSelect)
            self.fields[f"evidence_{p.code}"] = forms.FileField(label=_("Evidence"), required=False)
        for gate in self.spec.gates:
            if gate.check == "declared":
                self.fields[f"gate_{gate.code}"] = forms.BooleanField(
                    label=gate.text, required=False,
                    help_text=_("Only for: %(grades)s") % {"grades": "、".join(
                        self.spec.grade(code).name for code in gate.grades)})

    held: dict = {}  # evidence field → (token, file name) of a file kept from a refused post (workflows.views)

    def clean_scheme(self):
        return self.cleaned_data.get("scheme") or self.scheme_code

    def prerequisite_rows(self):
        """(answer, evidence, the file kept for it or None) per condition."""
        return [(self[f"answer_{p.code}"], self[f"evidence_{p.code}"], self.held.get(f"evidence_{p.code}"))
                for p in self.spec.prerequisites]

    def gate_fields(self):
        return [self[name] for name in self.fields if name.startswith("gate_")]

    def answers(self) -> dict[str, str]:
        return {p.code: self.cleaned_data[f"answer_{p.code}"] for p in self.spec.prerequisites}

    def evidence(self) -> dict:
        return {p.code: self.cleaned_data[f"evidence_{p.code}"] for p in self.spec.prerequisites
                if self.cleaned_data.get(f"evidence_{p.code}")}

    def gates(self) -> dict[str, bool]:
        return {name.removeprefix("gate_"): bool(self.cleaned_data.get(name)) for name in self.fields
                if name.startswith("gate_")}


class LateRequestForm(forms.Form):
    """The applicant asks the bureau that plans a grade to include its late declaration: which institution and
    grade (the rows of the page's table of bureaus), and why it is late."""

    prefix = "late"
    ask = forms.ChoiceField(label=_("Institution and grade"))
    reason = forms.CharField(label=_("Why the declaration is late"), widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=2000)

    def __init__(self, *args, asks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ask"].choices = [(f"{institution.pk}:{code}", f"{institution.name} · {grade} · {bureau.name}")
                                      for institution, grade, bureau, code in asks]
        self.institutions = {str(institution.pk): institution for institution, _g, _b, _c in asks}

    def chosen(self):
        """(institution, grade code) of the row chosen."""
        pk, _sep, code = self.cleaned_data["ask"].partition(":")
        return self.institutions[pk], code


class LateRequestAnswerForm(forms.Form):
    """The bureau answers an institution's request: the last day to declare (when it includes it) and its
    reason, which the applicant reads either way."""

    declare_by = forms.DateField(label=_("Last day to declare"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reason = REASON

    def __init__(self, *args, grant: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.grant = grant  # including it: the last day is needed

    def clean(self):
        data = super().clean()
        if self.grant and not data.get("declare_by"):
            self.add_error("declare_by", _("Give the last day to declare."))
        return data


class LateInclusionForm(forms.Form):
    """The bureau includes a late declaration: which bureau (for staff of more than one), the institution, the
    last day to declare and the reason. The service checks the territory, the day and the rest."""

    bureau = forms.ModelChoiceField(label=_("Bureau"), queryset=None, empty_label=None)
    scheme = forms.ModelChoiceField(label=_("Scheme"), queryset=None, empty_label=None, to_field_name="code")
    # By its code, not from a list: a city bureau's territory holds thousands of institutions.
    institution = forms.ModelChoiceField(
        label=_("Unified social credit code"), queryset=None, to_field_name="uscc",
        widget=forms.TextInput(attrs={"maxlength": 18, "autocomplete": "off", "spellcheck": "false"}),
        error_messages={"invalid_choice": _("No institution with this unified social credit code is in your "
                                            "bureau's territory.")})
    declare_by = forms.DateField(label=_("Last day to declare"),
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reason = REASON

    def __init__(self, *args, bureaus=None, institutions=None, **kwargs):
        from certification.models import Scheme

        super().__init__(*args, **kwargs)
        self.fields["bureau"].queryset = bureaus
        schemes = Scheme.objects.filter(versions__is_current=True).distinct().order_by("code")
        self.fields["scheme"].queryset = schemes
        if len(schemes) == 1:  # the only scheme in force: nothing to choose
            self.fields["scheme"].widget = forms.HiddenInput()
            self.fields["scheme"].initial = schemes[0].code
        self.fields["institution"].queryset = institutions
        if self.data.get("institution"):  # as written on a form or a letter: upper case, spaces ignored
            self.data = self.data.copy()
            self.data["institution"] = "".join(self.data["institution"].split()).upper()
        if bureaus is not None and bureaus.count() == 1:
            self.fields["bureau"].widget = forms.HiddenInput()
            self.fields["bureau"].initial = bureaus.first().pk
