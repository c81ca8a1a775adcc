"""Reads that several places share."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Model

from .enums import Role
from .models import Bureau, Expert, Institution
from .permissions import ROLE_OBJECT_PERMISSION, has_role, objects_for


@dataclass(frozen=True)
class Workplace:
    role: Role
    obj: Model


def workplaces_for(user) -> list[Workplace]:
    """Each role the user holds, with the bureau or institution it works for (experts: their pool)."""
    if not (user and user.is_authenticated):
        return []
    places: list[Workplace] = []
    for role in Role:
        if not has_role(user, role):
            continue
        perm = ROLE_OBJECT_PERMISSION.get(role)
        if role == Role.EXPERT:
            places += [Workplace(role, e.pool) for e in Expert.objects.filter(user=user).select_related("pool")]
        elif perm is not None:
            model = Institution if role == Role.APPLICANT else Bureau
            places += [Workplace(role, obj) for obj in objects_for(user, perm, model.objects.order_by("pk"))]
    return places
