"""Conditional reads of one object, for a copy kept in sync: each detail answer carries an ``ETag`` (a digest of
the representation, so it changes with anything shown, the caller's language included) and ``Last-Modified``
(the object's ``updated_at``); ``If-None-Match`` with the same tag answers 304 with no body, as does
``If-Modified-Since`` at or after ``Last-Modified`` when no tag is sent."""

from __future__ import annotations

import hashlib

from django.utils.http import http_date, parse_http_date_safe
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


def entity_tag(data) -> str:
    return '"' + hashlib.sha256(JSONRenderer().render(data)).hexdigest()[:32] + '"'


def conditional_response(request, data, updated_at=None) -> Response:
    tag = entity_tag(data)
    headers = {"ETag": tag}
    if updated_at is not None:
        headers["Last-Modified"] = http_date(updated_at.timestamp())
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        given = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        if tag in given or "*" in given:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    elif updated_at is not None:
        since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
        if since is not None and int(updated_at.timestamp()) <= since:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(data, headers=headers)


class SyncedDetail:
    """A viewset's detail read, conditional; its ids are whole numbers (``/cases/%0A1/`` is not case 1)."""

    lookup_value_regex = r"[0-9]+"

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return conditional_response(request, self.get_serializer(instance).data,
                                    getattr(instance, "updated_at", None))
