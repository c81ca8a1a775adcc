"""The caller's open tasks, and completing one through the same action as the web pages
(``workflows.actions.task_act``): the same forms, the same refusals, the same row lock on the process."""

from __future__ import annotations

import json

import django_filters
from django.db import models
from django.db.models import Q
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from viewflow.workflow.models import Task

from certification.models import Outcome, Stage
from certification.selectors import case_next_step

from .. import actions
from ..engine import inbox, with_cases
from ..views import case_task_or_404
from . import filters
from .conditional import conditional_response
from .exceptions import FormInvalid
from .pagination import OldestFirst


class TaskStatus(models.TextChoices):
    """An open task: waiting for someone of the role to take it, or taken by its owner."""

    WAITING = "waiting", gettext_lazy("Waiting to be taken")
    TAKEN = "taken", gettext_lazy("Taken")


def task_status(task) -> str:
    return TaskStatus.WAITING if task.owner_id is None else TaskStatus.TAKEN


class TaskActionSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="The action's name: the value of `action` in the complete request.")
    label = serializers.CharField()


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    case_reference = serializers.CharField()
    case_stage = serializers.ChoiceField(choices=Stage.choices)
    case_stage_display = serializers.CharField()
    node = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    status_display = serializers.CharField()
    owner = serializers.IntegerField(allow_null=True, help_text="The id of the user who took it (null while waiting).")
    owner_name = serializers.CharField(allow_blank=True, help_text="Their name (empty while waiting).")
    created = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="When it was created, taken or last changed.")
    due = serializers.DateTimeField(allow_null=True, help_text="The deadline the rules set for it, if any.")
    actions = TaskActionSerializer(many=True)


class TaskFilter(filters.SyncFilterSet):
    case = filters.IdFilter(field_name="process__artifact_object_id")
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices, method="filter_status")
    updated_since = django_filters.IsoDateTimeFilter(method="filter_updated_since",
                                                     label=_("changed at or after (ISO 8601)"))

    class Meta:
        model = Task
        fields = ["case", "status", "updated_since"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(owner__isnull=value == TaskStatus.WAITING)

    def filter_updated_since(self, queryset, name, value):
        return queryset.filter(Q(created__gte=value) | Q(assigned__gte=value) | Q(started__gte=value))


class TaskCompleteSerializer(serializers.Serializer):
    action = serializers.CharField(max_length=40, help_text="One of the task's actions (see the task's `actions`).")
    data = serializers.DictField(required=False, default=dict,
                                 help_text="The action's fields, as on the task's page (e.g. {\"decision\": "
                                           "\"include\"}); for `item`, also `item`: the rubric item's code.")


class TaskResultSerializer(serializers.Serializer):
    done = serializers.BooleanField(help_text="Whether the task was completed (else the action was saved).")
    case = serializers.IntegerField()
    stage = serializers.ChoiceField(choices=Stage.choices)
    stage_display = serializers.CharField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    outcome_display = serializers.CharField()


def _row(task, case) -> dict:
    view_class = task.flow_task.view.view_class
    labels = action_labels(view_class, case)
    step = case_next_step(case)
    owner = task.owner
    return {"id": task.pk, "case": case.pk, "case_reference": case.reference, "case_stage": case.stage,
            "case_stage_display": case.get_stage_display(), "node": task.flow_task.name,
            "title": str(task.flow_task.task_title), "status": task_status(task),
            "status_display": TaskStatus(task_status(task)).label, "owner": task.owner_id,
            "owner_name": (owner.get_full_name() or owner.get_username()) if owner else "",
            "created": task.created,
            "updated_at": max(t for t in (task.created, task.assigned, task.started) if t is not None),
            "due": step.due if step is not None else None,
            "actions": [{"action": a, "label": str(labels.get(a, _("Submit")))} for a in view_class.actions]}


def action_labels(view_class, case) -> dict:
    """The buttons' words on the task's page (some name the case's bureau), read from the page's view."""
    view = view_class()
    view.case = case
    try:
        return dict(view.action_labels)
    except (AttributeError, TypeError):  # a label that needs the request: the generic word
        return {}


class TaskViewSet(viewsets.GenericViewSet):
    """The caller's open tasks (its inbox), oldest first; completing one as on its page."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    filter_backends = [filters.KnownParametersOnly, DjangoFilterBackend]
    pagination_class = OldestFirst
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return inbox(self.request.user)

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = [_row(task, case) for task, case in with_cases(page)]
        return self.get_paginated_response(TaskSerializer(rows, many=True).data)

    def retrieve(self, request, pk=None):
        found = with_cases(inbox(request.user).filter(pk=pk))
        if not found:
            raise NotFound
        row = _row(*found[0])
        return conditional_response(request, TaskSerializer(row).data, row["updated_at"])

    @extend_schema(request=TaskCompleteSerializer, responses=TaskResultSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def complete(self, request, pk=None):
        """Complete (or, for an action that saves part of the work, save) the task as its page would. The body
        is one of the task's actions (``actions`` in the task) with its fields in ``data``: one schema per
        action. An action that uploads a file goes to ``upload`` instead."""
        return self._act(request, pk, request.data)

    @extend_schema(request=TaskCompleteSerializer, responses=TaskResultSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[], parser_classes=[MultiPartParser])
    def upload(self, request, pk=None):
        """An action that uploads a file (the narrative report, a signed written result), as multipart:
        ``action``, the other fields in ``data`` as JSON text, the file under its field's name."""
        try:
            data = json.loads(request.data.get("data") or "{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ValidationError({"data": [_("Send the action's other fields as a JSON object.")]},
                                  code="invalid")
        return self._act(request, pk, {"action": request.data.get("action", ""), "data": data})

    def _act(self, request, pk, given):
        body = TaskCompleteSerializer(data=given)
        body.is_valid(raise_exception=True)
        task = Task.objects.filter(pk=pk, flow_task_type="HUMAN").select_related("process").first()
        if task is None:
            raise NotFound
        case, _process, task = case_task_or_404(request.user, task.process.artifact_object_id, task.pk)
        act, data = body.validated_data["action"], body.validated_data["data"]
        prefix = f"item-{data.get('item', '')}" if act == "item" else act
        files = MultiValueDict({(k if k.startswith(f"{prefix}-") else f"{prefix}-{k}"): request.FILES.getlist(k)
                                for k in request.FILES})
        try:
            outcome = actions.task_act(user=request.user, case=case, task=task, action=act,
                                       data=self._posted(act, data), files=files)
        except actions.TaskActionUnknown as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        if outcome.closed:
            return Response({"detail": outcome.closed}, status=status.HTTP_409_CONFLICT)
        if outcome.refusal is not None:
            raise outcome.refusal
        if not outcome.form.is_valid():
            raise FormInvalid(outcome.form)
        case.refresh_from_db()
        return Response(TaskResultSerializer({
            "done": outcome.done, "case": case.pk, "stage": case.stage, "stage_display": case.get_stage_display(),
            "outcome": case.outcome, "outcome_display": case.get_outcome_display()}).data)

    @staticmethod
    def _posted(act: str, data: dict) -> QueryDict:
        """The JSON body as the page's form would post it (fields prefixed by their action)."""
        posted = QueryDict(mutable=True)
        posted["action"] = act
        prefix = f"item-{data.get('item', '')}" if act == "item" else act
        if act == "item":
            posted["item"] = str(data.get("item", ""))
        for key, value in data.items():
            if key == "item" and act == "item":
                continue
            values = value if isinstance(value, list) else [value]
            posted.setlist(f"{prefix}-{key}", ["on" if v is True else "" if v in (False, None) else str(v)
                                                for v in values])
        return posted
