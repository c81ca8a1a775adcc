"""The case list's table (django-tables2) and filters (django-filter).

The list stays a keyset list (``workflows.paging``: fifty rows a page, ``?after=`` for the older ones, so the
hundredth page costs what the first does); the filters narrow the rows the user may see before the page is
cut, and the table renders the page's rows and sorts them by any column."""

import django_filters
import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from certification.enums import Kind
from certification.models import Case, Outcome, Stage


class CaseFilter(django_filters.FilterSet):
    institution = django_filters.CharFilter(field_name="institution__name", lookup_expr="icontains",
                                            label=_("Applicant's name contains"))
    stage = django_filters.ChoiceFilter(choices=Stage.choices, label=_("stage"), empty_label=_("Any"))
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices, label=_("outcome"), empty_label=_("Any"))
    kind = django_filters.ChoiceFilter(choices=Kind.choices, label=_("kind"), empty_label=_("Any"))

    class Meta:
        model = Case
        fields = ["institution", "stage", "outcome", "kind"]


class BadgeColumn(tables.Column):
    """A stage or outcome as a status badge (see ``workflows/templatetags/ui.py``)."""

    def __init__(self, kind: str, field: str, **kwargs):
        self.kind, self.field = kind, field
        super().__init__(accessor=f"get_{field}_display", order_by=field, **kwargs)

    def render(self, value, record):
        from .templatetags.ui import badge

        tone = badge(self.kind, getattr(record, self.field), value)["tone"]
        return format_html('<span class="badge rounded-pill text-bg-{}">{}</span>', tone, value)


class DayColumn(tables.Column):
    """A day in the site's one format (the ``when`` filter)."""

    def render(self, value):
        from .templatetags.ui import when

        return when(value, "day")


class CaseTable(tables.Table):
    reference = tables.Column(verbose_name=_("reference"), linkify=("case_detail", {"pk": tables.A("pk")}))
    institution = tables.Column(verbose_name=_("applicant"), accessor="institution__name")
    grade = tables.Column(verbose_name=_("grade"), accessor="grade__name")
    kind = tables.Column(verbose_name=_("kind"), accessor="get_kind_display", order_by="kind")
    stage = BadgeColumn("stage", "stage", verbose_name=_("stage"))
    outcome = BadgeColumn("outcome", "outcome", verbose_name=_("outcome"))
    declared_at = DayColumn(verbose_name=_("declared at"))

    class Meta:
        attrs = {"class": "table table-hover align-middle"}
        empty_text = _("There are no cases for you.")
        orderable = True
