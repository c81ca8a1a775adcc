"""Fixtures shared by the services' tests of the public notice (a module's own fixture of the same name wins)."""

import pytest
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.models import Case, Grade, Stage
from tests.factories import InstitutionFactory, UserFactory


@pytest.fixture
def staff(bureaus):
    """A member of the city bureau's staff."""
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    return user


@pytest.fixture
def waiting(archives_version, regions, bureaus):
    """``make(name, grade="second", stage=Stage.NOTICE)``: a city institution's case at that stage."""
    def make(name, grade="second", stage=Stage.NOTICE):
        return Case.objects.create(
            institution=InstitutionFactory(name=name, region=regions["city"], level=InstitutionLevel.CITY),
            scheme_version=archives_version, kind=Kind.PROMOTION, year=2026, bureau=bureaus["city"],
            grade=Grade.objects.get(version=archives_version, code=grade), declared_at=timezone.now(),
            declared_by=UserFactory(), reference=f"2026{name}", stage=stage)
    return make
