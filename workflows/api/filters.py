"""Filters for every list (django-filter); each filter narrows what the selector already allows.

Parameters are typed strictly, and the schema says so: an id is an integer from 1, a year an integer of four
digits, a yes/no filter ``true`` or ``false`` (anything else answers 400, never an empty list). Every list also
takes ``updated_since`` (an ISO 8601 time): the objects changed at or after it, for keeping a copy in sync."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend, OrderingFilter

from certification.enums import CertificateStatus, InstitutionLevel, Kind
from certification.models import (
    Case,
    Certificate,
    Filing,
    Institution,
    Notice,
    Objection,
    Outcome,
    ScoreSheet,
    SheetKind,
    Stage,
)

MAX_ID = 2**62


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number from 1 (``1.5`` or ``0`` is refused, not read as nothing)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1900, "maximum": 9999})
class YearFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1900)
        kwargs.setdefault("max_value", 9999)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.TypedChoiceField):
    def __init__(self, *args, **kwargs):
        kwargs.update(choices=[("true", "true"), ("false", "false")], coerce=lambda v: v == "true",
                      empty_value=None)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "boolean"})
class StrictBooleanFilter(django_filters.BooleanFilter):
    """``true`` or ``false``; Django's own yes/no field would read ``maybe`` as "no filter"."""

    field_class = StrictBooleanField


class SyncFilterSet(django_filters.FilterSet):
    """What every list's filters share: the objects changed since a time."""

    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte",
                                                     label=_("changed at or after (ISO 8601)"))


def sync_filterset(model) -> type[SyncFilterSet]:
    """The filters of a list that has none of its own but ``updated_since``."""
    meta = type("Meta", (), {"model": model, "fields": []})
    return type(f"{model.__name__}SyncFilter", (SyncFilterSet,), {"Meta": meta})


class InstitutionFilter(SyncFilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", label=_("name contains"))
    uscc = django_filters.CharFilter(lookup_expr="iexact")
    level = django_filters.ChoiceFilter(choices=InstitutionLevel.choices)
    region = django_filters.CharFilter(field_name="region__code", label=_("division code"))

    class Meta:
        model = Institution
        fields = ["name", "uscc", "level", "region"]


class CaseFilter(SyncFilterSet):
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    year = YearFilter()
    grade = django_filters.CharFilter(field_name="grade__code")
    institution = IdFilter(field_name="institution_id")
    bureau = IdFilter(field_name="bureau_id")

    class Meta:
        model = Case
        fields = ["stage", "outcome", "kind", "year", "grade", "institution", "bureau"]


class ScoreSheetFilter(SyncFilterSet):
    case = IdFilter(field_name="case_id")
    kind = django_filters.ChoiceFilter(choices=SheetKind.choices)
    round = IdFilter(max_value=1000)
    submitted = StrictBooleanFilter(field_name="submitted_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = ScoreSheet
        fields = ["case", "kind", "round", "submitted"]


class NoticeFilter(SyncFilterSet):
    state = django_filters.ChoiceFilter(choices=[("open", _("Open for objections")), ("closed", _("Closed"))],
                                        method="filter_state")
    bureau = IdFilter(field_name="bureau_id")
    year = YearFilter(field_name="published_at__year")

    class Meta:
        model = Notice
        fields = ["state", "bureau", "year"]

    def filter_state(self, queryset, name, value):
        is_open = Q(closed_at__isnull=True, closes_at__gt=timezone.now())
        return queryset.filter(is_open) if value == "open" else queryset.exclude(is_open)


class ObjectionFilter(SyncFilterSet):
    status = django_filters.ChoiceFilter(choices=Objection.Status.choices)
    notice = IdFilter(field_name="notice_id")
    case = IdFilter(field_name="case_id")

    class Meta:
        model = Objection
        fields = ["status", "notice", "case"]


class CertificateFilter(SyncFilterSet):
    status = django_filters.ChoiceFilter(choices=CertificateStatus.choices)
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    year = YearFilter()
    grade = django_filters.CharFilter(field_name="grade__code")
    institution = IdFilter(field_name="institution_id")

    class Meta:
        model = Certificate
        fields = ["status", "kind", "year", "grade", "institution"]


class FilingFilter(SyncFilterSet):
    bureau = IdFilter(field_name="bureau_id",
                                         label=_("filed with (bureau id)"))
    case = IdFilter(field_name="case_id")

    class Meta:
        model = Filing
        fields = ["bureau", "case"]


class KnownParametersOnly(BaseFilterBackend):
    """A list answers 400, naming the parameters it takes, when given one it does not know: a misspelt filter
    must not look like an answer with everything in it."""

    paging = ("cursor", "page_size")

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "detail", False) or getattr(view, "action", "list") != "list":
            return queryset
        allowed = set(self.paging)
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is not None and DjangoFilterBackend in view.filter_backends:
            allowed |= set(filterset_class.base_filters)
        if getattr(view, "ordering_fields", None) and StrictOrderingFilter in view.filter_backends:
            allowed.add(StrictOrderingFilter.ordering_param)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            message = gettext_now("Unknown parameter. This list takes: %(allowed)s.") % {"allowed": ", ".join(sorted(allowed))}
            raise ValidationError({name: [message] for name in unknown}, code="unknown_parameter")
        return queryset


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=`` among the list's ``ordering_fields`` (``-`` for descending); another answers 400."""

    def get_ordering(self, request, queryset, view):
        given = request.query_params.get(self.ordering_param)
        if given is not None:
            terms = [term.strip() for term in given.split(",") if term.strip()]
            allowed = [name for name, _label in self.get_valid_fields(queryset, view, {"request": request})]
            wrong = [term for term in terms if term.lstrip("-") not in allowed]
            if wrong or not terms:
                raise ValidationError({self.ordering_param: [
                    gettext_now("This list can be ordered by: %(allowed)s (a leading “-” for descending).")
                    % {"allowed": ", ".join(allowed)}]}, code="unknown_ordering")
        return super().get_ordering(request, queryset, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        fields = list(getattr(view, "ordering_fields", None) or [])
        for parameter in parameters:
            if fields:
                parameter["description"] = ("Order by one or more of (comma-separated, '-' for descending): "
                                            + ", ".join(fields) + ".")
        return parameters
