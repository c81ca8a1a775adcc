"""The inbox, preferences, the nudge and the user's language: each user sees and acts on their own only."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications.kinds import Kind
from notifications.models import Notification, Preference
from notifications.services import Draft, notify
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _notify(user, n=1, case=None):
    with transaction.atomic():
        notify([Draft(f"test:{user.pk}:{i}", Kind.PLAN_INCLUDED, user.pk, params={"reference": f"R{i}"},
                      case_id=case.pk if case else None) for i in range(n)])


def test_the_inbox_shows_the_users_own_notifications_and_the_unread_badge(client):
    me, other = UserFactory(), UserFactory()
    _notify(me, 2)
    _notify(other, 1)
    client.force_login(me)

    page = client.get(reverse("notifications:inbox")).content.decode()

    assert page.count("R0") == 1 and "R1" in page
    assert 'class="badge"' in page and ">2</span>" in page


@pytest.mark.parametrize("rows", [1, 3])
def test_the_inbox_reads_in_a_fixed_number_of_queries(client, rows):
    me = UserFactory()
    _notify(me, rows)
    client.force_login(me)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("notifications:inbox"))
    assert len(queries) == 7  # the same for one row and for three (one of them: the navigation reads the grants)


def test_marking_another_users_notification_answers_404_and_changes_nothing(client):
    me, other = UserFactory(), UserFactory()
    _notify(other)
    theirs = Notification.objects.get(recipient=other)
    client.force_login(me)

    response = client.post(reverse("notifications:mark_read", args=[theirs.pk]))

    assert response.status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_mark_read_and_open_the_case(client, review, holder):
    case, _experts, _panel = review()
    _institution, user = holder
    _notify(user, case=case)
    mine = Notification.objects.filter(recipient=user, key__startswith="test:").get()
    client.force_login(user)

    response = client.post(reverse("notifications:mark_read", args=[mine.pk]), {"open": "1"})

    assert response.status_code == 302 and response.url == reverse("case_detail", args=[case.pk])
    assert Notification.objects.get(pk=mine.pk).read_at is not None


def test_e_mail_of_a_legal_deadline_cannot_be_turned_off(client):
    from certification.exceptions import RuleViolation
    from notifications.services import preferences_set

    me = UserFactory()
    with pytest.raises(RuleViolation) as refused:
        preferences_set(actor=me, email_by_kind={Kind.RECHECK_REMINDER: False, Kind.PLAN_INCLUDED: False})

    assert refused.value.codes == ["notifications.legal_always_mailed"]
    assert "不能关闭" in str(refused.value)
    assert not Preference.objects.exists()


def test_a_kind_turned_off_is_not_mailed_but_still_in_the_inbox(client):
    me = UserFactory(email="me@example.org")
    client.force_login(me)
    client.post(reverse("notifications:preferences"), {})  # every optional kind unticked

    _notify(me)

    notification = Notification.objects.get(recipient=me)
    assert notification.email_state == "off"
    assert Preference.objects.get(user=me, kind=Kind.PLAN_INCLUDED).email is False
    assert not Preference.objects.filter(kind=Kind.RECHECK_REMINDER).exists()


def test_only_the_chair_nudges_a_late_member_once_a_day(client, review):
    case, experts, panel = review()
    chair, late = experts[0], panel.memberships.get(expert=experts[1])
    url = reverse("notifications:nudge", args=[late.pk])

    client.force_login(experts[2].user)
    assert client.post(url).status_code == 404
    client.force_login(chair.user)
    first = client.post(url)
    second = client.post(url)

    assert first.status_code == second.status_code == 302
    nudges = Notification.objects.filter(kind=Kind.SCORING_NUDGE)
    assert list(nudges.values_list("recipient", flat=True)) == [experts[1].user_id]


def test_the_users_language_applies_at_login(client):
    UserFactory(username="english", password="pw-for-tests", language="en")

    response = client.post(reverse("login"), {"username": "english", "password": "pw-for-tests"})

    assert response.cookies["django_language"].value == "en"
    assert client.get(reverse("notifications:inbox")).headers["Content-Language"] == "en"
