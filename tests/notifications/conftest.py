import datetime as dt

import pytest
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.models import Case, Grade, Stage
from certification.services.panels import panel_form
from tests.factories import CertificateFactory, ExpertFactory, InstitutionFactory, UserFactory
from tests.worlds import sign_panel


@pytest.fixture
def holder(regions):
    """A city-level institution with one applicant user (Chinese) who has an e-mail address."""
    institution = InstitutionFactory(region=regions["city"], level=InstitutionLevel.CITY)
    user = UserFactory(email="holder@example.org", language="zh-hans")
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=institution)
    return institution, user


@pytest.fixture
def city_staff(bureaus):
    user = UserFactory(email="city@example.org", language="en")
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    return user


@pytest.fixture
def province_staff(bureaus):
    user = UserFactory(email="province@example.org")
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureaus["province"])
    return user


@pytest.fixture
def make_certificate(archives_version, bureaus):
    def make(institution, valid_until: dt.date, **kwargs):
        issued_on = dt.date(valid_until.year - 3, valid_until.month, 1)
        return CertificateFactory(institution=institution, scheme_version=archives_version,
                                  issued_by=bureaus["province"], approved_by=bureaus["city"], issued_on=issued_on,
                                  valid_until=valid_until, **kwargs)
    return make


@pytest.fixture
def review(archives_version, regions, bureaus, holder, city_staff):
    """A case of ``holder`` whose panel (three members with users, the first the chair) is formed now."""
    def make(members=3):
        institution, _user = holder
        case = Case.objects.create(
            institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
            bureau=bureaus["city"], grade=Grade.objects.get(version=archives_version, code="second"),
            declared_at=timezone.now(), declared_by=UserFactory(), reference="2026000042", stage=Stage.PANEL)
        experts = [ExpertFactory(pool=bureaus["city"], user=UserFactory(email=f"expert{i}@example.org"),
                                 term_starts_on=dt.date(2025, 1, 1), term_ends_on=dt.date(2030, 1, 1))
                   for i in range(members)]
        panel = sign_panel(panel_form(actor=city_staff, case=case, members=experts, chair=experts[0]))
        return case, experts, panel
    return make
