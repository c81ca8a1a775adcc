"""A certificate suspended, reinstated or revoked: the holder and the bureau that approved it are told, once,
with the reason, by e-mail whatever their preferences."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import translation

from certification import permissions
from certification.enums import Role
from certification.services.certificates import certificate_transition
from notifications.kinds import Kind
from notifications.models import EmailState, Notification, Preference
from notifications.services import emails_send_pending
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STEPS = [
    ("suspend", "抽查发现档案管理不规范", Kind.CERTIFICATE_SUSPENDED,
     "Certificate {number} (省二级) of {holder} was suspended by {bureau}: 抽查发现档案管理不规范"),
    ("reinstate", "整改已验收合格", Kind.CERTIFICATE_REINSTATED,
     "Certificate {number} (省二级) of {holder} was reinstated by {bureau} and is in force again: 整改已验收合格"),
    ("revoke", "复核发现申报材料弄虚作假", Kind.CERTIFICATE_REVOKED,
     "Certificate {number} (省二级) of {holder} was revoked by {bureau}: 复核发现申报材料弄虚作假"),
]


@pytest.fixture
def officer(bureaus):
    user = UserFactory(email="officer@example.org")
    permissions.role_grant(user=user, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureaus["province"])  # acts, is not told
    return user


def test_each_decision_on_a_certificate_tells_the_holder_and_the_approving_bureau_once_with_the_reason(
        holder, city_staff, province_staff, officer, make_certificate, bureaus):
    institution, user = holder
    certificate = make_certificate(institution, dt.date(2028, 6, 30))
    Preference.objects.create(user=user, kind=Kind.CERTIFICATE_SUSPENDED, email=False)  # muted: still e-mailed

    for transition, reason, kind, text in STEPS:
        certificate_transition(actor=officer, certificate=certificate, transition=transition, reason=reason)
        told = Notification.objects.filter(kind=kind)
        assert sorted(told.values_list("recipient_id", flat=True)) == sorted([user.pk, city_staff.pk])
        with translation.override("en"):
            assert {n.text for n in told} == {text.format(number=certificate.number, holder=institution.name,
                                                          bureau=bureaus["province"].name)}
        assert set(told.values_list("email_state", flat=True)) == {EmailState.PENDING}

    assert emails_send_pending() == 6
    assert sorted(m.to[0] for m in mail.outbox) == ["city@example.org"] * 3 + ["holder@example.org"] * 3
    assert Notification.objects.filter(recipient__in=[officer, province_staff]).count() == 0
