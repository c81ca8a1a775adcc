"""Time rules of the archives scheme (DESIGN §3.6): public notice, validity, recheck window.

Pure functions, no database. The expected values come from the specification, not from the code.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from certification import rules
from certification.scheme import shipped_scheme
from tests.worlds import SHANGHAI, local

ARCHIVES = shipped_scheme("archives")

UTC = dt.UTC
SEVEN_DAYS = dt.timedelta(days=7)


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


# --- Public notice: closes at the first local midnight at or after T + 7 × 24 h -------------------------
@pytest.mark.parametrize(
    ("published_at", "expected"),
    [
        # exactly local midnight: T + 7 days is itself a midnight
        (local(2026, 5, 1, 0, 0, 0), local(2026, 5, 8, 0, 0, 0)),
        # one second past midnight: the next midnight
        (local(2026, 5, 1, 0, 0, 1), local(2026, 5, 9, 0, 0, 0)),
        # one microsecond past midnight
        (local(2026, 5, 1, 0, 0, 0, 1), local(2026, 5, 9, 0, 0, 0)),
        # one second before midnight
        (local(2026, 5, 1, 23, 59, 59), local(2026, 5, 9, 0, 0, 0)),
        # mid-afternoon
        (local(2026, 5, 1, 15, 30), local(2026, 5, 9, 0, 0, 0)),
        # across a month end and a year end
        (local(2026, 12, 28, 9, 0), local(2027, 1, 5, 0, 0, 0)),
        # across February 29 of a leap year
        (local(2028, 2, 25, 10, 0), local(2028, 3, 4, 0, 0, 0)),
    ],
)
def test_notice_closes_at_local_times(published_at, expected):
    assert rules.notice_closes_at(published_at, scheme=ARCHIVES) == expected


def test_notice_closes_at_utc_midnight_of_shanghai_is_exact():
    # 16:00 UTC is 00:00 the next day in Shanghai: a local midnight, so exactly 7 days later
    assert rules.notice_closes_at(utc(2026, 4, 30, 16, 0, 0), scheme=ARCHIVES) == local(2026, 5, 8, 0, 0, 0)


def test_notice_closes_at_utc_late_evening_is_already_next_day_in_shanghai():
    # 2026-05-01 20:00 UTC is 2026-05-02 04:00 in Shanghai; +7 days is 2026-05-09 04:00 local
    published_at = utc(2026, 5, 1, 20, 0)
    closes = rules.notice_closes_at(published_at, scheme=ARCHIVES)
    assert closes == local(2026, 5, 10, 0, 0, 0)
    assert closes == utc(2026, 5, 9, 16, 0, 0)


def test_notice_closes_at_utc_just_before_shanghai_midnight():
    # 15:59:59 UTC is 23:59:59 in Shanghai on the same date
    assert rules.notice_closes_at(utc(2026, 5, 1, 15, 59, 59), scheme=ARCHIVES) == local(2026, 5, 9, 0, 0, 0)


def test_notice_closes_at_other_zone_input():
    new_york = ZoneInfo("America/New_York")
    # 2026-05-01 12:00 EDT is 2026-05-02 00:00 in Shanghai: a local midnight
    assert rules.notice_closes_at(dt.datetime(2026, 5, 1, 12, 0, tzinfo=new_york), scheme=ARCHIVES) == local(
        2026, 5, 9, 0, 0, 0
    )


def test_notice_closes_at_naive_datetime_raises_value_error():
    with pytest.raises(ValueError):
        rules.notice_closes_at(dt.datetime(2026, 5, 1, 0, 0), scheme=ARCHIVES)


@pytest.mark.parametrize("hour", range(24))
@pytest.mark.parametrize("minute", [0, 1, 59])
def test_notice_closes_at_aware_local_midnight_at_least_seven_days(hour, minute):
    published_at = utc(2026, 3, 10, hour, minute, 0)
    closes = rules.notice_closes_at(published_at, scheme=ARCHIVES)
    assert closes.tzinfo is not None
    assert closes.utcoffset() is not None
    assert closes - published_at >= SEVEN_DAYS
    assert closes - published_at < SEVEN_DAYS + dt.timedelta(days=1)
    assert closes.astimezone(SHANGHAI).time() == dt.time(0, 0, 0)


# --- Validity: through the day before D + 3 years; Feb 29 → Mar 1 ----------------------------------------
@pytest.mark.parametrize(
    ("issued_on", "expected"),
    [
        (dt.date(2026, 11, 22), dt.date(2029, 11, 21)),
        (dt.date(2024, 2, 29), dt.date(2027, 2, 28)),
        (dt.date(2028, 2, 29), dt.date(2031, 2, 28)),
        (dt.date(2023, 2, 28), dt.date(2026, 2, 27)),
        (dt.date(2025, 2, 28), dt.date(2028, 2, 27)),
        (dt.date(2025, 3, 1), dt.date(2028, 2, 29)),
        (dt.date(2024, 3, 1), dt.date(2027, 2, 28)),
        (dt.date(2026, 1, 1), dt.date(2028, 12, 31)),
        (dt.date(2026, 12, 31), dt.date(2029, 12, 30)),
    ],
)
def test_valid_until_table(issued_on, expected):
    assert rules.valid_until(issued_on, scheme=ARCHIVES) == expected


def test_valid_until_returns_a_date_not_a_datetime():
    result = rules.valid_until(dt.date(2026, 11, 22), scheme=ARCHIVES)
    assert type(result) is dt.date


# --- Recheck window: Jan 1 of the expiry year, or expiry − 90 days for an early-year expiry -------------
@pytest.mark.parametrize(
    ("expiry", "expected"),
    [
        # late in the year: opens January 1
        (dt.date(2029, 11, 21), (dt.date(2029, 1, 1), dt.date(2029, 11, 21))),
        (dt.date(2029, 12, 31), (dt.date(2029, 1, 1), dt.date(2029, 12, 31))),
        # early in the year: opens 90 days before the expiry date
        (dt.date(2027, 2, 28), (dt.date(2026, 11, 30), dt.date(2027, 2, 28))),
        (dt.date(2027, 1, 1), (dt.date(2026, 10, 3), dt.date(2027, 1, 1))),
        # 89 days after January 1: still early
        (dt.date(2027, 3, 31), (dt.date(2026, 12, 31), dt.date(2027, 3, 31))),
        # exactly 90 days after January 1: January 1
        (dt.date(2027, 4, 1), (dt.date(2027, 1, 1), dt.date(2027, 4, 1))),
        # leap year: 2028-03-31 is exactly 90 days after January 1
        (dt.date(2028, 3, 31), (dt.date(2028, 1, 1), dt.date(2028, 3, 31))),
        (dt.date(2028, 3, 30), (dt.date(2027, 12, 31), dt.date(2028, 3, 30))),
    ],
)
def test_recheck_window_table(expiry, expected):
    assert rules.recheck_window(expiry, scheme=ARCHIVES) == expected


@pytest.mark.parametrize(
    "expiry",
    [dt.date(2027, 1, 1) + dt.timedelta(days=n) for n in range(0, 365, 7)],
)
def test_recheck_window_always_at_least_ninety_days_and_ends_on_expiry(expiry):
    first_day, last_day = rules.recheck_window(expiry, scheme=ARCHIVES)
    assert last_day == expiry
    assert (last_day - first_day).days >= 90
    assert first_day <= dt.date(expiry.year, 1, 1)


def test_recheck_window_of_a_leap_day_certificate():
    # issued 2024-02-29 → valid through 2027-02-28 → window opens 2026-11-30
    expiry = rules.valid_until(dt.date(2024, 2, 29), scheme=ARCHIVES)
    assert rules.recheck_window(expiry, scheme=ARCHIVES) == (dt.date(2026, 11, 30), dt.date(2027, 2, 28))


# --- The walk: deadlines read as their last day; an objector's contact is a phone number or an e-mail address
def test_a_deadline_at_midnight_reads_as_the_end_of_its_last_day():
    import datetime as dt
    from zoneinfo import ZoneInfo

    from certification import rules

    returned = dt.datetime(2026, 11, 30, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    due = rules.rectification_deadline(returned, 15, scheme=ARCHIVES)
    assert (rules.deadline_last_day(due), rules.deadline_text(due)) == (dt.date(2026, 12, 15), "2026-12-15 24:00")
    noon = dt.datetime(2026, 12, 15, 12, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert (rules.deadline_last_day(noon), rules.deadline_text(noon)) == (dt.date(2026, 12, 15), "2026-12-15 12:30")


def test_an_objectors_contact_is_a_phone_number_or_an_e_mail_address():
    from certification import rules

    kinds = {v: rules.contact_kind(v) for v in ("13800138000", "+86 138 0013 8000", "027-87654321",
                                                "（027）87654321", "0710-1234567-802", "400-123-4567",
                                                "wang@example.cn", "王五家", "12345", "微信：wangwu")}
    assert kinds == {"13800138000": "phone", "+86 138 0013 8000": "phone", "027-87654321": "phone",
                     "（027）87654321": "phone", "0710-1234567-802": "phone", "400-123-4567": "phone",
                     "wang@example.cn": "email", "王五家": None, "12345": None, "微信：wangwu": None}


def test_a_rule_has_no_default_scheme():
    """A rule read without its case's scheme is a programming error, never the archives scheme in disguise;
    only the calendar helpers fall back on the deployment's zone."""
    import inspect

    with pytest.raises(TypeError):
        rules.valid_until(dt.date(2026, 5, 20))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        rules.aggregate_totals([Decimal("90"), Decimal("80")])  # type: ignore[call-arg]
    defaulted = sorted(name for name, function in inspect.getmembers(rules, inspect.isfunction)
                       if "scheme" in inspect.signature(function).parameters
                       and inspect.signature(function).parameters["scheme"].default is not inspect.Parameter.empty)
    assert defaulted == ["deadline_last_day", "deadline_text", "local_date", "scheme_zone", "start_of_local_day"]
    assert rules.local_date(dt.datetime(2026, 5, 19, 17, 0, tzinfo=dt.UTC)) == dt.date(2026, 5, 20)
