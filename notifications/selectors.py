"""Reads of the notifications app: who receives what, and the inbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from guardian.models import GroupObjectPermission, UserObjectPermission

from .models import Notification


def users_holding(perm: str, model, pks: Iterable[int]) -> dict[int, set[int]]:
    """For each object of ``model`` in ``pks``, the active users holding the object permission ``perm`` on it
    (directly or through a group). Two queries whatever the number of objects: the reverse of
    :func:`certification.permissions.objects_for`, for addressing a notification to everyone concerned."""
    keys = sorted({str(pk) for pk in pks})
    found: dict[int, set[int]] = defaultdict(set)
    if not keys:
        return found
    codename = perm.split(".", 1)[1]
    content_type = ContentType.objects.get_for_model(model)
    common = {"permission__codename": codename, "permission__content_type": content_type,
              "content_type": content_type, "object_pk__in": keys}
    for object_pk, user_id in UserObjectPermission.objects.filter(user__is_active=True, **common).values_list(
            "object_pk", "user_id"):
        found[int(object_pk)].add(user_id)
    for object_pk, user_id in GroupObjectPermission.objects.filter(
            group__user__is_active=True, **common).values_list("object_pk", "group__user"):
        found[int(object_pk)].add(user_id)
    return found


def inbox_for(user):
    """The user's notifications, newest first."""
    return Notification.objects.filter(recipient=user).select_related("case").order_by("-created_at", "-id")


def unread_count(user) -> int:
    if not (user and user.is_authenticated):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
