"""The daily sweeps at 30,000 and at 300,000 certificates, with the same number due in both.

Seeds a throwaway database (a test database, on PostgreSQL by default, destroyed afterwards) with certificates
in force whose expiry dates lie outside every reminder window, plus the same due set at each size: 500
certificates that lapse today and 2,000 recheck reminders (500 each at the window's opening 90 days before,
30, and 7 days before, and 500 caught up from a day missed), each due holder with one user. Then runs every
daily sweep (lapses, recheck, rectification and scoring reminders, annual summary) and times them.

Runs on PostgreSQL by default, as ``benchmarks.pages`` does (``benchmarks.use_postgresql``:
``BENCH_DATABASE_URL`` if set, else the configured database if it is PostgreSQL, else the local default), and
counts the statements with ``benchmarks.count_queries``.

Keys: ``seconds_30k``, ``seconds_300k``, ``ratio`` (300k over 30k), ``queries_30k``, ``queries_300k``,
``lapsed`` and ``reminded`` (per size), ``engine``. Targets: ``ratio`` <= 3 and ``seconds_300k`` < 10 — the
work follows what is due, not what exists.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from . import count_queries, use_postgresql

DUE_LAPSES = 500
DUE_REMINDERS_PER_OFFSET = 500
TODAY = dt.date(2027, 6, 15)  # no window opens near it: the reminders due are the ones seeded
_serials = itertools.count(1)
_institutions = itertools.count(1)


def _world():
    from certification.enums import BureauLevel, RegionLevel
    from certification.models import Bureau, Region
    from certification.scheme import shipped_scheme, shipped_scheme_file
    from certification.services.schemes import scheme_load

    version = scheme_load(spec=shipped_scheme("archives"), source=shipped_scheme_file("archives").name).version
    province = Region.objects.create(name="省", code="420000", level=RegionLevel.PROVINCE)
    city = Region.objects.create(name="市", code="420100", level=RegionLevel.CITY, parent=province)
    top = Bureau.objects.create(name="省档案局", level=BureauLevel.PROVINCE, region=province)
    bureau = Bureau.objects.create(name="市档案局", level=BureauLevel.CITY, region=city, parent=top)
    return version, city, top, bureau


def _seed(world, expiries: list[dt.date], *, with_users: bool) -> None:
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import UserObjectPermission

    from certification.models import Certificate, Grade, Institution, User
    from certification.validators import uscc_check_character

    version, city, top, bureau = world
    grade = Grade.objects.get(version=version, code="second")
    for start in range(0, len(expiries), 5000):
        chunk = expiries[start:start + 5000]
        institutions = []
        for _ in chunk:
            n = next(_institutions)
            first17 = f"11420100{n:09d}"
            institutions.append(Institution(name=f"机关{n}", uscc=first17 + uscc_check_character(first17),
                                            level="city", region=city))
        Institution.objects.bulk_create(institutions)
        certificates = []
        for institution, expiry in zip(institutions, chunk, strict=True):
            serial = next(_serials)
            issued = expiry - dt.timedelta(days=3 * 365)
            certificates.append(Certificate(
                number=Certificate.format_number(issued.year, serial, version=version), year=issued.year, serial=serial,
                institution=institution, grade=grade, scheme_version=version, scheme_id=version.scheme_id,
                issued_on=issued, valid_until=expiry, issued_by=top, approved_by=bureau))
        Certificate.objects.bulk_create(certificates)
        if with_users:
            users = User.objects.bulk_create([User(username=f"holder{i.pk}", email=f"holder{i.pk}@example.org")
                                              for i in institutions])
            permission = Permission.objects.get(codename="act_for_institution")
            content_type = ContentType.objects.get_for_model(Institution)
            UserObjectPermission.objects.bulk_create([
                UserObjectPermission(user=u, permission=permission, content_type=content_type, object_pk=str(i.pk))
                for u, i in zip(users, institutions, strict=True)])


def _due_expiries() -> list[dt.date]:
    lapses = [TODAY - dt.timedelta(days=1)] * DUE_LAPSES
    reminders = []
    for days in (90, 30, 7):
        reminders += [TODAY + dt.timedelta(days=days)] * DUE_REMINDERS_PER_OFFSET
    reminders += [TODAY + dt.timedelta(days=29)] * DUE_REMINDERS_PER_OFFSET  # the 30-day one, a day late
    return lapses + reminders


def _quiet_expiries(count: int, offset: int) -> list[dt.date]:
    """Expiry dates in force and far from every reminder: 100 to 1,000 days ahead, skipping next January."""
    days = [d for d in range(100, 1001) if (TODAY + dt.timedelta(days=d)).year != TODAY.year + 1
            or (TODAY + dt.timedelta(days=d)).month > 3]
    return [TODAY + dt.timedelta(days=days[(offset + i) % len(days)]) for i in range(count)]


def _sweep(now: dt.datetime) -> tuple[float, int, dict]:
    from certification.services.certificates import certificates_lapse_due
    from notifications.sweeps import (
        annual_summary_send,
        recheck_reminders_send,
        rectification_reminders_send,
        scoring_deadlines_send,
    )

    with count_queries() as queries:
        start = time.perf_counter()
        counts = {
            "lapsed": certificates_lapse_due(now=now),
            "reminded": recheck_reminders_send(now=now),
            "rectification": rectification_reminders_send(now=now),
            "scoring": scoring_deadlines_send(now=now),
            "summary": annual_summary_send(now=now),
        }
        seconds = time.perf_counter() - start
    return seconds, queries.count, counts


def run() -> dict:
    from certification import rules

    use_postgresql()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    if connection.vendor != "sqlite":  # its own database, beside the test suite's
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_sweeps_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        world = _world()
        now = rules.start_of_local_day(TODAY) + dt.timedelta(minutes=15)
        _seed(world, _quiet_expiries(30_000 - DUE_LAPSES - 4 * DUE_REMINDERS_PER_OFFSET, 0), with_users=False)
        _seed(world, _due_expiries(), with_users=True)
        _sweep(now - dt.timedelta(days=400))  # warm caches: nothing is due then
        seconds_30k, queries_30k, counts_30k = _sweep(now)
        # the same number due again, with ten times the certificates
        _seed(world, _quiet_expiries(270_000, 7), with_users=False)
        _seed(world, _due_expiries(), with_users=True)
        seconds_300k, queries_300k, counts_300k = _sweep(now + dt.timedelta(hours=1))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return {
        "seconds_30k": round(seconds_30k, 3),
        "seconds_300k": round(seconds_300k, 3),
        "ratio": round(seconds_300k / seconds_30k, 2),
        "queries_30k": queries_30k,
        "queries_300k": queries_300k,
        "due_30k": counts_30k,
        "due_300k": counts_300k,
        "engine": connection.vendor,
        "at": timezone.now().isoformat(timespec="seconds"),
    }
