"""The writes of a case's whole life: 200 cases from declaration to certificate, against a bare Viewflow flow.

Every step goes through the case actions the pages use (``workflows.actions``: ``case_declare``, ``task_act``
for each task's form, ``notice_publish``, ``case_issue_certificate``), the notice's timer through the beat
task's function, and the approval through its page (``django.test.Client``, signed in), with the clock moved
by time_machine where the notice period requires it. The cases move in waves, stage by stage, as a bureau's
year does.

A *transition* is an action that moves a case's process (declare, complete a task, publish the notice — one
per case listed —, a timer fired, the certificate issued); the other writes of a task (an item of a sheet, the
report, an on-site step) are counted apart. The floor is a bare flow of the same shape, View → If → Timer →
Function → End (``workflows.benchmark_floor.FloorFlow``), on the same database: its transitions are its start,
its view task completed, and its timer fired.

The approval's request is timed against a floor page: a signed-in GET of a page rendering ``base.html``
(``/__floor__/``, this module's urlconf). The approval freezes six documents' HTML and sends their drawing
on commit; the sending is recorded here instead of going to the broker (``drawings_sent``), so that no worker
draws them against another database.

Keys: ``cases``, ``cases_per_second``, ``seconds_per_transition``, ``queries_per_transition``,
``transitions_per_case``, ``seconds_per_write``, ``queries_per_write``, ``floor_seconds_per_transition``,
``floor_queries_per_transition``, ``transition_ratio`` (target <= 2), ``approval_seconds`` (median),
``approval_queries``, ``floor_page_seconds`` (median), ``approval_ratio`` (target <= 3), ``drawings_sent``,
``engine``. ``run()`` makes its own throwaway PostgreSQL database (``BENCH_DATABASE_URL``, else the local
server's ``certification`` database's server); :func:`measure` runs inside a database already set up and
makes the world it needs (a scheme if missing; its own regions, bureaus, institutions and people).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.urls import path
from django.views.generic import TemplateView

from .signin import force_login

CASES = 200
FLOOR_PAGE_REQUESTS = 30
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_DATABASE_URL = "postgres://certification:certification@127.0.0.1:5432/certification"


def _urlpatterns():
    from config.urls import urlpatterns

    return [path("__floor__/", login_required(TemplateView.as_view(template_name="base.html"))), *urlpatterns]


urlpatterns = _urlpatterns()


class _QueryCounter:
    """Counts the queries run through the connection (``connection.execute_wrapper``): Django's query log keeps
    only the last 9,000."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@dataclass
class _Cost:
    seconds: float = 0.0
    queries: int = 0
    count: int = 0

    def per(self) -> tuple[float, float]:
        return (self.seconds / self.count, self.queries / self.count) if self.count else (0.0, 0.0)


class _Meter:
    """Times and counts the queries of each action, as a transition (it moves a process) or another write."""

    def __init__(self):
        self.transitions, self.writes = _Cost(), _Cost()

    def __call__(self, fn, *, moves: int = 1):
        counter = _QueryCounter()
        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - start
        cost = self.transitions if moves else self.writes
        cost.seconds += seconds
        cost.queries += counter.count
        cost.count += moves or 1
        return result, seconds, counter.count


def _at(*args):
    import time_machine

    return time_machine.travel(dt.datetime(*args, tzinfo=SHANGHAI), tick=True)


# --- The world ------------------------------------------------------------------------------------------------
@dataclass
class _World:
    version: object
    county: object
    province: object
    people: dict
    experts: list
    region: object
    token: str


def _world() -> _World:
    """A scheme (loaded if missing), a province, city and county of its own with their bureaus (unique codes),
    the county bureau's staff, pre-checker and approver, the province's certificate officer, four experts."""
    from certification import permissions
    from certification.enums import BureauLevel, RegionLevel, Role
    from certification.models import Bureau, Expert, Region, User
    from certification.scheme import shipped_scheme, shipped_scheme_file
    from certification.services.schemes import scheme_load

    version = scheme_load(spec=shipped_scheme("archives"), source=shipped_scheme_file("archives").name).version
    token = secrets.token_hex(3)
    while True:  # a division code no other benchmark run took
        r = secrets.randbelow(90_000) + 10_000
        if not Region.objects.filter(code__startswith=f"9{r}").exists():
            break
    province = Region.objects.create(name=f"基准省{token}", code=f"9{r}", level=RegionLevel.PROVINCE)
    city = Region.objects.create(name=f"基准市{token}", code=f"9{r}01", level=RegionLevel.CITY, parent=province)
    county = Region.objects.create(name=f"基准县{token}", code=f"9{r}0101", level=RegionLevel.COUNTY, parent=city)
    top = Bureau.objects.create(name=f"基准省档案局{token}", level=BureauLevel.PROVINCE, region=province)
    middle = Bureau.objects.create(name=f"基准市档案局{token}", level=BureauLevel.CITY, region=city, parent=top)
    bureau = Bureau.objects.create(name=f"基准县档案局{token}", level=BureauLevel.COUNTY, region=county,
                                   parent=middle, supervision_phone="027-12345678")
    people = {name: User.objects.create(username=f"bench-{token}-{name}", full_name=name)
              for name in ("staff", "prechecker", "approver", "officer")}
    permissions.role_grant(user=people["staff"], role=Role.BUREAU_STAFF, obj=bureau)
    permissions.role_grant(user=people["prechecker"], role=Role.PRECHECKER, obj=bureau)
    permissions.role_grant(user=people["approver"], role=Role.APPROVER, obj=bureau)
    permissions.role_grant(user=people["officer"], role=Role.CERTIFICATE_OFFICER, obj=top)
    experts = [Expert.objects.create(name=f"基准专家{n}", pool=bureau,
                                     user=User.objects.create(username=f"bench-{token}-expert{n}"),
                                     term_starts_on=dt.date(2025, 1, 1), term_ends_on=dt.date(2032, 12, 31))
               for n in range(4)]
    return _World(version, bureau, top, people, experts, county, token)


def _applicant(world: _World, n: int):
    """A new county institution and its applicant user."""
    from certification import permissions
    from certification.enums import InstitutionLevel, Role
    from certification.models import Institution, User
    from certification.validators import uscc_check_character

    first17 = f"11{world.region.code[1:6]}{secrets.randbelow(10)}{n:09d}"
    institution = Institution.objects.create(
        name=f"基准机关{world.token}-{n}", uscc=first17 + uscc_check_character(first17),
        level=InstitutionLevel.COUNTY, region=world.region, head="张三", contact_name="李四",
        contact_phone="0710-1234567")
    user = User.objects.create(username=f"bench-{world.token}-applicant{n}")
    permissions.role_grant(user=user, role=Role.APPLICANT, obj=institution)
    return institution, user


# --- Driving the cases through the actions ----------------------------------------------------------------------
def _pdf(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", content_type="application/pdf")


def _data(action: str, fields: dict | None = None, **extra):
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data["action"] = action
    for key, value in (fields or {}).items():
        data.setlist(f"{action}-{key}", [str(v) for v in value] if isinstance(value, list) else [str(value)])
    for key, value in extra.items():
        data[key] = str(value)
    return data


class _Driver:
    def __init__(self, meter: _Meter):
        from workflows import actions, engine

        self.meter, self.actions, self.engine = meter, actions, engine

    def task(self, case, node: str, user=None):
        flow = self.engine._flow()
        tasks = self.engine.open_tasks(case).filter(flow_task=getattr(flow, node))
        if user is not None:
            tasks = [t for t in tasks if t.owner_id in (None, user.pk)]
        return list(tasks)[0]

    def act(self, case, node: str, user, action: str, fields=None, *, files=None, moves=1, **extra):
        from django.utils.datastructures import MultiValueDict

        task = self.task(case, node, user)
        data = _data(action, fields, **extra)
        uploads = MultiValueDict({k: [v] for k, v in (files or {}).items()})
        outcome, _s, _q = self.meter(lambda: self.actions.task_act(user=user, case=case, task=task, action=action,
                                                                   data=data, files=uploads), moves=moves)
        if not outcome.ok:
            errors = outcome.form.errors if outcome.form is not None else {}
            raise RuntimeError(f"{case.reference} {node}/{action}: {outcome.closed or outcome.refusal or errors}")
        return outcome


def _codes(case) -> list[str]:
    return [item.code for _c, item in case.scheme_version.specification().rubric_for(case.grade.code).items()]


def _drive(world: _World, cases: int, meter: _Meter, client) -> tuple[list, list[float], list[int]]:
    from django.urls import reverse

    from certification.enums import Kind
    from certification.models import Case, Notice, OnsiteStep
    from certification.services.panels import panel_member_sign_recusal
    from certification.tasks import fire_due_timers

    drive = _Driver(meter)
    staff, prechecker, approver = (world.people[k] for k in ("staff", "prechecker", "approver"))
    spec = world.version.specification()
    answers = {p.code: ("na" if p.na_allowed else "yes") for p in spec.prerequisites}
    declared = []
    with _at(2026, 1, 15, 9, 0):
        for n in range(cases):
            institution, applicant = _applicant(world, n)
            case, _s, _q = meter(lambda institution=institution, applicant=applicant: drive.actions.case_declare(
                scheme="archives",
                actor=applicant, institution=institution, grade="second", kind=Kind.PROMOTION, answers=answers,
                evidence={c: _pdf(f"{c}.pdf") for c, a in answers.items() if a == "yes"}))
            declared.append((case, applicant))
        for case, applicant in declared:
            drive.act(case, "plan", staff, "plan", {"decision": "include"})
            for code in _codes(case):
                drive.act(case, "self_check", applicant, "item", moves=0, item=code)
            drive.act(case, "self_check", applicant, "report", files={"report-report": _pdf("汇报材料.pdf")}, moves=0)
            drive.act(case, "self_check", applicant, "integrity", {"acknowledged": "on"}, moves=0)
            drive.act(case, "self_check", applicant, "submit")
            drive.act(case, "designate", staff, "designate", {"prechecker": prechecker.pk})
            drive.act(case, "precheck", prechecker, "decide", {"decision": "pass", "summary": "符合要求"})
    all_cases = [case for case, _a in declared]
    with _at(2026, 3, 1, 10, 0):
        notice, _s, _q = meter(lambda: drive.actions.notice_publish(
            actor=staff, bureau=world.county, cases=all_cases, title=f"2026年等级考评公示{world.token}"),
            moves=len(all_cases))
    closes = Notice.objects.get(pk=notice.pk).closes_at.astimezone(SHANGHAI) + dt.timedelta(minutes=1)
    approvals, approval_queries = [], []
    with _at(*closes.timetuple()[:5]):
        counter = _QueryCounter()
        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            fired = fire_due_timers()  # the beat task's function: the notice's timer of each case
            seconds = time.perf_counter() - start
        meter.transitions.seconds += seconds
        meter.transitions.queries += counter.count
        meter.transitions.count += fired
        members = world.experts[:3]
        for case in all_cases:
            drive.act(case, "form_panel", staff, "form", {"members": [e.pk for e in members],
                                                         "chair": members[0].pk})
            for seat in case.panel.memberships.select_related("expert__user"):  # the 回避声明, signed first
                drive.meter(lambda seat=seat: panel_member_sign_recusal(actor=seat.expert.user, member=seat),
                            moves=0)
            for expert in members:
                for code in _codes(case):
                    drive.act(case, "score", expert.user, "item", moves=0, item=code)
                drive.act(case, "score", expert.user, "submit")
            chair = members[0].user
            for step in OnsiteStep.values:
                drive.act(case, "onsite", chair, "step", {"step": step}, moves=0)
            drive.act(case, "onsite", chair, "done")
            drive.act(case, "conclude", chair, "consolidate", moves=0)
            drive.act(case, "conclude", chair, "conclude", {"conclusion": "达到标准"})
        force_login(client, approver)
        for case in all_cases:  # the approval through its page, as the approver posts it
            url = reverse("case_task", args=[case.pk, drive.task(case, "approve", approver).pk])
            payload = {"action": "decide", "decide-decision": "approve", "decide-reasons": "依据齐全，同意"}
            response, seconds, queries = meter(lambda url=url, payload=payload: client.post(url, payload))
            if response.status_code != 302:
                raise RuntimeError(f"{case.reference} approve: {response.status_code}")
            approvals.append(seconds)
            approval_queries.append(queries)
    with _at(2026, 4, 1, 9, 0):
        for case in all_cases:
            meter(lambda case=case: drive.actions.case_issue_certificate(actor=world.people["officer"],
                                                                         case=Case.objects.get(pk=case.pk)))
    return all_cases, approvals, approval_queries


# --- The floors -------------------------------------------------------------------------------------------------
def _floor_flow(count: int, user) -> _Cost:
    """``count`` bare processes: started, their view task completed, their timer fired (three transitions each)."""
    from viewflow.workflow.models import Task
    from viewflow.workflow.timers import fire_due_timers

    from workflows.benchmark_floor import FloorFlow

    meter = _Meter()

    def start():
        with transaction.atomic(durable=True):
            return FloorFlow.start.run()

    def complete(process):
        with transaction.atomic(durable=True), FloorFlow.lock(process.pk):
            task = Task.objects.get(process=process, flow_task=FloorFlow.task)
            activation = task.flow_task.activation_class(task)
            activation.assign(user)
            activation.start(None)
            activation.execute()

    with _at(2026, 1, 10, 9, 0):
        processes = [meter(start)[0] for _ in range(count)]
        for process in processes:
            meter(lambda process=process: complete(process))
    with _at(2026, 1, 12, 9, 0):
        counter = _QueryCounter()
        with connection.execute_wrapper(counter):
            begin = time.perf_counter()
            fired = fire_due_timers()
            seconds = time.perf_counter() - begin
    meter.transitions.seconds += seconds
    meter.transitions.queries += counter.count
    meter.transitions.count += fired
    done = sum(1 for p in processes if type(p).objects.get(pk=p.pk).status == "DONE")
    if done != count:
        raise RuntimeError(f"the floor's processes did not end: {done} of {count}")
    return meter.transitions


def _floor_page(client, user) -> tuple[float, int]:
    force_login(client, user)
    timings, queries = [], 0
    client.get("/__floor__/")  # warm the templates
    for _ in range(FLOOR_PAGE_REQUESTS):
        counter = _QueryCounter()
        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            response = client.get("/__floor__/")
            timings.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"floor page: {response.status_code}")
        queries = counter.count
    return statistics.median(timings), queries


# --- Entry points ---------------------------------------------------------------------------------------------
@contextmanager
def _bench_settings():
    """Uploads in a directory of their own, e-mail kept in memory, the test client's host allowed, this
    module's urlconf (the site's and the floor page), and the drawing of documents recorded, not sent."""
    from django.test.utils import override_settings

    from certification.services import documents

    sent = []
    with tempfile.TemporaryDirectory(prefix="bench-writes-") as media, override_settings(
            MEDIA_ROOT=media, EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            ALLOWED_HOSTS=["testserver", "localhost"], ROOT_URLCONF=__name__), \
            mock.patch.object(documents, "document_draw_send", lambda *, document_id: sent.append(document_id)):
        yield sent


def measure(*, cases: int = CASES) -> dict:
    """Drive ``cases`` cases through their whole life and the floors, in the current database."""
    from django.test import Client
    from django.utils import timezone

    from certification.models import Case

    with _bench_settings() as drawings:
        world = _world()
        client = Client()
        meter = _Meter()
        start = time.perf_counter()
        driven, approvals, approval_queries = _drive(world, cases, meter, client)
        total = time.perf_counter() - start
        certified = Case.objects.filter(pk__in=[c.pk for c in driven], outcome="certified",
                                        certificate__isnull=False).count()
        if certified != cases:
            raise RuntimeError(f"only {certified} of {cases} cases were certified")
        floor = _floor_flow(cases, world.people["staff"])
        page_seconds, page_queries = _floor_page(client, world.people["approver"])
    per_transition, queries_per_transition = meter.transitions.per()
    per_write, queries_per_write = meter.writes.per()
    floor_per, floor_queries = floor.per()
    approval = statistics.median(approvals)
    return {
        "cases": cases,
        "certified": certified,
        "seconds": round(total, 2),
        "cases_per_second": round(cases / total, 3),
        "transitions_per_case": round(meter.transitions.count / cases, 1),
        "seconds_per_transition": round(per_transition, 5),
        "queries_per_transition": round(queries_per_transition, 1),
        "writes_per_case": round(meter.writes.count / cases, 1),
        "seconds_per_write": round(per_write, 5),
        "queries_per_write": round(queries_per_write, 1),
        "floor_seconds_per_transition": round(floor_per, 5),
        "floor_queries_per_transition": round(floor_queries, 1),
        "transition_ratio": round(per_transition / floor_per, 2),
        "approval_seconds": round(approval, 4),
        "approval_queries": round(statistics.median(approval_queries)),
        "floor_page_seconds": round(page_seconds, 4),
        "floor_page_queries": page_queries,
        "approval_ratio": round(approval / page_seconds, 2),
        "drawings_sent": len(drawings),
        "engine": connection.vendor,
        "at": timezone.now().isoformat(timespec="seconds"),
    }


def _use_postgres() -> None:
    """Point the default connection at PostgreSQL (``BENCH_DATABASE_URL``, else the local server), whatever
    the settings say: the throwaway database is made beside that one."""
    import environ
    from django.conf import settings
    from django.db import connections

    url = os.environ.get("BENCH_DATABASE_URL")
    if url is None and connection.vendor == "postgresql":
        return
    config = environ.Env.db_url_config(url or DEFAULT_DATABASE_URL)
    connections["default"].close()
    settings.DATABASES["default"] = config
    connections.settings = connections.configure_settings(settings.DATABASES)
    del connections["default"]


def run() -> dict:
    from django.conf import settings

    settings.DEBUG = False  # measured as served in production: no query log kept per request
    from django.db import connections

    _use_postgres()
    default = connections["default"]
    default.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_writes_{default.settings_dict['NAME']}"
    old_name = default.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        return measure(cases=int(os.environ.get("BENCH_WRITES_CASES", CASES)))
    finally:
        default.creation.destroy_test_db(old_name, verbosity=0)
