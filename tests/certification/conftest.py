"""Fixtures shared by the services' tests of tests/certification."""

import datetime as dt

import pytest

from certification import permissions
from certification.enums import InstitutionLevel, Role
from tests.factories import CertificateFactory, InstitutionFactory, UserFactory


@pytest.fixture
def applicant(archives_version, regions, bureaus):
    """A township government and the user who acts for it: (user, institution)."""
    institution = InstitutionFactory(name="乡政府", region=regions["township"], level=InstitutionLevel.TOWNSHIP)
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=institution)
    return user, institution


@pytest.fixture
def recheck(world, archives_version, bureaus):
    """The shared county world, whose institution holds a second-grade certificate expiring on 2026-03-31
    (approved by the county bureau)."""
    institution, people, experts = world
    held = CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="second",
                              issued_by=bureaus["province"], approved_by=bureaus["county"],
                              issued_on=dt.date(2023, 4, 1), valid_until=dt.date(2026, 3, 31))
    return {"institution": institution, "people": people, "experts": experts[:3], "held": held}
