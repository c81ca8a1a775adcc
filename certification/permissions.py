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
from guardian.shortcuts import assign_perm, remove_perm

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
#: The object permissions of the bureau roles (everyone who works in a bureau).
BUREAU_ROLE_PERMISSIONS = tuple(perm for role, perm in ROLE_OBJECT_PERMISSION.items() if role != Role.APPLICANT)
# Experts act through the panels they sit on (a predicate over foreign keys), not an object permission.
OBJECT_PERMISSIONS = frozenset(ROLE_OBJECT_PERMISSION.values())
# The model each object permission is held on (its primary keys are what ``grants`` returns).
PERMISSION_MODEL = {perm: ("institution" if perm == ACT_FOR_INSTITUTION else "bureau") for perm in OBJECT_PERMISSIONS}


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
    _forget_grants(user)


def revoke(user, perm: str, obj: Model) -> None:
    _model_of(perm)
    remove_perm(perm, user, obj)
    _forget_grants(user)


# --- Reading the grants: one query per user and request ---------------------------------------------------
_GRANTS = "_certification_grants"


def _forget_grants(user) -> None:
    if user is not None and hasattr(user, _GRANTS):
        delattr(user, _GRANTS)


def grants(user) -> dict[str, frozenset[int]]:
    """Every object permission of this product that ``user`` holds, directly or through a group, as the
    primary keys of the objects, by permission: one query, whatever the number of grants.

    Like Django's own permission cache, the answer is kept on the user object, which lives for one request
    (a page, an API call, a task); ``grant`` and ``revoke`` clear it. Every list and check of this module
    reads it, so a page asks the database once who the user works for, not once per row or per check."""
    if not (user and user.is_authenticated and user.is_active):
        return {}
    found = getattr(user, _GRANTS, None)
    if found is None:
        from guardian.models import GroupObjectPermission, UserObjectPermission

        codenames = sorted(perm.split(".", 1)[1] for perm in OBJECT_PERMISSIONS)
        common = {"permission__content_type__app_label": "certification", "permission__codename__in": codenames}
        direct = UserObjectPermission.objects.filter(user=user, **common)
        through_groups = GroupObjectPermission.objects.filter(group__user=user, **common)
        pairs: dict[str, set[int]] = {}
        for codename, object_pk in direct.values_list("permission__codename", "object_pk").union(
                through_groups.values_list("permission__codename", "object_pk")):
            pairs.setdefault(f"certification.{codename}", set()).add(int(object_pk))
        found = {perm: frozenset(pks) for perm, pks in pairs.items()}
        setattr(user, _GRANTS, found)
    return found


def grants_of(user):
    """The grants read for ``user`` in this request (None before the first read): what a cache derived from
    them compares against, so that it is read again after ``grant`` or ``revoke``."""
    grants(user)
    return getattr(user, _GRANTS, None)


def granted(user, *perms: str) -> frozenset[int]:
    """The primary keys of the objects on which ``user`` holds any of ``perms``."""
    for perm in perms:
        _model_of(perm)
    held = grants(user)
    return frozenset().union(*(held.get(perm, frozenset()) for perm in perms))


def role_grant(*, user, role: str, obj: Model) -> None:
    """Give ``user`` the role and its object permission on ``obj`` (a bureau, or an institution)."""
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    perm = ROLE_OBJECT_PERMISSION.get(role)
    if perm is not None:
        grant(user, perm, obj)


def can(user, perm: str, obj: Model) -> bool:
    """Whether ``user`` holds ``perm`` on ``obj`` itself (global permissions and the superuser flag never
    count: guardian's own checker would answer yes to any superuser)."""
    if obj is None or obj.pk is None:
        return False
    _held_on(perm, type(obj))
    return obj.pk in granted(user, perm)


def objects_for(user, perm: str, queryset: QuerySet) -> QuerySet:
    """The objects of ``queryset`` on which ``user`` holds ``perm``."""
    _held_on(perm, queryset.model)
    pks = granted(user, perm)
    return queryset.filter(pk__in=sorted(pks)) if pks else queryset.none()


def _held_on(perm: str, model) -> None:
    """A permission is asked of the model it is held on (a bureau's key is never an institution's)."""
    if PERMISSION_MODEL.get(perm) != model._meta.model_name:
        raise ValueError(f"{perm} is held on a {PERMISSION_MODEL.get(perm)}, not a {model._meta.model_name}")


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

    require(user, WORK_IN_BUREAU, bureau,
            message=_("Only the staff of %(bureau)s may do this.") % {"bureau": bureau})
