"""The reminder time rules: pure functions of dates."""

import datetime as dt

from certification import rules
from certification.scheme import shipped_scheme
from tests.worlds import local

ARCHIVES = shipped_scheme("archives")


def test_recheck_reminders_fall_on_the_window_opening_and_90_30_7_days_before_expiry():
    expiry = dt.date(2027, 11, 21)

    due_days = {day: rules.recheck_reminders_due(expiry, day, grace=0, scheme=ARCHIVES)
                for day in (dt.date(2027, 1, 1), dt.date(2027, 8, 23), dt.date(2027, 10, 22), dt.date(2027, 11, 14))}

    assert due_days == {dt.date(2027, 1, 1): ["window_open"], dt.date(2027, 8, 23): ["before_90"],
                        dt.date(2027, 10, 22): ["before_30"], dt.date(2027, 11, 14): ["before_7"]}
    assert rules.recheck_reminders_due(expiry, dt.date(2027, 8, 24), grace=0, scheme=ARCHIVES) == []


def test_an_early_year_expiry_gets_one_reminder_when_its_window_opens_90_days_before():
    expiry = dt.date(2027, 2, 28)

    assert rules.recheck_reminders_due(expiry, dt.date(2026, 11, 30), grace=0, scheme=ARCHIVES) == ["before_90"]


def test_a_missed_reminder_is_still_due_within_the_grace_days_and_never_after_expiry():
    expiry = dt.date(2027, 11, 21)

    assert rules.recheck_reminders_due(expiry, dt.date(2027, 8, 26), grace=3, scheme=ARCHIVES) == ["before_90"]
    assert rules.recheck_reminders_due(expiry, dt.date(2027, 8, 27), grace=3, scheme=ARCHIVES) == []
    assert rules.recheck_reminders_due(expiry, dt.date(2027, 11, 22), grace=3, scheme=ARCHIVES) == []


def test_the_expiry_ranges_cover_every_certificate_with_a_reminder_due():
    today = dt.date(2027, 8, 23)
    ranges = rules.recheck_reminder_expiry_ranges(today, scheme=ARCHIVES)
    for offset in range(-10, 800):
        expiry = today + dt.timedelta(days=offset)
        if rules.recheck_reminders_due(expiry, today, scheme=ARCHIVES):
            assert any(lo <= expiry <= hi for lo, hi in ranges), expiry


def test_deadline_reminders_3_days_and_1_day_before_a_midnight_deadline():
    due_at = local(2026, 5, 15)  # the last day is May 14

    assert rules.deadline_reminders_due(due_at, local(2026, 5, 11, 23), (3, 1), scheme=ARCHIVES) == []
    assert rules.deadline_reminders_due(due_at, local(2026, 5, 12, 0, 30), (3, 1), scheme=ARCHIVES) == ["before_3"]
    assert rules.deadline_reminders_due(due_at, local(2026, 5, 14, 0, 30), (3, 1), scheme=ARCHIVES) == ["before_1"]
    assert rules.deadline_reminders_due(due_at, local(2026, 5, 15, 0, 30), (3, 1), scheme=ARCHIVES) == []


def test_annual_summary_reminders_on_december_1_and_15_and_overdue_after_the_20th():
    assert rules.annual_summary_reminders_due(dt.date(2026, 11, 30), scheme=ARCHIVES) == []
    assert rules.annual_summary_reminders_due(dt.date(2026, 12, 1), scheme=ARCHIVES) == ["reminder_12-01"]
    assert rules.annual_summary_reminders_due(dt.date(2026, 12, 15), scheme=ARCHIVES) == ["reminder_12-15"]
    assert rules.annual_summary_reminders_due(dt.date(2026, 12, 20), scheme=ARCHIVES) == []
    assert rules.annual_summary_reminders_due(dt.date(2026, 12, 21), scheme=ARCHIVES) == ["overdue"]
