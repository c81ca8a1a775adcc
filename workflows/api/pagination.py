"""Every list of the API is paginated by keyset (a cursor): ``?cursor=`` as given in ``next`` and
``previous``, and ``?page_size=`` (1 to 200; 50 when not given). A page costs the same at the end of a list of
60,000 as at its start, and no page counts the whole list (which, for a city bureau's score sheets, alone costs
ten times the page). The order is the list's ``ordering`` (or ``?ordering=``), made total by the primary key;
``?ordering=updated_at`` with ``?updated_since=`` is how a copy is kept in sync.

A page size that is not a whole number from 1 to 200, or a cursor this list did not give, answers 400 (never a
silently different page)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 200


class Pagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-id"
    invalid_cursor_message = gettext_lazy("This cursor is not one this list gave: start again without it.")

    def get_page_size(self, request):
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not given.isascii() or not given.isdigit() or not 1 <= int(given) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                _("A page size is a whole number from 1 to %(max)s.") % {"max": self.max_page_size}]},
                code="invalid_page_size")
        return int(given)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [str(self.invalid_cursor_message)]},
                                  code="invalid_cursor") from None

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view))
        if not any(field.lstrip("-") in ("id", "pk") for field in ordering):
            ordering.append("-id" if ordering and ordering[-1].startswith("-") else "id")
        return tuple(ordering)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size,
                                       "default": self.page_size}
                parameter["description"] = f"Objects per page: 1 to {self.max_page_size} (default {self.page_size})."
        return parameters


class OldestFirst(Pagination):
    """Lists read in the order things happened: the inbox (oldest task first), a case's timeline."""

    ordering = ("created", "id")


class InOrderOfRecord(Pagination):
    ordering = ("id",)
