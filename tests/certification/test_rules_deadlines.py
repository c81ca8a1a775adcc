import datetime as dt

import pytest

from certification import rules
from certification.scheme import shipped_scheme
from tests.worlds import local

ARCHIVES = shipped_scheme("archives")


def test_rectification_deadline_is_local_midnight_after_the_last_day():
    returned = local(2026, 5, 10, 23, 30)
    assert rules.rectification_deadline(returned, scheme=ARCHIVES) == local(2026, 6, 10, 0, 0)


def test_rectification_deadline_counts_local_days_not_utc_days():
    # 2026-05-10 17:00 UTC is already 2026-05-11 01:00 in Shanghai: day one is May 11.
    returned = dt.datetime(2026, 5, 10, 17, 0, tzinfo=dt.UTC)
    assert rules.rectification_deadline(returned, days=1, scheme=ARCHIVES) == local(2026, 5, 13, 0, 0)


def test_rectification_deadline_refuses_a_period_under_one_day():
    with pytest.raises(ValueError):
        rules.rectification_deadline(local(2026, 5, 10), days=0, scheme=ARCHIVES)


def test_panel_scoring_deadline_is_fourteen_days_by_default():
    formed = local(2026, 12, 25, 9, 0)
    assert rules.panel_scoring_deadline(formed, scheme=ARCHIVES) == local(2027, 1, 9, 0, 0)


def test_lapse_happens_at_the_start_of_the_day_after_expiry():
    assert rules.lapses_at(dt.date(2027, 2, 28), scheme=ARCHIVES) == local(2027, 3, 1, 0, 0)
    assert rules.lapses_at(dt.date(2028, 2, 28), scheme=ARCHIVES) == local(2028, 2, 29, 0, 0)


def test_recheck_reminders_fall_at_window_opening_and_90_30_7_days_before():
    assert rules.recheck_reminder_days(dt.date(2029, 11, 21), scheme=ARCHIVES) == [
        ("window_open", dt.date(2029, 1, 1)),
        ("before_90", dt.date(2029, 8, 23)),
        ("before_30", dt.date(2029, 10, 22)),
        ("before_7", dt.date(2029, 11, 14)),
    ]


def test_recheck_reminders_for_an_early_year_expiry_open_with_the_90_day_reminder():
    days = dict(rules.recheck_reminder_days(dt.date(2027, 2, 28), scheme=ARCHIVES))
    assert days["window_open"] == days["before_90"] == dt.date(2026, 11, 30)


def test_declaration_window_and_annual_summary_due_dates():
    assert rules.declaration_window(2026, scheme=ARCHIVES) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert rules.annual_summary_due(2026, scheme=ARCHIVES) == dt.date(2026, 12, 20)


def test_one_year_wait_after_a_february_29_issue_ends_on_march_1():
    who = rules.Declarant(level="city", certificate=rules.HeldCertificate("second", dt.date(2024, 2, 29),
                                                                          dt.date(2027, 2, 28)))
    refused = rules.declaration_refusals(who, rules.Declaration("first", "promotion"), today=dt.date(2025, 2, 28), scheme=ARCHIVES)
    assert {r.code: r.params for r in refused}["promotion.one_year_wait"] == {"allowed_from": "2025-03-01"}


def test_an_incident_of_february_29_clears_on_march_1_two_years_on():
    assert rules.incident_clears_on(dt.date(2024, 2, 29), scheme=ARCHIVES) == dt.date(2026, 3, 1)


def test_local_date_needs_an_aware_moment():
    with pytest.raises(ValueError):
        rules.local_date(dt.datetime(2026, 1, 1, 12, 0))


def test_a_city_bureau_sends_this_years_summary_or_last_years():
    assert rules.annual_summary_years_open(dt.date(2026, 1, 1)) == (2026, 2025)
    assert rules.annual_summary_years_open(dt.date(2026, 12, 31)) == (2026, 2025)


def test_a_summary_not_sent_is_overdue_from_december_21_while_it_can_still_be_sent():
    assert not rules.annual_summary_overdue(2026, dt.date(2026, 12, 20), scheme=ARCHIVES)
    assert rules.annual_summary_overdue(2026, dt.date(2026, 12, 21), scheme=ARCHIVES)
    assert rules.annual_summary_overdue(2026, dt.date(2027, 6, 1), scheme=ARCHIVES)  # last year's, still open
    assert not rules.annual_summary_overdue(2026, dt.date(2028, 1, 1), scheme=ARCHIVES)  # closed: not sent, no longer chased


def test_forwarding_is_open_through_the_first_quarter_then_only_by_a_late_inclusion():
    assert rules.forward_by(2027, scheme=ARCHIVES) == dt.date(2027, 3, 31)
    assert rules.forward_refusals(2027, dt.date(2027, 3, 31), late_inclusion=False, scheme=ARCHIVES) == []
    assert [r.code for r in rules.forward_refusals(2027, dt.date(2027, 4, 1), late_inclusion=False, scheme=ARCHIVES)] == [
        "forward.deadline_passed"]
    assert rules.forward_refusals(2027, dt.date(2027, 4, 1), late_inclusion=True, scheme=ARCHIVES) == []
