"""The caller's open tasks, and completing one through the same action as the web pages
(``workflows.actions.task_act``): the same forms, the same refusals, the same row lock on the process."""

from __future__ import annotations

from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from .. import actions
from ..engine import inbox, with_cases
from ..views import case_task_or_404
from .pagination import OldestFirst


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    case_reference = serializers.CharField()
    node = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    owner = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()
    actions = serializers.ListField(child=serializers.CharField())


class TaskCompleteSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="One of the task's actions (see the task's `actions`).")
    data = serializers.DictField(required=False, default=dict,
                                 help_text="The action's fields, as on the task's page (e.g. {\"decision\": "
                                           "\"include\"}); for `item`, also `item`: the rubric item's code.")


class TaskResultSerializer(serializers.Serializer):
    done = serializers.BooleanField(help_text="Whether the task was completed (else the action was saved).")
    case = serializers.IntegerField()
    stage = serializers.CharField()
    outcome = serializers.CharField()


def _row(task, case) -> dict:
    view_class = task.flow_task.view.view_class
    return {"id": task.pk, "case": case.pk, "case_reference": case.reference, "node": task.flow_task.name,
            "title": str(task.flow_task.task_title), "status": task.status,
            "owner": task.owner.get_username() if task.owner_id else None, "created": task.created,
            "actions": list(view_class.actions)}


class TaskViewSet(viewsets.GenericViewSet):
    """The caller's open tasks (its inbox), oldest first; completing one as on its page."""

    serializer_class = TaskSerializer
    filter_backends: list = []
    pagination_class = OldestFirst
    lookup_value_regex = r"\d+"

    def list(self, request):
        page = self.paginate_queryset(inbox(request.user))
        rows = [_row(task, case) for task, case in with_cases(page)]
        return self.get_paginated_response(TaskSerializer(rows, many=True).data)

    def retrieve(self, request, pk=None):
        found = with_cases(inbox(request.user).filter(pk=pk))
        if not found:
            raise NotFound
        return Response(TaskSerializer(_row(*found[0])).data)

    @extend_schema(request=TaskCompleteSerializer, responses=TaskResultSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        from viewflow.workflow.models import Task

        body = TaskCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = Task.objects.filter(pk=pk, flow_task_type="HUMAN").select_related("process").first()
        if task is None:
            raise NotFound
        case, _process, task = case_task_or_404(request.user, task.process.artifact_object_id, task.pk)
        act, data = body.validated_data["action"], body.validated_data["data"]
        try:
            outcome = actions.task_act(user=request.user, case=case, task=task, action=act,
                                       data=self._posted(act, data), files=request.FILES)
        except actions.TaskActionUnknown as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        if outcome.closed:
            return Response({"detail": outcome.closed}, status=status.HTTP_409_CONFLICT)
        if outcome.refusal is not None:
            raise outcome.refusal
        form = outcome.form
        if not form.is_valid():
            prefix = f"{form.prefix}-" if form.prefix else ""
            raise ValidationError({k.removeprefix(prefix): [e["message"] for e in v]
                                   for k, v in form.errors.get_json_data().items()})
        case.refresh_from_db()
        return Response(TaskResultSerializer({"done": outcome.done, "case": case.pk, "stage": case.stage,
                                              "outcome": case.outcome}).data)

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
