"""Every list of the API is paginated by keyset (a cursor): ``?cursor=`` as given in ``next`` and
``previous``, and ``?page_size=`` (at most 200). A page costs the same at the end of a list of 60,000 as at
its start, and no page counts the whole list (which, for a city bureau's score sheets, alone costs ten times
the page). The order is the list's ``ordering`` (or ``?ordering=``), made total by the primary key."""

from rest_framework.pagination import CursorPagination


class Pagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view))
        if not any(field.lstrip("-") in ("id", "pk") for field in ordering):
            ordering.append("-id" if ordering and ordering[-1].startswith("-") else "id")
        return tuple(ordering)


class OldestFirst(Pagination):
    """Lists read in the order things happened: the inbox (oldest task first), a case's timeline."""

    ordering = ("created", "id")


class InOrderOfRecord(Pagination):
    ordering = ("id",)
