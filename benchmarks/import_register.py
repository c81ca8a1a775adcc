"""Day one: importing the paper register of 5,000 certificates already held from one .xlsx sheet.

Seeds a throwaway database (PostgreSQL by default, as ``benchmarks.sweeps`` does: ``benchmarks.use_postgresql``)
with the shipped scheme, a province and a city, and 5,500 institutions; writes a sheet of 500 certificates and
one of 5,000 (the same columns as the downloadable template, a tenth of them already expired so that they lapse
at import) and imports each through ``certificates_import`` as the province's certificate officer, counting the
statements with ``benchmarks.count_queries``.

Keys: ``seconds`` and ``queries`` (5,000 rows), ``seconds_500`` and ``queries_500``, ``imported``, ``lapsed``,
``engine``. Targets: ``seconds`` < 60, and ``queries`` about ``queries_500`` (the statements do not grow with
the rows: the rows are read in bulk and written in batches of a thousand).
"""

from __future__ import annotations

import datetime as dt
import io
import time

from django.db import connection
from django.utils import timezone

from . import count_queries, use_postgresql

ROWS = 5000
SMALL = 500
TODAY = dt.date(2026, 3, 2)


def _world():
    from certification import permissions
    from certification.enums import BureauLevel, Role
    from certification.models import Bureau, Institution, Region, User
    from certification.scheme import shipped_scheme, shipped_scheme_file
    from certification.services.schemes import scheme_load
    from certification.validators import uscc_check_character

    scheme_load(spec=shipped_scheme("archives"), source=shipped_scheme_file("archives").name)
    province = Region.objects.create(name="省", code="420000", level="province")
    city = Region.objects.create(name="市", code="420100", level="city", parent=province)
    top = Bureau.objects.create(name="省档案局", level=BureauLevel.PROVINCE, region=province)
    Bureau.objects.create(name="市档案局", level=BureauLevel.CITY, region=city, parent=top)
    institutions = []
    for n in range(ROWS + SMALL):
        first17 = f"11420100{n:09d}"
        institutions.append(Institution(name=f"机关{n}", uscc=first17 + uscc_check_character(first17),
                                        level="city", region=city))
    Institution.objects.bulk_create(institutions, batch_size=2000)
    officer = User.objects.create(username="officer")
    permissions.role_grant(user=officer, role=Role.CERTIFICATE_OFFICER, obj=top)
    return top, officer, institutions


def _sheet(institutions, start: int) -> io.BytesIO:
    from certification import rules
    from certification.scheme import shipped_scheme
    from certification.xlsx import new_workbook, workbook_bytes

    archives = shipped_scheme("archives")
    book = new_workbook()
    sheet = book.active
    sheet.append(["持证机关信用代码", "方案", "等级", "类别", "证书编号", "发证机关", "发证日期", "有效期至",
                  "确认函文号", "审批机关"])
    for n, institution in enumerate(institutions):
        issued = dt.date(2022, 1, 3) + dt.timedelta(days=(n * 7) % 1450)
        sheet.append([institution.uscc, "archives", ("省二级", "省一级", "省特级")[n % 3],
                      "晋级" if n % 5 else "复查", f"纸〔{issued.year}〕{start + n:05d}号", "420000",
                      issued, rules.valid_until(issued, scheme=archives), f"鄂档函〔{issued.year}〕{n}号", "420100"])
    return io.BytesIO(workbook_bytes(book))


def _import(top, officer, content) -> tuple[float, int, object]:
    from certification.services.spreadsheets import certificates_import

    now = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9, 0)))
    with count_queries() as queries:
        start = time.perf_counter()
        report = certificates_import(actor=officer, bureau=top, content=content, source="register.xlsx", now=now)
        seconds = time.perf_counter() - start
    if report.errors:
        raise RuntimeError(f"the benchmark's sheet has errors: {report.errors[:3]}")
    return seconds, queries.count, report


def run() -> dict:
    from certification.enums import CertificateStatus
    from certification.models import Certificate

    use_postgresql()
    if connection.vendor != "sqlite":  # its own database, beside the test suite's
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_register_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        top, officer, institutions = _world()
        small, large = _sheet(institutions[:SMALL], 0), _sheet(institutions[SMALL:], SMALL)
        seconds_500, queries_500, _report = _import(top, officer, small)
        seconds, queries, report = _import(top, officer, large)
        lapsed = Certificate.objects.filter(register_batch=report.batch, status=CertificateStatus.LAPSED).count()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return {
        "rows": ROWS,
        "seconds": round(seconds, 3),
        "queries": queries,
        "seconds_500": round(seconds_500, 3),
        "queries_500": queries_500,
        "imported": report.imported,
        "lapsed": lapsed,
        "engine": connection.vendor,
        "at": timezone.now().isoformat(timespec="seconds"),
    }
