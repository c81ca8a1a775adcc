"""Roles and object permissions: the one small helper every view, API endpoint and download uses.

A role is a Django group (what kind of work a user does); *which* bureaus and institutions a user works
for is a django-guardian object permission on that bureau or institution. An object permission is never
granted globally, and every lookup ignores global permissions (``accept_global_perms=False``), so that a
superuser flag or a stray model permission never widens what a user sees. Lookups answer 404 alike for
"missing" and "not yours".
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Model, QuerySet
from django.http import Http404
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from .enums import Role

# The object permissions of this product, by name: code everywhere uses these constants, never the strings.
ACT_FOR_INSTITUTION = "certification.act_for_institution"  # an applicant, on its institution
WORK_IN_BUREAU = "certification.work_in_bureau"  # bureau staff, on their bureau
PRECHECK_FOR_BUREAU = "certification.precheck_for_bureau"  # a pre-checker the bureau may designate
APPROVE_FOR_BUREAU = "certification.approve_for_bureau"  # an approver of the bureau
ISSUE_FOR_BUREAU = "certification.issue_for_bureau"  # a certificate officer of the (provincial) bureau
AUDIT_BUREAU = "certification.audit_bureau"  # an auditor, read-only

# The object permission a role holds on the object it works for.
ROLE_OBJECT_PERMISSION: dict[str, str] = {
    Role.APPLICANT: ACT_FOR_INSTITUTION,
    Role.BUREAU_STAFF: WORK_IN_BUREAU,
    Role.PRECHECKER: PRECHECK_FOR_BUREAU,
    Role.APPROVER: APPROVE_FOR_BUREAU,
    Role.CERTIFICATE_OFFICER: ISSUE_FOR_BUREAU,
    Role.AUDITOR: AUDIT_BUREAU,
}
# Experts act through the panels they sit on (a predicate over foreign keys), not an object permission.
OBJECT_PERMISSIONS = frozenset(ROLE_OBJECT_PERMISSION.values())


def ensure_roles() -> list[Group]:
    """Create a group for every role (idempotent). Groups carry no object permission codename."""
    return [Group.objects.get_or_create(name=role.value)[0] for role in Role]


def has_role(user, role: str) -> bool:
    return bool(user and user.is_authenticated and user.groups.filter(name=role).exists())


def _model_of(perm: str) -> str:
    _app_label, codename = perm.split(".", 1)
    if perm not in OBJECT_PERMISSIONS:
        raise ValueError(f"{perm} is not an object permission of this product")
    return codename


def grant(user, perm: str, obj: Model) -> None:
    """Grant an object permission on one object. There is no global form of this call."""
    if obj is None or obj.pk is None:
        raise ValueError("an object permission is granted on a saved object, never globally")
    _model_of(perm)
    assign_perm(perm, user, obj)


def revoke(user, perm: str, obj: Model) -> None:
    _model_of(perm)
    remove_perm(perm, user, obj)


def role_grant(*, user, role: str, obj: Model) -> None:
    """Give ``user`` the role and its object permission on ``obj`` (a bureau, or an institution)."""
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    perm = ROLE_OBJECT_PERMISSION.get(role)
    if perm is not None:
        grant(user, perm, obj)


def can(user, perm: str, obj: Model) -> bool:
    """Whether ``user`` holds ``perm`` on ``obj`` itself (global permissions never count)."""
    if obj is None or obj.pk is None:
        return False
    # The same lookup as objects_for(): guardian's checker would answer yes to any superuser.
    return objects_for(user, perm, type(obj)._default_manager.filter(pk=obj.pk)).exists()


def objects_for(user, perm: str, queryset: QuerySet) -> QuerySet:
    """The objects of ``queryset`` on which ``user`` holds ``perm``."""
    if not (user and user.is_authenticated and user.is_active):
        return queryset.none()
    _model_of(perm)
    return get_objects_for_user(user, perm, klass=queryset, accept_global_perms=False, with_superuser=False)


def get_for_user_or_404(user, perm: str, queryset: QuerySet, **lookup) -> Model:
    """One object that ``user`` may act on with ``perm``, or 404 — the same 404 for missing and not yours."""
    obj = objects_for(user, perm, queryset).filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj


def require(user, perm: str, obj: Model, *, message: str) -> None:
    """Refuse, with a message in the user's language, unless ``user`` holds ``perm`` on ``obj``.

    The services' own check, beside the views' 404 lookups: a service called from anywhere (a view, the API,
    a task) still acts only for whom may act."""
    if not can(user, perm, obj):
        from django.utils.translation import gettext as _

        from .exceptions import Refusal, RuleViolation

        raise RuleViolation(Refusal(code="permission.denied", rule=_("Permissions"), message=message,
                                    params={"permission": perm}))


def require_bureau_staff(user, bureau) -> None:
    from django.utils.translation import gettext as _

    require(user, "certification.work_in_bureau", bureau,
            message=_("Only the staff of %(bureau)s may do this.") % {"bureau": bureau})
