import pytest
from django.contrib.auth.models import Group, Permission
from django.http import Http404

from certification import permissions
from certification.enums import Role
from certification.models import Bureau, Institution
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_role_has_a_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_role_grant_gives_the_group_and_the_object_permission_on_that_object_only(bureaus):
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPROVER, obj=bureaus["city"])
    assert permissions.has_role(user, Role.APPROVER)
    assert permissions.can(user, "certification.approve_for_bureau", bureaus["city"])
    assert not permissions.can(user, "certification.approve_for_bureau", bureaus["county"])
    assert not permissions.can(user, "certification.work_in_bureau", bureaus["city"])


def test_objects_for_lists_only_the_users_own_institutions(regions):
    mine, other = InstitutionFactory(region=regions["province"]), InstitutionFactory(region=regions["province"])
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=mine)
    found = permissions.objects_for(user, "certification.act_for_institution", Institution.objects.all())
    assert list(found) == [mine]
    assert other.pk != mine.pk


def test_get_for_user_or_404_answers_404_alike_for_missing_and_not_yours(regions):
    mine, other = InstitutionFactory(region=regions["province"]), InstitutionFactory(region=regions["province"])
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=mine)
    qs = Institution.objects.all()
    assert permissions.get_for_user_or_404(user, "certification.act_for_institution", qs, pk=mine.pk) == mine
    with pytest.raises(Http404):
        permissions.get_for_user_or_404(user, "certification.act_for_institution", qs, pk=other.pk)
    with pytest.raises(Http404):
        permissions.get_for_user_or_404(user, "certification.act_for_institution", qs, pk=10**9)


def test_a_superuser_sees_nothing_through_object_lookups(bureaus):
    root = UserFactory(is_superuser=True, is_staff=True)
    assert list(permissions.objects_for(root, "certification.work_in_bureau", Bureau.objects.all())) == []
    assert not permissions.can(root, "certification.work_in_bureau", bureaus["city"])


def test_a_global_model_permission_never_widens_object_lookups(bureaus):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="work_in_bureau"))
    assert user.has_perm("certification.work_in_bureau")  # the global grant exists…
    assert list(permissions.objects_for(user, "certification.work_in_bureau", Bureau.objects.all())) == []
    assert not permissions.can(user, "certification.work_in_bureau", bureaus["city"])  # …and counts for nothing


def test_an_inactive_user_can_do_nothing(bureaus):
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    user.is_active = False
    user.save()
    assert not permissions.can(user, "certification.work_in_bureau", bureaus["city"])
    assert list(permissions.objects_for(user, "certification.work_in_bureau", Bureau.objects.all())) == []


def test_grant_refuses_an_unsaved_object_or_a_foreign_permission(bureaus):
    user = UserFactory()
    with pytest.raises(ValueError):
        permissions.grant(user, "certification.work_in_bureau", Bureau(name="未保存"))
    with pytest.raises(ValueError):
        permissions.grant(user, "certification.change_bureau", bureaus["city"])


def test_role_groups_carry_no_object_permission_codename():
    codenames = {p.split(".")[1] for p in permissions.OBJECT_PERMISSIONS}
    for group in Group.objects.filter(name__in=[r.value for r in Role]):
        assert not group.permissions.filter(codename__in=codenames).exists()
