"""Keyset pagination for the long lists (the cases): each page starts after the last row of the one before,
so that the hundredth page costs what the first does — an offset makes the database walk every row before
it, and a page count makes it count every visible row.

A list ordered newest first by ``(declared_at, id)`` carries ``?after=<declared_at>_<id>`` in its "older"
link. A cursor that does not parse starts the list from its beginning: it only ever says where to start
within the rows the user may see, never which rows those are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.http import urlencode


@dataclass(frozen=True)
class KeysetPage:
    object_list: list
    next_after: str  # the cursor of the next (older) page, "" on the last page
    is_first: bool

    @property
    def next_query(self) -> str:
        return urlencode({"after": self.next_after}) if self.next_after else ""


def _cursor(row, field: str = "declared_at") -> str:
    return f"{getattr(row, field).isoformat()}_{row.pk}"


def _parse(after: str | None) -> tuple[dt.datetime, int] | None:
    if not after or "_" not in after:
        return None
    when, _sep, pk = after.rpartition("_")
    try:
        moment = dt.datetime.fromisoformat(when)
        number = int(pk)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment, number


def newest_first_page(queryset: QuerySet, *, after: str | None, size: int = 50,
                      field: str = "declared_at") -> KeysetPage:
    """One page of ``queryset`` newest first by ``(field, id)`` (``declared_at`` for cases, ``filed_at`` for
    filings), starting after the cursor ``after``."""
    position = _parse(after)
    rows = queryset.order_by(f"-{field}", "-id")
    if position is not None:
        moment, pk = position
        # The redundant bound lets the database start its index scan at the cursor.
        rows = rows.filter(**{f"{field}__lte": moment}).filter(Q(**{f"{field}__lt": moment})
                                                               | Q(**{field: moment, "pk__lt": pk}))
    found = list(rows[:size + 1])
    more = len(found) > size
    found = found[:size]
    return KeysetPage(object_list=found, next_after=_cursor(found[-1], field) if more else "",
                      is_first=position is None)
