"""A small world with an object of one's own and a foreign one for every endpoint, and one user per role."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from certification import permissions
from certification.enums import BureauLevel, InstitutionLevel, Kind, RegionLevel, Role
from certification.models import (
    ApiToken,
    Case,
    Grade,
    Notice,
    Objection,
    Panel,
    PanelMember,
    ScoreSheet,
    SheetKind,
    Stage,
)
from certification.services.signin import token_create
from tests.factories import (
    BureauFactory,
    CertificateFactory,
    ExpertFactory,
    InstitutionFactory,
    RegionFactory,
    UserFactory,
)

ROLES = ["applicant", "bureau_staff", "prechecker", "approver", "auditor", "certificate_officer", "expert"]


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def world(archives_version, regions, bureaus):
    """Side "a" belongs to the city bureau and its institution; side "b" to another city's."""
    now = timezone.now()
    other_city = RegionFactory(name="另市", code="420200", level=RegionLevel.CITY, parent=regions["province"])
    other_bureau = BureauFactory(region=other_city, level=BureauLevel.CITY, parent=bureaus["province"])
    second = Grade.objects.get(version=archives_version, code="second")
    objects = {}
    for side, region, bureau in (("a", regions["city"], bureaus["city"]), ("b", other_city, other_bureau)):
        institution = InstitutionFactory(name=f"机关{side}", region=region, level=InstitutionLevel.CITY,
                                         contact_phone=f"027-0000000{side}")
        case = Case.objects.create(institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION,
                                   year=now.year, bureau=bureau, grade=second, declared_at=now,
                                   declared_by=UserFactory(), reference=f"{now.year}-{side}", stage=Stage.NOTICE)
        notice = Notice.objects.create(bureau=bureau, title=f"公示{side}", published_at=now - dt.timedelta(days=1),
                                       closes_at=now + dt.timedelta(days=7))
        notice.cases.set([case])
        objection = Objection.objects.create(notice=notice, case=case, name=f"异议人{side}",
                                             contact=f"1380000000{side}", grounds="理由", received_at=now)
        sheet = ScoreSheet.objects.create(case=case, kind=SheetKind.SELF, submitted_at=now, total=Decimal("85.00"))
        certificate = CertificateFactory(institution=institution, scheme_version=archives_version,
                                         issued_by=bureaus["province"], approved_by=bureau)
        objects.update({f"institution_{side}": institution, f"case_{side}": case, f"notice_{side}": notice,
                        f"objection_{side}": objection, f"sheet_{side}": sheet, f"certificate_{side}": certificate,
                        f"bureau_{side}": bureau})
    users = {}
    for role in ROLES:
        user = UserFactory(username=role)
        if role == "applicant":
            permissions.role_grant(user=user, role=Role.APPLICANT, obj=objects["institution_a"])
        elif role == "certificate_officer":
            permissions.role_grant(user=user, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
        elif role == "expert":
            permissions.role_grant(user=user, role=Role.EXPERT, obj=bureaus["city"])
            expert = ExpertFactory(user=user, pool=bureaus["city"])
            objects["member_sheet_a"] = ScoreSheet.objects.create(case=objects["case_a"], kind=SheetKind.MEMBER,
                                                                  expert=expert)
            # the expert sits on case a's panel and has signed its recusal declaration
            panel = Panel.objects.create(case=objects["case_a"], seed=1, formed_at=now, formed_by=UserFactory(),
                                         scoring_due_at=now + dt.timedelta(days=14))
            PanelMember.objects.create(panel=panel, expert=expert, is_chair=True, recusal_declared_at=now)
        else:
            permissions.role_grant(user=user, role=role, obj=bureaus["city"])
        users[role] = user
    return {"objects": objects, "users": users}


def api_key(user) -> str:
    """A new API token of ``user`` (as its owner would create it), for the ``Authorization`` header. It is marked
    used now, so that its first use does not record it (one write) inside a test that counts queries."""
    token, key = token_create(user=user, name="tests")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return key


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
    return client
