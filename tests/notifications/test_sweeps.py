"""The daily sweeps: who is reminded when, exactly once, and in a number of queries that does not grow with
the data."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from certification.enums import CertificateStatus
from certification.models import AuditEntry
from certification.services.certificates import certificates_lapse_due
from notifications.kinds import Kind
from notifications.models import EmailState, Notification, Occurrence
from notifications.services import emails_send_pending
from notifications.sweeps import (
    annual_summary_send,
    recheck_reminders_send,
    rectification_reminders_send,
    scoring_deadlines_send,
)
from notifications.tasks import run_daily_sweeps
from tests.factories import InstitutionFactory
from tests.worlds import local

pytestmark = pytest.mark.django_db


def test_the_holder_is_reminded_90_days_before_expiry_once_by_inbox_and_e_mail(holder, make_certificate):
    institution, user = holder
    certificate = make_certificate(institution, dt.date(2027, 11, 21))

    with time_machine.travel(local(2027, 8, 23, 0, 15)):
        first = recheck_reminders_send()
        second = recheck_reminders_send()
        sent = emails_send_pending()

    assert (first, second, sent) == (1, 0, 1)
    notification = Notification.objects.get(recipient=user)
    assert notification.kind == Kind.RECHECK_REMINDER
    assert certificate.number in notification.text
    assert "2027-11-21" in notification.text
    assert Occurrence.objects.filter(key__startswith=f"recheck:{certificate.pk}:").count() == 1
    assert [m.to for m in mail.outbox] == [["holder@example.org"]]
    assert "复查" in mail.outbox[0].body  # in the holder's language


def test_every_reminder_of_the_window_comes_once_and_none_after_the_recheck_is_declared(holder, make_certificate):
    institution, user = holder
    certificate = make_certificate(institution, dt.date(2027, 11, 21))
    days = [local(2027, 1, 1, 0, 15), local(2027, 1, 2, 0, 15), local(2027, 8, 23, 0, 15), local(2027, 10, 22, 0, 15)]

    for moment in days:
        with time_machine.travel(moment):
            recheck_reminders_send()
    certificate.status = CertificateStatus.RECHECK_IN_PROGRESS
    certificate.save()
    with time_machine.travel(local(2027, 11, 14, 0, 15)):
        after_declaration = recheck_reminders_send()

    keys = sorted(k.rsplit(":", 1)[1] for k in Occurrence.objects.values_list("key", flat=True))
    assert keys == ["before_30", "before_90", "window_open"]
    assert after_declaration == 0
    assert Notification.objects.filter(recipient=user).count() == 3


def test_a_lapse_tells_holder_and_bureau_once(holder, city_staff, make_certificate):
    institution, user = holder
    certificate = make_certificate(institution, dt.date(2027, 11, 21))

    with time_machine.travel(local(2027, 11, 22, 0, 5)):
        lapsed = certificates_lapse_due(), certificates_lapse_due()

    assert lapsed == (1, 0)
    told = Notification.objects.filter(kind=Kind.CERTIFICATE_LAPSED)
    assert sorted(told.values_list("recipient__username", flat=True)) == sorted([user.username, city_staff.username])
    assert Occurrence.objects.filter(key=f"lapse:{certificate.pk}:2027-11-21").count() == 1
    assert told.get(recipient=city_staff).email_state == EmailState.PENDING


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def test_the_daily_sweeps_run_in_the_same_number_of_queries_for_more_certificates(holder, make_certificate, regions):
    institution, _user = holder

    def seed(not_due: int, offset: int):
        # two reminders and one lapse due, and ``not_due`` certificates that are not due at all
        for i in range(2):
            make_certificate(InstitutionFactory(region=regions["city"], level="city"), dt.date(2028, 3, 1 + i))
        make_certificate(InstitutionFactory(region=regions["city"], level="city"), dt.date(2027, 11, 30))
        for i in range(not_due):
            make_certificate(InstitutionFactory(region=regions["city"], level="city"),
                             dt.date(2029, 5, 1) + dt.timedelta(days=offset + i))

    with time_machine.travel(local(2027, 12, 2, 0, 15)):
        seed(0, 0)
        run_daily_sweeps()  # warm up: caches filled, the day's annual-summary reminder recorded
        seed(3, 0)
        small = _queries(run_daily_sweeps)
        seed(30, 100)
        large = _queries(run_daily_sweeps)

    assert small == large
    assert Notification.objects.filter(kind=Kind.RECHECK_REMINDER).count() == 0  # no holders with users here
    assert Occurrence.objects.filter(kind=Kind.RECHECK_REMINDER).count() == 3  # one per seed
    assert Occurrence.objects.filter(kind=Kind.CERTIFICATE_LAPSED).count() == 3


def test_rectification_reminders_7_days_and_1_day_before_the_deadline(holder, review, archives_version):
    case, _experts, _panel = review()
    case.stage, case.rectification_due_at = "rectification", local(2026, 6, 1)
    case.save()

    with time_machine.travel(local(2026, 5, 20, 0, 20)):
        too_early = rectification_reminders_send()
    with time_machine.travel(local(2026, 5, 25, 0, 20)):
        week = rectification_reminders_send(), rectification_reminders_send()
    with time_machine.travel(local(2026, 5, 31, 0, 20)):
        day = rectification_reminders_send()

    assert (too_early, week, day) == (0, (1, 0), 1)
    assert Notification.objects.filter(kind=Kind.RECTIFICATION_REMINDER, recipient=holder[1]).count() == 2


def test_late_members_are_reminded_3_days_and_1_day_before_and_the_chair_and_bureau_told_once_passed(
        review, city_staff):
    with time_machine.travel(local(2026, 5, 1, 10)):
        case, experts, panel = review()
    assert panel.scoring_due_at == local(2026, 5, 16)
    from tests.certification.services.test_review import score_all

    with time_machine.travel(local(2026, 5, 2, 10)):
        score_all(case, experts[2])  # one member is on time

    with time_machine.travel(local(2026, 5, 13, 0, 25)):
        three_days = scoring_deadlines_send(), scoring_deadlines_send()
    with time_machine.travel(local(2026, 5, 15, 0, 25)):
        one_day = scoring_deadlines_send()
    with time_machine.travel(local(2026, 5, 16, 0, 25)):
        passed = scoring_deadlines_send(), scoring_deadlines_send()

    assert three_days == (2, 0) and one_day == 2 and passed == (1, 0)
    reminded = Notification.objects.filter(kind=Kind.SCORING_REMINDER)
    assert sorted(reminded.values_list("recipient", flat=True)) == sorted(
        [experts[0].user_id, experts[1].user_id] * 2)
    overdue = Notification.objects.filter(kind=Kind.SCORING_OVERDUE)
    assert sorted(overdue.values_list("recipient", flat=True)) == sorted([experts[0].user_id, city_staff.pk])
    assert str(experts[1]) in overdue.first().text and str(experts[2]) not in overdue.first().text


def test_annual_summary_reminders_to_city_bureaus_and_overdue_to_the_province(city_staff, province_staff, bureaus,
                                                                            archives_version):
    for day in (local(2026, 11, 30, 1), local(2026, 12, 1, 1), local(2026, 12, 2, 1), local(2026, 12, 15, 1)):
        with time_machine.travel(day):
            annual_summary_send()
    reminders = Notification.objects.filter(kind=Kind.SUMMARY_REMINDER)
    assert list(reminders.values_list("recipient", flat=True)) == [city_staff.pk, city_staff.pk]

    with time_machine.travel(local(2026, 12, 21, 1)):
        overdue = annual_summary_send(), annual_summary_send()

    assert overdue == (1, 0)
    flagged = Notification.objects.get(kind=Kind.SUMMARY_OVERDUE)
    assert flagged.recipient == province_staff
    assert bureaus["city"].name in flagged.text


@pytest.mark.usefixtures("media")
def test_a_city_bureau_that_sent_its_summary_is_not_flagged(city_staff, province_staff, bureaus, archives_version):
    from certification.services.summaries import summary_submit

    with time_machine.travel(local(2026, 12, 10, 9)):
        summary_submit(actor=city_staff, bureau=bureaus["city"], scheme="archives", year=2026)
    with time_machine.travel(local(2026, 12, 21, 1)):
        assert annual_summary_send() == 0
    assert AuditEntry.objects.filter(action="annual_summary.send").count() == 1
    assert not Notification.objects.filter(kind=Kind.SUMMARY_OVERDUE).exists()
