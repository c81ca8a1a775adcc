"""Every page and API endpoint, for each role, at the demo's size and at a province's ten years.

``python -m benchmarks pages`` creates a throwaway PostgreSQL database (``bench_pages_<name>``, destroyed
afterwards) and:

1. seeds the demo (``certification.services.demo`` with the demo's real cases, declared and moved through
   ``workflows.actions``) plus a small spread of cases at every stage and outcome in its bureaus, and times
   every page for each demo login (applicant, bureau staff, pre-checker, approver, certificate officer,
   auditor, expert) and for the public;
2. grows it to a province's ten years (``benchmarks.seed``): 1 provincial, 16 city and 85 county bureaus,
   20,000 institutions, 2,000 experts, 60,000 cases over every stage and outcome with their processes and
   Viewflow tasks (about 3,500 open), score sheets with their lines, notices, panels, 50,000 certificates
   and the cases' audit entries; the demo's city bureau assesses 15% of the cases;
3. times the same pages again, for the same users and the same case, certificate and notice.

Each page is requested once to warm, then ``BENCH_REPEAT`` times (15; 5 below ``BENCH_SCALE=0.5``): p50 and p95 in milliseconds, their
ratio to the p50 of the floor (a signed-in page rendering the base template and nothing else, measured in the
same run at the same size), the statements per request (counted with ``benchmarks.count_queries``), and the
status. Targets: p50 within 3 and p95 within 5 times the floor at the province's size; ``failing`` names the
pages that miss them, ``errors`` those that did not answer 200.

Environment: ``BENCH_SCALE`` (default 1.0) scales the province's counts (0.05 runs in about a minute);
``BENCH_REPEAT`` the timed requests per page; ``BENCH_WRITES=0`` skips the writes; ``BENCH_KEEP=1`` keeps the database afterwards (to run
``EXPLAIN ANALYZE`` on it); ``BENCH_DATABASE_URL`` the PostgreSQL server to use. Without it,
a configured PostgreSQL database is used, and any other engine is replaced by
``postgres://certification:certification@127.0.0.1:5432/certification`` (``benchmarks.use_postgresql``).

Afterwards, if ``benchmarks/writes.py`` exists and has ``measure()``, its result is added under ``writes``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.utils import timezone

from . import count_queries, use_postgresql
from .signin import force_login

TARGET_P50, TARGET_P95 = 3, 5
REPEAT = 15
QUICK_REPEAT = 5  # a quick run (BENCH_SCALE below 0.5) is a check that everything answers, not a measurement
FLOOR = "/__floor__/"

# A province's ten years, at BENCH_SCALE=1 (the demo's bureaus, institutions and experts count towards it).
PROVINCE = {"cities": 16, "counties": 85, "institutions": 20_000, "experts": 2_000, "cases": 60_000,
            "certificates": 50_000}
# What the demo gets beside its own data: a case of each stage and outcome in its bureaus.
DEMO_EXTRA = {"institutions": 100, "experts": 40, "cases": 60}


# --- Building --------------------------------------------------------------------------------------------
def build_demo():
    """The demo world, its real cases and a small spread of seeded ones. Returns the seeder's ``World``."""
    from certification.models import Case, Expert, Institution
    from certification.services.demo import demo_seed
    from workflows.demo import demo_cases

    from . import seed

    demo_seed()
    demo_cases()
    world = seed.world_from_demo()
    seed.add_bureaus(world, cities=0, counties=0)  # staff for the demo's bureaus that have none
    seed.add_institutions(world, DEMO_EXTRA["institutions"])
    seed.add_experts(world, DEMO_EXTRA["experts"])
    seed.add_cases(world, DEMO_EXTRA["cases"])
    seed.finish(world)
    assert Case.objects.exists() and Expert.objects.exists() and Institution.objects.exists()
    _analyze()
    return world


def grow(world, scale: float = 1.0) -> dict[str, int]:
    """Grow the world to the province's counts times ``scale`` (never below what is there)."""
    from certification.models import Case, Certificate, Expert, Institution

    from . import seed

    want = {k: max(1, round(v * scale)) for k, v in PROVINCE.items()}
    seed.add_bureaus(world, cities=want["cities"], counties=want["counties"])
    seed.add_institutions(world, want["institutions"] - Institution.objects.count())
    seed.add_experts(world, want["experts"] - Expert.objects.count())
    seed.add_cases(world, want["cases"] - Case.objects.count())
    seed.add_certificates(world, want["certificates"] - Certificate.objects.count())
    seed.finish(world)
    _analyze()
    return want


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum keeps them on a live database."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def sizes() -> dict[str, int]:
    from viewflow.workflow.models import Task

    from certification.models import AuditEntry, Bureau, Case, Certificate, Expert, Institution, ScoreLine

    return {
        "bureaus": Bureau.objects.count(),
        "institutions": Institution.objects.count(),
        "cases": Case.objects.count(),
        "open_cases": Case.objects.filter(outcome="open").count(),
        "tasks": Task.objects.count(),
        "open_tasks": Task.objects.filter(flow_task_type="HUMAN", status__in=["NEW", "ASSIGNED"]).count(),
        "certificates": Certificate.objects.count(),
        "experts": Expert.objects.count(),
        "score_lines": ScoreLine.objects.count(),
        "audit_entries": AuditEntry.objects.count(),
    }


# --- What each role opens ----------------------------------------------------------------------------------
@dataclass
class Targets:
    """The objects each role's pages show, picked once at the demo's size and kept for the province's."""

    users: dict[str, object] = field(default_factory=dict)  # role -> user
    objects: dict[str, dict[str, int | str]] = field(default_factory=dict)  # role -> kind -> id
    public: dict[str, int | str] = field(default_factory=dict)


def pick_targets() -> Targets:
    from certification.enums import Role
    from certification.models import Certificate, User
    from certification.selectors import (
        cases_for_user,
        certificates_for_user,
        institutions_for_user,
        notices_public,
        objections_for_user,
        sheets_for_user,
    )
    from certification.services.demo import USERS
    from workflows.engine import inbox

    targets = Targets()
    for username, role, *_rest in USERS:
        user = User.objects.get(username=username)
        targets.users[str(role)] = user
        found: dict[str, int | str] = {}
        case = cases_for_user(user).order_by("-declared_at", "-pk").first()
        if case is not None:
            found["case"] = case.pk
        certificate = certificates_for_user(user).order_by("-issued_on", "-pk").first()
        if certificate is not None:
            found["certificate"] = certificate.pk
        sheet = sheets_for_user(user).order_by("pk").first()
        if sheet is not None:
            found["sheet"] = sheet.pk
        institution = institutions_for_user(user).order_by("pk").first()
        if institution is not None:
            found["institution"] = institution.pk
        if role in (Role.BUREAU_STAFF, Role.AUDITOR):
            objection = objections_for_user(user).order_by("pk").first()
            found["objection"] = objection.pk if objection else 0
        task = inbox(user).first()
        if task is not None:
            found["task"] = task.pk
        targets.objects[str(role)] = found
    notice = notices_public(state="open").order_by("-published_at").first() or notices_public().first()
    certificate = Certificate.objects.filter(status="in_force").order_by("pk").first()
    targets.public = {"notice": notice.pk, "token": certificate.verification_token}
    return targets


def api_cursor(position) -> str:
    """The API's cursor (DRF's encoding) for the page of cases declared before ``position``: the list's last
    page, as a client that walked there would ask for it."""
    from base64 import b64encode
    from urllib.parse import urlencode

    return quote(b64encode(urlencode({"p": str(position)}).encode("ascii")).decode("ascii"))


def pages_for(role: str, objects: dict, user) -> list[tuple[str, str]]:
    """(name, URL) of every page ``role`` may open, with its objects."""
    from certification.enums import Role
    from certification.selectors import cases_for_user

    visible = cases_for_user(user).order_by("-declared_at", "-pk")
    count = visible.count()
    # The list pages by keyset: its last page starts after the case 50 rows from the end.
    deep = visible[max(0, count - 51)] if count > 1 else None
    after = f"?after={quote(f'{deep.declared_at.isoformat()}_{deep.pk}')}" if deep else ""
    pages = [("home", "/"), ("inbox", "/tasks/"), ("cases", "/cases/"), ("cases deep", f"/cases/{after}"),
             ("api cases deep", f"/api/v1/cases/?cursor={api_cursor(deep.declared_at)}" if deep else "/api/v1/cases/")]
    if "case" in objects:
        pages += [("case", f"/cases/{objects['case']}/"), ("documents", f"/cases/{objects['case']}/documents/")]
    if "certificate" in objects:
        pages.append(("certificate", f"/certificates/{objects['certificate']}/"))
    if role == Role.BUREAU_STAFF:
        pages += [("bureau notices", "/bureau/notices/publish/"), ("late declarations", "/bureau/late-declarations/"),
                  ("filings", "/filings/")]
    if role in (Role.BUREAU_STAFF, Role.APPROVER, Role.AUDITOR):
        pages += [("dashboard", "/oversight/dashboard/"), ("api dashboard", "/api/v1/statistics/dashboard/")]
    if role == Role.CERTIFICATE_OFFICER:
        pages.append(("certificate queue", "/certificates/queue/"))
    api = [("cases", "case"), ("tasks", "task"), ("sheets", "sheet"), ("certificates", "certificate"),
           ("institutions", "institution"), ("filings", "filing")]
    if "objection" in objects:
        api.append(("objections", "objection"))
    for endpoint, kind in api:
        pages.append((f"api {endpoint}", f"/api/v1/{endpoint}/"))
        if objects.get(kind):
            pages.append((f"api {endpoint} detail", f"/api/v1/{endpoint}/{objects[kind]}/"))
    return pages


def public_pages(public: dict) -> list[tuple[str, str]]:
    return [("notices", "/notices/"), ("notices archive", "/notices/archive/"),
            ("notice", f"/notices/{public['notice']}/"), ("verify", f"/verify/{public['token']}"),
            ("api notices", "/api/v1/notices/"), ("api notice detail", f"/api/v1/notices/{public['notice']}/"),
            ("api verify", f"/api/v1/verify/{public['token']}/")]


# --- Timing ------------------------------------------------------------------------------------------------
_addresses = iter(range(1, 10**9))


def _address() -> str:
    """A fresh client address per request: the public pages' rate limits count per address."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def time_page(client, url: str, repeat: int, *, warm: bool = True) -> dict:
    """Warm once, then ``repeat`` timed requests: p50 and p95 in ms, statements per request, the status."""
    status = client.get(url, REMOTE_ADDR=_address()).status_code if warm else 200
    timings, queries = [], []
    for _ in range(repeat):
        with count_queries() as counted:
            start = time.perf_counter()
            response = client.get(url, REMOTE_ADDR=_address())
            timings.append(time.perf_counter() - start)
        queries.append(counted.count)
        status = status if status != 200 else response.status_code
    timings.sort()
    p95 = timings[min(len(timings) - 1, math.ceil(0.95 * len(timings)) - 1)]
    return {"p50": round(statistics.median(timings) * 1000, 2), "p95": round(p95 * 1000, 2),
            "queries": int(statistics.median(queries)), "status": status}


@contextmanager
def _site() -> Iterator[None]:
    """The site's URLs with the floor page; the client's rate limits and messages as in production."""
    from django.test.utils import override_settings

    with override_settings(ROOT_URLCONF="benchmarks.urls", ALLOWED_HOSTS=["testserver", "localhost"]):
        yield


def measure(targets: Targets, *, repeat: int = REPEAT, warm: bool = True) -> dict:
    """Time the floor and every page of every role. Returns {"floor": row, "pages": {"<role> <name>": row}}."""
    import gc

    from django.test import Client

    rows: dict[str, dict] = {}
    # As a worker does at start-up (config/wsgi.py): what is loaded by now lives on, out of the collector's way.
    gc.collect()
    gc.freeze()
    with _site():
        floor_client = Client()
        force_login(floor_client, targets.users["bureau_staff"])
        floor = time_page(floor_client, FLOOR, repeat, warm=warm)
        for role, user in targets.users.items():
            client = Client()
            force_login(client, user)
            for name, url in pages_for(role, targets.objects[role], user):
                rows[f"{role} {name}"] = {**time_page(client, url, repeat, warm=warm), "url": url}
        anonymous = Client()
        for name, url in public_pages(targets.public):
            rows[f"public {name}"] = {**time_page(anonymous, url, repeat, warm=warm), "url": url}
    base = floor["p50"] or 1e-9
    for row in rows.values():
        row["ratio50"] = round(row["p50"] / base, 2)
        row["ratio95"] = round(row["p95"] / base, 2)
    return {"floor": floor, "pages": rows}


def report(demo: dict, province: dict, *, sizes_demo: dict, sizes_province: dict, seconds: dict) -> dict:
    """The JSON line: each page at both sizes, whether it meets the targets at the province's size."""
    pages, failing, errors = {}, [], []
    for name, big in province["pages"].items():
        small = demo["pages"].get(name)
        meets = big["status"] == 200 and big["ratio50"] <= TARGET_P50 and big["ratio95"] <= TARGET_P95
        pages[name] = {"demo": small, "province": big,
                       "same_queries": small is not None and small["queries"] == big["queries"], "meets": meets}
        if not meets:
            failing.append(name)
        for size, row in (("demo", small), ("province", big)):
            if row is not None and row["status"] != 200:
                errors.append(f"{name} ({size}): {row['status']}")
    return {
        "floor_ms": province["floor"]["p50"],
        "floor_ms_demo": demo["floor"]["p50"],
        "floor_queries": province["floor"]["queries"],
        "pages": pages,
        "targets": {"p50_ratio": TARGET_P50, "p95_ratio": TARGET_P95},
        "failing": failing,
        "errors": errors,
        "sizes": sizes_province,
        "sizes_demo": sizes_demo,
        "engine": connection.vendor,
        "seconds_to_build": seconds["province"],
        "seconds_to_build_demo": seconds["demo"],
        "at": timezone.now().isoformat(timespec="seconds"),
    }


def writes_result() -> dict | None:
    """The write benchmark's result, if ``benchmarks/writes.py`` is there with a ``measure()``."""
    if os.environ.get("BENCH_WRITES") == "0" or importlib.util.find_spec("benchmarks.writes") is None:
        return None
    module = importlib.import_module("benchmarks.writes")
    if not hasattr(module, "measure"):
        return None
    try:
        return module.measure()
    except Exception as exc:  # noqa: BLE001 - reported in the JSON, not hidden
        return {"error": f"{type(exc).__name__}: {exc}"}


def benchmark(scale: float, *, repeat: int = REPEAT) -> dict:
    """Build, measure, grow, measure again (in the current database)."""
    start = time.perf_counter()
    world = build_demo()
    seconds = {"demo": round(time.perf_counter() - start, 1)}
    targets = pick_targets()
    sizes_demo = sizes()
    demo = measure(targets, repeat=repeat)
    start = time.perf_counter()
    grow(world, scale)
    seconds["province"] = round(time.perf_counter() - start, 1)
    sizes_province = sizes()
    province = measure(targets, repeat=repeat)
    result = report(demo, province, sizes_demo=sizes_demo, sizes_province=sizes_province, seconds=seconds)
    result["scale"] = scale
    writes = writes_result()
    if writes is not None:
        result["writes"] = writes
    return result


def run() -> dict:
    settings.DEBUG = False  # measured as served in production: no query log kept per request
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    repeat = int(os.environ.get("BENCH_REPEAT", str(REPEAT if scale >= 0.5 else QUICK_REPEAT)))
    use_postgresql()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    media = tempfile.TemporaryDirectory(prefix="bench-pages-")
    settings.MEDIA_ROOT = media.name
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_pages_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        return benchmark(scale, repeat=repeat)
    finally:
        if os.environ.get("BENCH_KEEP") != "1":  # BENCH_KEEP=1 keeps the database, to EXPLAIN its queries
            connection.creation.destroy_test_db(old_name, verbosity=0)
        media.cleanup()
