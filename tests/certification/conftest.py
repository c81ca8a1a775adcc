"""Fixtures shared by the services' tests of tests/certification."""

import pytest

from certification import permissions
from certification.enums import InstitutionLevel, Role
from tests.factories import InstitutionFactory, UserFactory


@pytest.fixture
def applicant(archives_version, regions, bureaus):
    """A township government and the user who acts for it: (user, institution)."""
    institution = InstitutionFactory(name="乡政府", region=regions["township"], level=InstitutionLevel.TOWNSHIP)
    user = UserFactory()
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=institution)
    return user, institution
