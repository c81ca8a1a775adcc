"""The fallback clock (``manage.py run_timers_loop``, used where Redis is missing) keeps every deadline beat
keeps: it runs beat's schedule, the daily reminders included, each once a day."""

import datetime as dt
import io

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from certification import permissions
from certification.beat_fallback import BeatLoop
from certification.enums import InstitutionLevel, Role
from certification.models import Case, Stage
from notifications.kinds import Kind
from notifications.models import EmailState, Notification
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import at, local

# The loop runs outside any transaction, as the command does (each task opens its own, and drops a connection
# left in a transaction); tasks run in this process, as where the loop is used (CELERY_TASK_ALWAYS_EAGER).
pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def without_a_broker():
    from config.celery_app import app

    eager, app.conf.task_always_eager = app.conf.task_always_eager, True
    yield
    app.conf.task_always_eager = eager

EVERY_MINUTE = ["fire-due-timers", "close-due-notices", "withdraw-missed-rectifications", "sweep-oversight-orders",
                "send-pending-email"]


@pytest.fixture
def due_on_december_1(holder, city_staff, make_certificate, review, regions):
    """On 2026-12-01 one reminder of each daily kind is due: the holder's recheck (expiry in 30 days), the
    applicant's rectification (deadline in 7 days), three late panel members (deadline in 1 day) and the city
    bureau's annual summary (December 1)."""
    institution, _user = holder
    make_certificate(institution, dt.date(2026, 12, 31))
    with time_machine.travel(local(2026, 11, 17, 10)):
        case, experts, panel = review()
    assert panel.scoring_due_at == local(2026, 12, 2)
    other = InstitutionFactory(region=regions["city"], level=InstitutionLevel.CITY)
    applicant = UserFactory(email="other@example.org")
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=other)
    Case.objects.create(
        institution=other, scheme_version=case.scheme_version, kind=case.kind, year=2026,
        bureau=case.bureau, grade=case.grade, declared_at=timezone.now(), declared_by=UserFactory(),
        reference="2026000043", stage=Stage.RECTIFICATION, rectification_due_at=local(2026, 12, 8))
    return experts, applicant


def _told() -> dict[str, list[int]]:
    kinds = (Kind.RECHECK_REMINDER, Kind.RECTIFICATION_REMINDER, Kind.SCORING_REMINDER, Kind.SUMMARY_REMINDER)
    return {kind: sorted(Notification.objects.filter(kind=kind).values_list("recipient_id", flat=True))
            for kind in kinds}


def test_one_round_of_the_loop_sends_every_daily_reminder_once(due_on_december_1, holder, city_staff):
    experts, applicant = due_on_december_1

    with at(2026, 12, 1, 0, 35):
        call_command("run_timers_loop", "--once", stdout=io.StringIO())

    assert _told() == {
        Kind.RECHECK_REMINDER: [holder[1].pk],
        Kind.RECTIFICATION_REMINDER: [applicant.pk],
        Kind.SCORING_REMINDER: sorted(e.user_id for e in experts),
        Kind.SUMMARY_REMINDER: [city_staff.pk],
    }
    reminders = Notification.objects.filter(kind__in=list(_told()))
    assert set(reminders.values_list("email_state", flat=True)) == {EmailState.SENT}  # e-mailed as well


def test_the_daily_sweeps_run_once_a_day_and_the_timers_every_round(due_on_december_1):
    loop = BeatLoop()

    with at(2026, 12, 1, 0, 35):
        first = loop.run_round()
    told = _told()
    with at(2026, 12, 1, 18, 0):
        second = loop.run_round()
    with at(2026, 12, 2, 0, 10):
        before_the_hour = loop.run_round()
    with at(2026, 12, 2, 0, 35):
        next_day = loop.run_round()

    assert list(first) == list(settings.CELERY_BEAT_SCHEDULE)  # every entry of beat's schedule, in order
    assert (first["send-recheck-reminders"], first["send-rectification-reminders"],
            first["send-scoring-reminders"], first["send-annual-summary-reminders"]) == (1, 1, 3, 1)
    assert list(second) == EVERY_MINUTE
    assert _told() == told  # nothing sent twice
    assert list(before_the_hour) == [*EVERY_MINUTE[:4], "lapse-expired-certificates", EVERY_MINUTE[4]]
    assert list(next_day) == [*EVERY_MINUTE, "send-recheck-reminders", "send-rectification-reminders",
                              "send-scoring-reminders", "send-annual-summary-reminders"]
