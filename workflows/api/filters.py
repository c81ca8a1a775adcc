"""Filters for every list (django-filter); each filter narrows what the selector already allows."""

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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


class InstitutionFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", label=_("name contains"))
    uscc = django_filters.CharFilter(lookup_expr="iexact")
    level = django_filters.ChoiceFilter(choices=InstitutionLevel.choices)
    region = django_filters.CharFilter(field_name="region__code", label=_("division code"))

    class Meta:
        model = Institution
        fields = ["name", "uscc", "level", "region"]


class CaseFilter(django_filters.FilterSet):
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    year = django_filters.NumberFilter(min_value=1900, max_value=9999)
    grade = django_filters.CharFilter(field_name="grade__code")
    institution = django_filters.NumberFilter(field_name="institution_id", min_value=1, max_value=2**62)
    bureau = django_filters.NumberFilter(field_name="bureau_id", min_value=1, max_value=2**62)

    class Meta:
        model = Case
        fields = ["stage", "outcome", "kind", "year", "grade", "institution", "bureau"]


class ScoreSheetFilter(django_filters.FilterSet):
    case = django_filters.NumberFilter(field_name="case_id", min_value=1, max_value=2**62)
    kind = django_filters.ChoiceFilter(choices=SheetKind.choices)
    round = django_filters.NumberFilter(min_value=1, max_value=1000)
    submitted = django_filters.BooleanFilter(field_name="submitted_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = ScoreSheet
        fields = ["case", "kind", "round", "submitted"]


class NoticeFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=[("open", _("Open for objections")), ("closed", _("Closed"))],
                                        method="filter_state")
    bureau = django_filters.NumberFilter(field_name="bureau_id", min_value=1, max_value=2**62)
    year = django_filters.NumberFilter(field_name="published_at__year", min_value=1900, max_value=9999)

    class Meta:
        model = Notice
        fields = ["state", "bureau", "year"]

    def filter_state(self, queryset, name, value):
        is_open = Q(closed_at__isnull=True, closes_at__gt=timezone.now())
        return queryset.filter(is_open) if value == "open" else queryset.exclude(is_open)


class ObjectionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Objection.Status.choices)
    notice = django_filters.NumberFilter(field_name="notice_id", min_value=1, max_value=2**62)
    case = django_filters.NumberFilter(field_name="case_id", min_value=1, max_value=2**62)

    class Meta:
        model = Objection
        fields = ["status", "notice", "case"]


class CertificateFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CertificateStatus.choices)
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    year = django_filters.NumberFilter(min_value=1900, max_value=9999)
    grade = django_filters.CharFilter(field_name="grade__code")
    institution = django_filters.NumberFilter(field_name="institution_id", min_value=1, max_value=2**62)

    class Meta:
        model = Certificate
        fields = ["status", "kind", "year", "grade", "institution"]


class FilingFilter(django_filters.FilterSet):
    bureau = django_filters.NumberFilter(field_name="bureau_id", min_value=1, max_value=2**62,
                                         label=_("filed with (bureau id)"))
    case = django_filters.NumberFilter(field_name="case_id", min_value=1, max_value=2**62)

    class Meta:
        model = Filing
        fields = ["bureau", "case"]
