"""Oversight and statistics through the API (``/api/v1/oversight/…``, ``/api/v1/statistics/…``): the same
reads as the pages (each list the caller's, another's object 404) and the same writes, through
``workflows.actions`` and the services (a refusal answers 400 with its rule and message)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from certification.dashboard import dashboard, dashboard_filters, dashboard_workbook
from certification.models import (
    Bureau,
    BureauConclusion,
    Finding,
    Sampling,
    Selection,
    SpotCheckItem,
    SpotCheckRound,
    Suspension,
    Violation,
)
from certification.selectors import (
    bureaus_read,
    findings_for_user,
    orders_for_user,
    spot_check_items_for_user,
    spot_check_rounds_for_user,
    suspensions_for_user,
)

from .. import actions
from .conditional import SyncedDetail
from .filters import sync_filterset

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- Serializers -------------------------------------------------------------------------------------------
class RoundSerializer(serializers.ModelSerializer):
    bureau_name = serializers.CharField(source="bureau.name", read_only=True)
    scope = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = SpotCheckRound
        fields = ["id", "bureau", "bureau_name", "year", "scope", "sampling", "sample_rate", "sample_count",
                  "selection", "selection_reason", "status", "seed", "candidates", "drawn_at", "concluded_at", "updated_at"]
        read_only_fields = fields


class RoundPlanSerializer(serializers.Serializer):
    bureau = serializers.IntegerField(min_value=1, max_value=2**62)
    year = serializers.IntegerField(min_value=2000, max_value=9999)
    scope = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62), allow_empty=False,
                                  max_length=1000)
    sampling = serializers.ChoiceField(choices=Sampling.choices)
    sample_rate = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    sample_count = serializers.IntegerField(min_value=1, max_value=100000, required=False, allow_null=True)
    selection = serializers.ChoiceField(choices=Selection.choices, default=Selection.RANDOM)
    selection_reason = serializers.CharField(required=False, allow_blank=True, default="")


class DrawSerializer(serializers.Serializer):
    chosen = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62), required=False,
                                   default=list, max_length=10000)


class ItemSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="case.reference", read_only=True)
    bureau_name = serializers.CharField(source="bureau.name", read_only=True)

    class Meta:
        model = SpotCheckItem
        fields = ["id", "round", "position", "case", "reference", "bureau", "bureau_name", "inspected_at", "updated_at"]
        read_only_fields = fields


class FindingSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="item.case_id", read_only=True)
    round = serializers.IntegerField(source="item.round_id", read_only=True)
    violation_name = serializers.CharField(source="get_violation_display", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "item", "round", "case", "violation", "violation_name", "description", "created_at", "updated_at"]
        read_only_fields = fields


class FindingInputSerializer(serializers.Serializer):
    violation = serializers.ChoiceField(choices=Violation.choices)
    description = serializers.CharField()


class ConcludeSerializer(serializers.Serializer):
    bureau = serializers.IntegerField(min_value=1, max_value=2**62)
    compliant = serializers.BooleanField()
    requirements = serializers.CharField(required=False, allow_blank=True, default="")
    due_at = serializers.DateTimeField(required=False, allow_null=True)


class OrderSerializer(serializers.ModelSerializer):
    bureau_name = serializers.CharField(source="bureau.name", read_only=True)
    checking_bureau = serializers.IntegerField(source="round.bureau_id", read_only=True)

    class Meta:
        model = BureauConclusion
        fields = ["id", "round", "bureau", "bureau_name", "checking_bureau", "result", "status", "requirements",
                  "due_at", "measures", "answered_at", "decision_reason", "decided_at", "updated_at"]
        read_only_fields = fields


class AnswerSerializer(serializers.Serializer):
    measures = serializers.CharField()
    evidence = serializers.FileField(required=False, allow_null=True)


class DecideSerializer(serializers.Serializer):
    accepted = serializers.BooleanField()
    reason = serializers.CharField()


class SuspensionSerializer(serializers.ModelSerializer):
    bureau_name = serializers.CharField(source="bureau.name", read_only=True)

    class Meta:
        model = Suspension
        fields = ["id", "bureau", "bureau_name", "order", "reason", "suspended_at", "cases_moved", "reinstated_at",
                  "reinstatement_reason", "updated_at"]
        read_only_fields = fields


class SuspendSerializer(serializers.Serializer):
    bureau = serializers.IntegerField(min_value=1, max_value=2**62)
    checking_bureau = serializers.IntegerField(min_value=1, max_value=2**62)
    reason = serializers.CharField()
    order = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)


class ReasonSerializer(serializers.Serializer):
    checking_bureau = serializers.IntegerField(min_value=1, max_value=2**62)
    reason = serializers.CharField()


def _bureau(pk) -> Bureau:
    """A bureau named in a request: any existing one (the service checks the caller's standing on it)."""
    found = Bureau.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


# --- Views -------------------------------------------------------------------------------------------------
class RoundViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Spot-check rounds of the caller's bureaus and of those below them; planned, drawn and concluded by the
    staff of the checking bureau."""

    serializer_class = RoundSerializer
    ordering = ["-id"]
    ordering_fields = ["id", "year", "updated_at"]
    filterset_class = sync_filterset(SpotCheckRound)

    def get_queryset(self):
        return spot_check_rounds_for_user(self.request.user).select_related("bureau").prefetch_related("scope")

    @extend_schema(request=RoundPlanSerializer, responses={201: RoundSerializer})
    def create(self, request):
        data = RoundPlanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["bureau"] = _bureau(values["bureau"])
        values["scope"] = list(Bureau.objects.filter(pk__in=values["scope"]))
        round_ = actions.spot_check_plan(actor=request.user, **values)
        return Response(RoundSerializer(round_).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DrawSerializer, responses=RoundSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def draw(self, request, pk=None):
        """Draw the round's cases (by hand: ``chosen``)."""
        data = DrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        round_ = actions.spot_check_draw(actor=request.user, round_=self.get_object(),
                                         chosen=data.validated_data["chosen"])
        return Response(RoundSerializer(round_).data)

    @extend_schema(request=ConcludeSerializer, responses=OrderSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def conclude(self, request, pk=None):
        """Conclude on one bureau: compliant, or a rectification order with its deadline."""
        data = ConcludeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["bureau"] = _bureau(values["bureau"])
        order = actions.spot_check_conclude(actor=request.user, round_=self.get_object(), **values)
        return Response(OrderSerializer(order).data)


class DrawViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """The cases drawn in the caller's rounds; findings and the inspection are recorded on each."""

    serializer_class = ItemSerializer
    ordering = ["id"]
    ordering_fields = ["id", "position", "updated_at"]
    filterset_class = sync_filterset(SpotCheckItem)

    def get_queryset(self):
        return spot_check_items_for_user(self.request.user).select_related("case", "bureau")

    @extend_schema(request=FindingInputSerializer, responses={201: FindingSerializer}, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def findings(self, request, pk=None):
        data = FindingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        finding = actions.spot_check_finding(actor=request.user, item=self.get_object(), **data.validated_data)
        return Response(FindingSerializer(finding).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ItemSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def inspected(self, request, pk=None):
        item = actions.spot_check_inspected(actor=request.user, item=self.get_object())
        return Response(ItemSerializer(item).data)


class FindingViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    serializer_class = FindingSerializer
    ordering = ["id"]
    ordering_fields = ["id", "updated_at"]
    filterset_class = sync_filterset(Finding)

    def get_queryset(self):
        return findings_for_user(self.request.user).select_related("item")


class OrderViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Conclusions and rectification orders: answered by the bureau checked, decided by the checking bureau."""

    serializer_class = OrderSerializer
    ordering = ["-id"]
    ordering_fields = ["id", "due_at", "updated_at"]
    filterset_class = sync_filterset(BureauConclusion)

    def get_queryset(self):
        return orders_for_user(self.request.user).select_related("bureau", "round")

    @extend_schema(request=AnswerSerializer, responses=OrderSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def answer(self, request, pk=None):
        data = AnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = actions.order_answer(actor=request.user, order=self.get_object(), **data.validated_data)
        return Response(OrderSerializer(order).data)

    @extend_schema(request=DecideSerializer, responses=OrderSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def decide(self, request, pk=None):
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = actions.order_decide(actor=request.user, order=self.get_object(), **data.validated_data)
        return Response(OrderSerializer(order).data)


class SuspensionViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Suspensions of authority of the caller's bureaus and those below them; a higher bureau's staff suspend
    (``POST``) and reinstate."""

    serializer_class = SuspensionSerializer
    ordering = ["-id"]
    ordering_fields = ["id", "suspended_at", "updated_at"]
    filterset_class = sync_filterset(Suspension)

    def get_queryset(self):
        return suspensions_for_user(self.request.user).select_related("bureau")

    @extend_schema(request=SuspendSerializer, responses={201: SuspensionSerializer})
    def create(self, request):
        data = SuspendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        order = None
        if values.get("order"):
            order = get_object_or_404(orders_for_user(request.user), pk=values["order"])
        suspension = actions.bureau_suspend(actor=request.user, bureau=_bureau(values["bureau"]),
                                            checking=_bureau(values["checking_bureau"]), reason=values["reason"],
                                            order=order)
        return Response(SuspensionSerializer(suspension).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses=SuspensionSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reinstate(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        suspension = actions.bureau_reinstate(actor=request.user, bureau=self.get_object().bureau,
                                              checking=_bureau(data.validated_data["checking_bureau"]),
                                              reason=data.validated_data["reason"])
        return Response(SuspensionSerializer(suspension).data)


_FILTERS = [OpenApiParameter(name, OpenApiTypes.STR, required=False) for name in ("bureau", "year", "grade", "scheme")]


class DashboardView(APIView):
    """The dashboard's figures for one bureau (its region and the bureaus below it; by default the caller's
    highest), with ``year``, ``grade`` and ``scheme`` filters; ``?export=xlsx`` for the workbook."""

    @extend_schema(parameters=_FILTERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        if not bureaus_read(request.user):
            raise NotFound()
        filters = dashboard_filters(request.user, bureau=request.query_params.get("bureau"),
                                    year=request.query_params.get("year"), grade=request.query_params.get("grade"),
                                    scheme=request.query_params.get("scheme"))
        board = dashboard(filters)
        if request.query_params.get("export") == "xlsx":
            response = HttpResponse(dashboard_workbook(board), content_type=XLSX)
            response["Content-Disposition"] = (f'attachment; filename="dashboard-{filters.bureau.pk}-'
                                               f'{timezone.localdate():%Y%m%d}.xlsx"')
            return response
        return Response(board.as_dict())
