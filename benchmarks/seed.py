"""A province's ten years of certification, seeded in bulk for the page benchmark (``benchmarks.pages``).

``World`` starts from the demo (``certification.services.demo`` and the demo's real cases, declared through
``workflows.demo``) and ``grow`` adds bureaus, institutions with their applicant users, experts, cases at every
stage and outcome with everything a case at that point has (its process and tasks as Viewflow stores them,
score sheets with their lines, the pre-check, the notice, the panel, the certificate, the audit entries), until
the database holds the sizes asked for. Rows are written with PostgreSQL's COPY (``bulk_create`` on another
engine), their ids taken from the tables' sequences, so that ten years of a province build in a few minutes.

Simplifications, on purpose: every case is a promotion (no recheck), the audit log holds the case-level
entries (not one per sheet line), a withdrawn or cancelled case stopped at the self-check or the pre-check.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

# The cases' final states, with their share of all cases (ten years: about 5% of cases open today, ~3,500
# open tasks at 60,000 cases). Open states are stages, the others outcomes (Case.stage/outcome).
OPEN_SHARES = {
    "declared": 0.0066, "planned": 0.0083, "precheck": 0.0066, "rectification": 0.00275, "notice": 0.0055,
    "panel": 0.0044, "review": 0.0066, "approval": 0.0044, "certificate": 0.0083,
}
CLOSED_SHARES = {
    "certified": 0.66, "plan_refused": 0.055, "rectification_missed": 0.045, "objection_upheld": 0.02,
    "panel_failed": 0.05, "approval_refused": 0.02, "withdrawn": 0.055, "cancelled": 0.04,
}
SHARES = {**OPEN_SHARES, **CLOSED_SHARES}
# Who assesses the cases: the demo's city bureau (武汉市, where the demo's staff work) a large share, the
# province a small one, the other city bureaus and the county bureaus the rest.
CITY_SHARE, PROVINCE_SHARE, OTHER_CITIES_SHARE = 0.15, 0.05, 0.20
PANEL_SIZE = 3
DEMO_CITY = "420100"
ITEMS_PER_SHEET = 18


@dataclass
class Staff:
    staff: int
    prechecker: int
    approver: int


@dataclass
class World:
    """What the seeder knows of the database it grows (ids only)."""

    version_id: int
    scheme_id: int
    grades: dict[str, int]  # code -> Grade id
    items: list[tuple[str, Decimal]]  # the rubric's (item code, max points)
    province_id: int
    province_region_id: int
    bureaus: dict[int, dict] = field(default_factory=dict)  # id -> {level, region, parent, code}
    staff: dict[int, Staff] = field(default_factory=dict)
    institutions: dict[int, list[int]] = field(default_factory=dict)  # bureau id -> its applicants
    applicants: dict[int, int] = field(default_factory=dict)  # institution id -> its user
    experts: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # pool bureau -> (expert, user)
    demo_expert: tuple[int, int] | None = None
    open_institutions: set[int] = field(default_factory=set)
    current_certificates: set[int] = field(default_factory=set)  # institutions holding a current one
    serials: dict[int, int] = field(default_factory=dict)
    pointer: dict[int, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(20261130))
    now: dt.datetime = field(default_factory=timezone.now)
    codes: itertools.count = field(default_factory=lambda: itertools.count(1))


# --- Writing rows ------------------------------------------------------------------------------------------
def next_ids(model, n: int) -> list[int]:
    """``n`` fresh primary keys of ``model``'s table, from its sequence (so later inserts do not collide)."""
    if n <= 0:
        return []
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [table, n])
            return [row[0] for row in cursor.fetchall()]
    start = (model._base_manager.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    start = max(start, getattr(model, "_bench_next", 1))
    model._bench_next = start + n
    return list(range(start, start + n))


def insert(model, rows: list[dict]) -> int:
    """Insert ``rows`` (dicts of attribute names; the same keys in each) into ``model``'s table; columns left
    out take the model's default. COPY on PostgreSQL, ``bulk_create`` elsewhere."""
    if not rows:
        return 0
    given = list(rows[0])
    fixed, per_row = {}, {}
    for f in model._meta.concrete_fields:
        if f.attname in given or f.primary_key:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) or f.default is timezone.now:
            fixed[f.attname] = timezone.now()
        elif f.has_default() and callable(f.default):
            per_row[f.attname] = f.default
        else:
            fixed[f.attname] = f.get_db_prep_save(f.get_default(), connection)
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row, **fixed, **{k: fn() for k, fn in per_row.items()})
                                   for row in rows], batch_size=2000)
        return len(rows)
    from psycopg.types.json import Jsonb

    fields = {f.attname: f for f in model._meta.concrete_fields}
    columns = given + list(fixed) + list(per_row)
    json_at = [i for i, name in enumerate(given) if fields[name].get_internal_type() == "JSONField"]
    quoted = ", ".join(connection.ops.quote_name(fields[c].column) for c in columns)
    tail = list(fixed.values())
    makers = list(per_row.values())
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                values = list(row.values())
                for i in json_at:
                    values[i] = Jsonb(values[i]) if values[i] is not None else None
                copy.write_row(values + tail + [fn() for fn in makers])
    return len(rows)


# --- The world ---------------------------------------------------------------------------------------------
def world_from_demo() -> World:
    """Read the demo's bureaus, staff, institutions and experts into a ``World`` (the demo must be seeded)."""
    from certification.enums import BureauLevel
    from certification.models import Bureau, Expert, Grade, Scheme, User
    from certification.services.demo import DEMO_EXPERT, PROVINCE

    version = Scheme.objects.get(code="archives").current_version()
    spec = version.specification()
    province = Bureau.objects.get(region__code=PROVINCE[0])
    world = World(version_id=version.pk, scheme_id=version.scheme_id,
                  grades=dict(Grade.objects.filter(version=version).values_list("code", "pk")),
                  items=[(item.code, item.max_points) for _c, item in spec.rubric_for("second").items()],
                  province_id=province.pk, province_region_id=province.region_id)
    for b in Bureau.objects.select_related("region"):
        world.bureaus[b.pk] = {"level": b.level, "region": b.region_id, "parent": b.parent_id, "code": b.region.code}
        world.institutions[b.pk] = []
    users = {u.username: u.pk for u in User.objects.filter(username__in=["bureau", "prechecker", "approver"])}
    city = Bureau.objects.get(region__code=DEMO_CITY)
    world.staff[city.pk] = Staff(users["bureau"], users["prechecker"], users["approver"])
    for b in world.bureaus:
        world.experts[b] = []
    # the demo applicant's institution applies too, so that the demo's applicant has cases of its own
    from certification.models import Institution
    from certification.services.demo import APPLICANT_INSTITUTION

    own = Institution.objects.get(name=APPLICANT_INSTITUTION)
    world.institutions[city.pk].append(own.pk)
    world.applicants[own.pk] = User.objects.get(username="applicant").pk
    demo_expert = Expert.objects.get(pool__region__code=DEMO_EXPERT[0], name=DEMO_EXPERT[1])
    world.demo_expert = (demo_expert.pk, demo_expert.user_id)
    world.experts[demo_expert.pool_id].append(world.demo_expert)
    from certification.models import Certificate, CertificateSerial

    world.current_certificates = set(Certificate.objects.filter(
        status__in=["in_force", "recheck_in_progress", "suspended"]).values_list("institution_id", flat=True))
    world.serials = dict(CertificateSerial.objects.filter(scheme_id=world.scheme_id).values_list("year", "last"))
    from certification.models import Case

    world.open_institutions = set(Case.objects.filter(outcome="open").values_list("institution_id", flat=True))
    assert BureauLevel.PROVINCE == world.bureaus[province.pk]["level"]
    return world


def _uscc(region_code: str, n: int) -> str:
    from certification.validators import uscc_check_character

    first17 = f"12{region_code[:6]}{n:09d}"  # "12": a public institution, never the demo's "11" organs
    return first17 + uscc_check_character(first17)


def _users(world: World, names: list[str], role: str) -> list[int]:
    from django.contrib.auth.models import Group

    from certification.models import User

    ids = next_ids(User, len(names))
    insert(User, [{"id": i, "username": name, "password": "!", "email": f"{name}@bench.invalid",
                   "full_name": name, "is_active": True, "date_joined": world.now} for i, name in zip(ids, names,
                                                                                                        strict=True)])
    group = Group.objects.get_or_create(name=role)[0]
    insert(User.groups.through, [{"user_id": i, "group_id": group.pk} for i in ids])
    return ids


def _grant(user_ids: list[int], perm: str, model, object_ids: list[int]) -> None:
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import UserObjectPermission

    permission = Permission.objects.get(codename=perm.partition(".")[2])
    ct = ContentType.objects.get_for_model(model)
    insert(UserObjectPermission, [{"user_id": u, "permission_id": permission.pk, "content_type_id": ct.pk,
                                   "object_pk": str(o)} for u, o in zip(user_ids, object_ids, strict=True)])


def add_bureaus(world: World, *, cities: int, counties: int) -> None:
    """New city bureaus and county bureaus (each with its region) up to ``cities`` and ``counties``."""
    from certification.models import Bureau, Region

    def level_count(level):
        return sum(1 for b in world.bureaus.values() if b["level"] == level)

    used = {b["code"] for b in world.bureaus.values()}
    new_cities = max(0, cities - level_count("city"))
    city_codes = [c for c in (f"42{n:02d}00" for n in range(2, 99)) if c not in used][:new_cities]
    for kind, codes in (("city", city_codes),):
        region_ids, bureau_ids = next_ids(Region, len(codes)), next_ids(Bureau, len(codes))
        insert(Region, [{"id": r, "name": f"第{code[2:4]}市", "code": code, "level": kind,
                         "parent_id": world.province_region_id} for r, code in zip(region_ids, codes, strict=True)])
        insert(Bureau, [{"id": b, "name": f"第{code[2:4]}市档案局", "level": kind, "region_id": r,
                         "parent_id": world.province_id} for b, r, code in zip(bureau_ids, region_ids, codes,
                                                                                strict=True)])
        for b, r, code in zip(bureau_ids, region_ids, codes, strict=True):
            world.bureaus[b] = {"level": kind, "region": r, "parent": world.province_id, "code": code}
            world.institutions[b], world.experts[b] = [], []
    city_list = sorted(b for b, v in world.bureaus.items() if v["level"] == "city")
    new_counties = max(0, counties - level_count("county"))
    rows_r, rows_b = [], []
    region_ids, bureau_ids = next_ids(Region, new_counties), next_ids(Bureau, new_counties)
    per_city = {c: 0 for c in city_list}
    for n, (r, b) in enumerate(zip(region_ids, bureau_ids, strict=True)):
        city = city_list[n % len(city_list)]
        per_city[city] += 1
        code = world.bureaus[city]["code"][:4] + f"{30 + per_city[city]:02d}"
        rows_r.append({"id": r, "name": f"{code}县", "code": code, "level": "county",
                       "parent_id": world.bureaus[city]["region"]})
        rows_b.append({"id": b, "name": f"{code}县档案局", "level": "county", "region_id": r, "parent_id": city})
        world.bureaus[b] = {"level": "county", "region": r, "parent": city, "code": code}
        world.institutions[b], world.experts[b] = [], []
    insert(Region, rows_r)
    insert(Bureau, rows_b)
    _add_staff(world)


def _add_staff(world: World) -> None:
    """Staff, a pre-checker and an approver for every bureau that has none (the demo's city has its own)."""
    from certification.enums import Role
    from certification.models import Bureau
    from certification.permissions import APPROVE_FOR_BUREAU, PRECHECK_FOR_BUREAU, WORK_IN_BUREAU

    missing = sorted(b for b in world.bureaus if b not in world.staff)
    if not missing:
        return
    made = {}
    for role, perm, key in ((Role.BUREAU_STAFF, WORK_IN_BUREAU, "staff"),
                            (Role.PRECHECKER, PRECHECK_FOR_BUREAU, "prechecker"),
                            (Role.APPROVER, APPROVE_FOR_BUREAU, "approver")):
        made[key] = _users(world, [f"bench-{key}-{b}" for b in missing], role)
        _grant(made[key], perm, Bureau, missing)
    for n, b in enumerate(missing):
        world.staff[b] = Staff(made["staff"][n], made["prechecker"][n], made["approver"][n])


def _assessing_bureaus(world: World) -> list[tuple[int, float]]:
    """Each bureau with its share of the cases."""
    city = next(b for b, v in world.bureaus.items() if v["code"] == DEMO_CITY)
    cities = [b for b, v in world.bureaus.items() if v["level"] == "city" and b != city]
    counties = [b for b, v in world.bureaus.items() if v["level"] == "county"]
    rest = 1 - CITY_SHARE - PROVINCE_SHARE - OTHER_CITIES_SHARE
    return ([(city, CITY_SHARE), (world.province_id, PROVINCE_SHARE)]
            + [(b, OTHER_CITIES_SHARE / len(cities)) for b in cities] + [(b, rest / len(counties)) for b in counties])


def allocate(n: int, shares: dict) -> dict:
    """``n`` split by ``shares`` (largest remainders), each key at least one when ``n`` allows."""
    keys = list(shares)
    total = sum(shares.values())
    base = {k: 1 for k in keys} if n >= len(keys) else {k: 0 for k in keys}
    left = n - sum(base.values())
    exact = {k: left * shares[k] / total for k in keys}
    counts = {k: base[k] + int(exact[k]) for k in keys}
    for k in sorted(keys, key=lambda k: exact[k] - int(exact[k]), reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def add_institutions(world: World, n: int, *, counts: dict[int, int] | None = None) -> None:
    """``n`` new institutions, each with one applicant user, spread over the bureaus by their case share (or
    as many as ``counts`` says for each bureau)."""
    from certification.enums import Role
    from certification.models import Institution
    from certification.permissions import ACT_FOR_INSTITUTION

    if counts is None:
        counts = allocate(max(0, n), dict(_assessing_bureaus(world)))
    n = sum(counts.values())
    if n <= 0:
        return
    level = {"province": "provincial", "city": "city", "county": "county"}
    ids = next_ids(Institution, n)
    rows, owner = [], []
    it = iter(ids)
    for bureau, count in counts.items():
        info = world.bureaus[bureau]
        for _ in range(count):
            pk = next(it)
            number = next(world.codes)
            rows.append({"id": pk, "name": f"{info['code']}单位{number}", "uscc": _uscc(info["code"], number),
                         "level": level[info["level"]], "region_id": info["region"],
                         "contact_name": "联系人", "fonds_number": f"{info['code']}-{number}"})
            world.institutions[bureau].append(pk)
            owner.append(pk)
    insert(Institution, rows)
    users = _users(world, [f"bench-applicant-{i}" for i in owner], Role.APPLICANT)
    _grant(users, ACT_FOR_INSTITUTION, Institution, owner)
    world.applicants.update(zip(owner, users, strict=True))


def add_experts(world: World, n: int) -> None:
    """``n`` new experts, each with a user, in the pools of the province and the cities."""
    from certification.enums import Role
    from certification.models import Expert

    if n <= 0:
        return
    pools = sorted(b for b, v in world.bureaus.items() if v["level"] in ("province", "city"))
    ids = next_ids(Expert, n)
    users = _users(world, [f"bench-expert-{i}" for i in ids], Role.EXPERT)
    today = world.now.date()
    rows = []
    for k, (pk, user) in enumerate(zip(ids, users, strict=True)):
        pool = pools[k % len(pools)]
        rows.append({"id": pk, "user_id": user, "name": f"专家{pk}", "pool_id": pool,
                     "reviewer_level": world.bureaus[pool]["level"], "grades": [],
                     "term_starts_on": today - dt.timedelta(days=3650), "term_ends_on": today + dt.timedelta(days=700)})
        world.experts[pool].append((pk, user))
    insert(Expert, rows)


# --- Cases -------------------------------------------------------------------------------------------------
# The nodes a case passes, in order, up to each point (names of CaseFlow's nodes).
TO_PLAN = ["start", "needs_forwarding"]
TO_SELF_CHECK = TO_PLAN + ["plan", "planned"]
TO_DESIGNATE = TO_SELF_CHECK + ["self_check"]
TO_PRECHECK = TO_DESIGNATE + ["designate"]
TO_NOTICE = TO_PRECHECK + ["precheck", "prechecked"]
TO_PANEL = TO_NOTICE + ["await_notice", "notice_open", "close_notice", "after_notice"]
REVIEW = "review"  # the split: the members' scoring and the chair's on-site record run beside each other
AFTER_REVIEW = ["review_done", "conclude", "concluded"]
TO_APPROVE_DONE = ["approve", "approved"]


def _pool_of(world: World, bureau: int) -> int:
    info = world.bureaus[bureau]
    return bureau if info["level"] in ("province", "city") else info["parent"]


def _node_types() -> dict[str, str]:
    from workflows.flows import CaseFlow

    return {node.name: node.task_type for node in CaseFlow.instance.nodes()}


def add_cases(world: World, n: int, *, demo_expert_every: int = 20) -> dict[str, int]:
    """``n`` new cases spread over every stage and outcome (``SHARES``) and the bureaus (their case share),
    each with its process, tasks, sheets, pre-check, notice, panel, certificate and audit entries. Returns how
    many cases of each state were made."""
    if n <= 0:
        return {}
    states = allocate(n, SHARES)
    bureaus = dict(_assessing_bureaus(world))
    plan = []
    for state, count in states.items():
        for bureau, k in allocate(count, bureaus).items():
            plan += [(state, bureau)] * k
    world.rng.shuffle(plan)
    # a bureau gets the institutions its open cases need (one open case per institution)
    wanted: dict[int, int] = {}
    for state, bureau in plan:
        if state in OPEN_SHARES:
            wanted[bureau] = wanted.get(bureau, 0) + 1
    short = {b: k - sum(1 for i in world.institutions[b] if i not in world.open_institutions)
             for b, k in wanted.items()}
    add_institutions(world, 0, counts={b: k for b, k in short.items() if k > 0})
    _CaseRows(world).build(plan, demo_expert_every=demo_expert_every)
    return states


class _CaseRows:
    def __init__(self, world: World):
        from django.contrib.auth.models import Permission  # noqa: F401 - app registry is ready
        from django.contrib.contenttypes.models import ContentType
        from viewflow.workflow.fields import get_flow_ref, get_task_ref

        from certification import rules
        from certification.models import Bureau, Case, Institution, Scheme
        from certification.services.certificates import lapse_reason
        from workflows.flows import CaseFlow

        self.world = world
        self.rules = rules
        self.spec = Scheme.objects.get(pk=world.scheme_id).current_version().specification()
        self.lapse_reason = lapse_reason()
        self.flow_ref = get_flow_ref(CaseFlow)
        self.types = _node_types()
        self.ref = {name: get_task_ref(CaseFlow.instance.node(name)) for name in self.types}
        self.case_ct = ContentType.objects.get_for_model(Case).pk
        self.bureau_ct = ContentType.objects.get_for_model(Bureau).pk
        self.institution_ct = ContentType.objects.get_for_model(Institution).pk
        self.rows: dict[str, list] = {k: [] for k in (
            "case", "process", "task", "previous", "sheet", "line", "precheck", "panel", "member", "notice",
            "notice_case", "objection", "certificate", "audit")}
        self.notice_for: dict[tuple[int, str], list] = {}

    # --- tasks
    def _task(self, tasks, name, at, *, status="DONE", owner=None, perm=None, obj_ct=None, obj=None,
              token="start", data=None, previous=None, scheduled=None):  # noqa: S107 - a Viewflow token
        kind = self.types[name]
        done = status in ("DONE", "CANCELED")
        tasks.append({"flow_task": self.ref[name], "flow_task_type": kind, "status": status, "created": at,
                      "assigned": at if owner else None, "started": at if done and kind not in (
                          "EXCLUSIVE_GATEWAY", "SWITCH", "PARALLEL_GATEWAY") and status == "DONE" else None,
                      "finished": at if done else None, "scheduled": scheduled, "token": token,
                      "owner_id": owner, "owner_permission": perm, "owner_permission_content_type_id": obj_ct,
                      "owner_permission_obj_pk": str(obj) if obj is not None else None, "data": data or {},
                      "_previous": previous})
        return len(tasks) - 1

    def build(self, plan, *, demo_expert_every: int) -> None:
        from viewflow.workflow.models import Process, Task

        from certification.models import (
            AuditEntry,
            Case,
            Certificate,
            Notice,
            Objection,
            Panel,
            PanelMember,
            Precheck,
            ScoreLine,
            ScoreSheet,
        )

        world = self.world
        case_ids = next_ids(Case, len(plan))
        process_ids = next_ids(Process, len(plan))
        cases, processes, tasks_by_case = [], [], []
        sheets, prechecks, panels, members, certificates, audits, notice_links, objections = ([] for _ in range(8))
        seen = {True: 0, False: 0}  # the city's panels formed, open reviews and others
        for (state, bureau), case_id, process_id in zip(plan, case_ids, process_ids, strict=True):
            is_open = state in OPEN_SHARES
            institution = self._institution(bureau, is_open)
            declarer = world.applicants[institution]
            staff = world.staff[bureau]
            rng = world.rng
            if is_open:
                declared = world.now - dt.timedelta(days=rng.randint(20, 250), minutes=rng.randint(0, 600))
            else:
                declared = world.now - dt.timedelta(days=rng.randint(200, 3650), minutes=rng.randint(0, 600))
            grade = "first" if bureau == world.province_id or rng.random() < 0.2 else "second"
            step = dt.timedelta(days=6)
            clock = itertools.count(1)

            def at(clock=clock, declared=declared, step=step):
                return declared + step * next(clock)

            case = {"id": case_id, "reference": f"{declared.year}{case_id:06d}", "institution_id": institution,
                    "scheme_version_id": world.version_id, "scheme_id": world.scheme_id,
                    "grade_id": world.grades[grade], "kind": "promotion", "year": declared.year,
                    "bureau_id": bureau, "stage": state if is_open else "closed",
                    "outcome": "open" if is_open else state, "declared_at": declared, "declared_by_id": declarer,
                    "prechecker_id": None, "acceptance_requested_at": None, "approval_decided_at": None,
                    "certificate_id": None, "rectification_due_at": None, "integrity_acknowledged_at": None,
                    "outcome_reason": "" if is_open else "—", "gates": {}}
            cases.append(case)
            tasks: list[dict] = []
            audit = [("case.declare", declarer, None, {"grade": grade, "bureau": bureau}, "", declared)]
            bureau_perm = ("certification.work_in_bureau", self.bureau_ct, bureau)
            # the way the case went
            if state in ("withdrawn", "cancelled"):
                reached = rng.choice(["planned", "precheck"])
            elif state == "plan_refused":
                reached = "plan_refused"
            else:
                reached = state
            order = ["declared", "planned", "precheck", "rectification", "notice", "panel", "review", "approval",
                     "certificate", "certified"]
            depth = {"plan_refused": 0, "rectification_missed": 3, "objection_upheld": 4, "panel_failed": 6,
                     "approval_refused": 7}.get(reached, order.index(reached) if reached in order else 0)
            last = None

            def chain(name, last_index, tasks=tasks, at=at, **kw):
                return self._task(tasks, name, at(), previous=[] if last_index is None else [last_index], **kw)

            last = chain("start", None)
            last = chain("needs_forwarding", last)
            if state == "declared":
                chain("plan", last, status="NEW", perm=bureau_perm[0], obj_ct=self.bureau_ct, obj=bureau)
            else:
                last = chain("plan", last, owner=staff.staff, perm=bureau_perm[0], obj_ct=self.bureau_ct, obj=bureau)
                last = chain("planned", last)
                audit.append(("case.plan_return" if state == "plan_refused" else "case.plan_include", staff.staff,
                              {"stage": "declared"}, {"stage": "planned"}, "", at()))
            if state == "plan_refused":
                chain("end_plan_refused", last)
            applicant_perm = dict(perm="certification.act_for_institution", obj_ct=self.institution_ct,
                                  obj=institution)
            if depth >= 1 and state != "plan_refused":
                if reached == "planned":
                    chain("self_check", last, status="CANCELED" if not is_open else "ASSIGNED", owner=declarer,
                          **applicant_perm)
                else:
                    last = chain("self_check", last, owner=declarer, **applicant_perm)
                    sheets.append(self._sheet(case_id, "self", None, declarer, at()))
                    case["acceptance_requested_at"] = at()
                    case["integrity_acknowledged_at"] = at()
                    audit.append(("case.request_acceptance", declarer, {"stage": "planned"}, {"stage": "precheck"},
                                  "", at()))
            if depth >= 2 and reached != "planned":
                designate_open = reached == "precheck" and (rng.random() < 0.5 or not is_open)
                if designate_open:
                    chain("designate", last, status="NEW" if is_open else "CANCELED", perm=bureau_perm[0],
                          obj_ct=self.bureau_ct, obj=bureau)
                else:
                    last = chain("designate", last, owner=staff.staff, perm=bureau_perm[0], obj_ct=self.bureau_ct,
                                 obj=bureau)
                    case["prechecker_id"] = staff.prechecker
                    audit.append(("case.designate_prechecker", staff.staff, {"prechecker": None},
                                  {"prechecker": staff.prechecker}, "", at()))
                    precheck_perm = dict(perm="certification.precheck_for_bureau", obj_ct=self.bureau_ct, obj=bureau)
                    if reached == "precheck":
                        chain("precheck", last, status="ASSIGNED" if is_open else "CANCELED",
                              owner=staff.prechecker, **precheck_perm)
                    else:
                        last = chain("precheck", last, owner=staff.prechecker, **precheck_perm)
                        last = chain("prechecked", last)
                        returned = reached in ("rectification", "rectification_missed")
                        prechecks.append({"case_id": case_id, "round": 1, "prechecker_id": staff.prechecker,
                                          "opinions": {}, "summary": "材料齐全" if not returned else "需整改",
                                          "decision": "return" if returned else "pass", "decided_at": at(),
                                          "rectification_due_at": at() if returned else None})
                        audit.append(("case.precheck_return" if returned else "case.precheck_pass", staff.prechecker,
                                      {"stage": "precheck"}, {"stage": "rectification" if returned else "notice"},
                                      "", at()))
            if reached in ("rectification", "rectification_missed"):
                due = (world.now + dt.timedelta(days=rng.randint(5, 40))) if is_open else at()
                case["rectification_due_at"] = due
                rectify = chain("rectify", last, status="ASSIGNED" if is_open else "CANCELED", owner=declarer,
                                **applicant_perm)
                timer = self._task(tasks, "rectify__timeout", due, previous=[rectify], scheduled=due,
                                   status="SCHEDULED" if is_open else "DONE")
                if not is_open:
                    last = chain("rectification_missed", timer)
                    chain("end_rectification_missed", last)
                    audit.append(("case.rectification_missed", None, {"stage": "rectification"},
                                  {"outcome": "rectification_missed"}, "", at()))
            if depth >= 4 and reached not in ("rectification", "rectification_missed"):
                published = not (reached == "notice" and rng.random() < 0.4)
                if reached == "notice" and not published:
                    chain("await_notice", last, status="NEW")
                else:
                    open_notice = reached == "notice"
                    notice_links.append((case_id, bureau, open_notice, at()))
                    last = chain("await_notice", last)
                    if open_notice:
                        closes = world.now + dt.timedelta(days=rng.randint(1, 6))
                        chain("notice_open", last, status="SCHEDULED", scheduled=closes)
                    else:
                        last = chain("notice_open", last, scheduled=at())
                        last = chain("close_notice", last)
                        last = chain("after_notice", last)
                        if reached == "objection_upheld":
                            objections.append((case_id, bureau, at()))
                            last = chain("resolve_objections", last, owner=staff.staff, perm=bureau_perm[0],
                                         obj_ct=self.bureau_ct, obj=bureau)
                            last = chain("after_notice", last)
                            chain("end_objection_upheld", last)
                            audit.append(("case.objection_upheld", staff.staff, {"stage": "notice"},
                                          {"outcome": "objection_upheld"}, "异议成立", at()))
                        else:
                            audit.append(("case.notice_passed", None, {"stage": "notice"}, {"stage": "panel"}, "",
                                          at()))
            if depth >= 5 and reached not in ("rectification", "rectification_missed", "objection_upheld", "notice"):
                if reached == "panel":
                    chain("form_panel", last, status="NEW", perm=bureau_perm[0], obj_ct=self.bureau_ct, obj=bureau)
                else:
                    last = chain("form_panel", last, owner=staff.staff, perm=bureau_perm[0],
                                 obj_ct=self.bureau_ct, obj=bureau)
                    pool = world.experts[_pool_of(world, bureau)]
                    seats = rng.sample(pool, PANEL_SIZE) if len(pool) >= PANEL_SIZE else pool[:]
                    in_review = reached == "review"
                    if world.bureaus[bureau]["code"] == DEMO_CITY and world.demo_expert is not None:
                        # the demo's expert sits on every third open review of the city, and on some past ones
                        seen[in_review] += 1
                        every = 3 if in_review else demo_expert_every
                        if seen[in_review] % every == 1 and world.demo_expert not in seats:
                            seats = [world.demo_expert, *seats[1:]]
                    panel_id = len(panels)
                    formed = at()
                    panels.append({"case_id": case_id, "seed": rng.randint(1, 10**12), "proposed": [],
                                   "formed_at": formed, "formed_by_id": staff.staff,
                                   "scoring_due_at": (world.now + dt.timedelta(days=10)) if is_open else at()})
                    for k, (expert, _user) in enumerate(seats):
                        members.append((panel_id, expert, k == 0))
                    audit.append(("panel.form", staff.staff, {"stage": "panel"}, {"stage": "review"}, "", formed))
                    split = chain("review", last)
                    joined = []
                    for k, (expert, user) in enumerate(seats, start=1):
                        token = f"start/{{split}}_{k}"
                        score = self._task(tasks, "score", at(), status="ASSIGNED" if in_review else "DONE",
                                           owner=user, perm="workflows.can_score_caseprocess", token=token,
                                           data={"member": ("member", panel_id, expert)}, previous=[split])
                        sheets.append(self._sheet(case_id, "member", expert, user, None if in_review else at()))
                        due = panels[-1]["scoring_due_at"]
                        self._task(tasks, "score__timeout", due, previous=[score], token=token,
                                   status="SCHEDULED" if in_review else "CANCELED", scheduled=due)
                        joined.append(score)
                    chair_user = seats[0][1]
                    onsite = self._task(tasks, "onsite", at(), status="ASSIGNED" if in_review else "DONE",
                                        owner=chair_user, perm="workflows.can_onsite_caseprocess",
                                        token=f"start/{{split}}_{len(seats) + 1}", previous=[split])
                    joined.append(onsite)
                    if not in_review:
                        last = self._task(tasks, "review_done", at(), previous=joined)
                        last = chain("conclude", last, owner=chair_user, perm="workflows.can_conclude_caseprocess")
                        last = chain("concluded", last)
                        sheets.append(self._sheet(case_id, "panel", None, chair_user, at()))
                        passed = reached != "panel_failed"
                        audit.append(("review.conclude", chair_user, {"stage": "review"},
                                      {"stage": "approval" if passed else "closed", "passed": passed},
                                      "达到标准" if passed else "未达到标准", at()))
                        if not passed:
                            chain("end_panel_failed", last)
            if depth >= 7 and reached in ("approval", "certificate", "certified", "approval_refused"):
                approver_perm = dict(perm="certification.approve_for_bureau", obj_ct=self.bureau_ct, obj=bureau)
                if reached == "approval":
                    chain("approve", last, status="NEW", **approver_perm)
                else:
                    last = chain("approve", last, owner=staff.approver, **approver_perm)
                    last = chain("approved", last)
                    case["approval_decided_at"] = at()
                    refused = reached == "approval_refused"
                    audit.append(("case.refuse" if refused else "case.approve", staff.approver,
                                  {"stage": "approval"}, {"stage": "closed" if refused else "certificate"},
                                  "依据齐全，同意" if not refused else "不同意", at()))
                    if refused:
                        chain("end_refused", last)
                    elif reached == "certificate":
                        chain("await_certificate", last, status="NEW")
                    else:
                        last = chain("await_certificate", last)
                        chain("end_certified", last)
                        issued = at()
                        certificates.append((case, institution, bureau, grade, issued.date()))
                        audit.append(("case.certified", None, {"stage": "certificate"},
                                      {"stage": "closed", "outcome": "certified"}, "", issued))
            if state in ("withdrawn", "cancelled"):
                who = declarer if state == "withdrawn" else staff.staff
                audit.append(("case.withdraw" if state == "withdrawn" else "case.cancel", who, {"outcome": "open"},
                              {"outcome": state}, "情况变化", at()))
            finished = None if is_open else at()
            processes.append({"id": process_id, "flow_class": self.flow_ref,
                              "status": "NEW" if is_open else ("CANCELED" if state in ("withdrawn", "cancelled")
                                                                else "DONE"),
                              "created": declared, "finished": finished, "data": {},
                              "artifact_content_type_id": self.case_ct, "artifact_object_id": case_id})
            tasks_by_case.append((process_id, tasks))
            for action, actor, before, after, reason, when in audit:
                audits.append((action, actor, case_id, case["reference"], before, after, reason, when))
        self._write(cases, processes, tasks_by_case, sheets, prechecks, panels, members, certificates, audits,
                    notice_links, objections, Case=Case, Certificate=Certificate, Notice=Notice, Objection=Objection,
                    Panel=Panel, PanelMember=PanelMember, Precheck=Precheck, ScoreLine=ScoreLine,
                    ScoreSheet=ScoreSheet, AuditEntry=AuditEntry, Process=Process, Task=Task)

    def _institution(self, bureau: int, is_open: bool) -> int:
        """The next institution of ``bureau`` in turn; for an open case, one without an open case."""
        world = self.world
        pool = world.institutions[bureau]
        for _ in range(len(pool)):
            k = world.pointer.get(bureau, 0)
            world.pointer[bureau] = k + 1
            candidate = pool[k % len(pool)]
            if not is_open or candidate not in world.open_institutions:
                if is_open:
                    world.open_institutions.add(candidate)
                return candidate
        raise RuntimeError(f"bureau {bureau} has no institution free for another open case: seed more")

    def _sheet(self, case_id, kind, expert, user, submitted):
        return {"case_id": case_id, "kind": kind, "expert_id": expert, "round": 1, "submitted_at": submitted,
                "submitted_by_id": user if submitted else None}

    def _write(self, cases, processes, tasks_by_case, sheets, prechecks, panels, members, certificates, audits,
               notice_links, objections, **m):
        world = self.world
        Case, Task = m["Case"], m["Task"]
        # certificates first: a certified case points to its own
        certificate_ids = next_ids(m["Certificate"], len(certificates))
        certificate_rows = []
        for cid, (case, institution, bureau, grade, issued_on) in zip(certificate_ids, certificates, strict=True):
            row = certificate_row(world, self, cid, institution, grade, issued_on, approved_by=bureau)
            certificate_rows.append(row)
            case["certificate_id"] = cid
        insert(m["Certificate"], certificate_rows)
        insert(Case, cases)
        from viewflow.workflow.models import Process

        insert(Process, processes)
        prechecks and insert(m["Precheck"], prechecks)
        # panels and members
        panel_ids = next_ids(m["Panel"], len(panels))
        for pid, row in zip(panel_ids, panels, strict=True):
            row["id"] = pid
        insert(m["Panel"], panels)
        member_ids = next_ids(m["PanelMember"], len(members))
        member_of = {}
        insert(m["PanelMember"], [{"id": mid, "panel_id": panel_ids[p], "expert_id": e, "is_chair": chair,
                                   "recusal_declared_at": panels[p]["formed_at"]}  # signed on being seated
                                  for mid, (p, e, chair) in zip(member_ids, members, strict=True)])
        for mid, (p, e, _chair) in zip(member_ids, members, strict=True):
            member_of[(p, e)] = mid
        # sheets and their lines
        sheet_ids = next_ids(m["ScoreSheet"], len(sheets))
        total = sum(points for _code, points in world.items)
        lines = []
        for sid, row in zip(sheet_ids, sheets, strict=True):
            row["id"] = sid
            row["total"] = total if row["submitted_at"] else None
            lines += [{"sheet_id": sid, "item_code": code, "entry": {}, "points": points, "clamps": []}
                      for code, points in world.items]
        insert(m["ScoreSheet"], sheets)
        insert(m["ScoreLine"], lines)
        # tasks, their links, and the tokens of the review's branches
        count = sum(len(t) for _p, t in tasks_by_case)
        task_ids = iter(next_ids(Task, count))
        task_rows, links = [], []
        for process_id, tasks in tasks_by_case:
            ids = [next(task_ids) for _ in tasks]
            split = next((ids[i] for i, t in enumerate(tasks) if t["flow_task"] == self.ref["review"]), None)
            for tid, task in zip(ids, tasks, strict=True):
                previous = task.pop("_previous") or []
                task["id"], task["process_id"] = tid, process_id
                if "{split}" in task["token"]:
                    task["token"] = task["token"].replace("{split}", str(split))
                member = task["data"].get("member")
                if isinstance(member, tuple):
                    task["data"] = {"member": member_of[(member[1], member[2])]}
                task_rows.append(task)
                links += [{"from_task_id": tid, "to_task_id": ids[p]} for p in previous]
        insert(Task, task_rows)
        insert(Task.previous.through, links)
        # notices: a bureau's closed ones list up to 25 cases each; open ones list today's cases
        notice_rows, notice_cases = [], []
        by_key: dict[tuple[int, bool], list] = {}
        for case_id, bureau, is_open, when in notice_links:
            by_key.setdefault((bureau, is_open), []).append((case_id, when))
        for (bureau, is_open), items in by_key.items():
            for start in range(0, len(items), 25):
                chunk = items[start:start + 25]
                published = max(w for _c, w in chunk)
                if is_open:
                    published = world.now - dt.timedelta(days=2)
                closes = (world.now + dt.timedelta(days=5)) if is_open else published + dt.timedelta(days=8)
                notice_rows.append({"bureau_id": bureau, "title": f"{published.year}年等级考评公示", "published_at": published,
                                    "closes_at": closes, "closed_at": None if is_open else closes})
                notice_cases.append([c for c, _w in chunk])
        notice_ids = next_ids(m["Notice"], len(notice_rows))
        for nid, row in zip(notice_ids, notice_rows, strict=True):
            row["id"] = nid
        insert(m["Notice"], notice_rows)
        notice_of = {}
        through = []
        for nid, case_list in zip(notice_ids, notice_cases, strict=True):
            for c in case_list:
                notice_of[c] = nid
                through.append({"notice_id": nid, "case_id": c})
        insert(m["Notice"].cases.through, through)
        insert(m["Objection"], [{"notice_id": notice_of[c], "case_id": c, "name": "王某", "contact": "13900000000",
                                 "grounds": "申报材料与实际不符", "received_at": when, "status": "upheld",
                                 "resolution": "经核实，异议成立", "resolved_at": when}
                                for c, _bureau, when in objections])
        audit_write(m["AuditEntry"], audits)


def certificate_row(world: World, rows, pk, institution, grade, issued_on, *, approved_by):
    """A certificate of ``institution`` issued on ``issued_on``: in force while valid if the institution holds
    no other current one, else superseded (still valid) or lapsed (expired)."""
    spec = rows.spec
    valid_until = rows.rules.valid_until(issued_on, scheme=spec)
    today = world.now.date()
    if valid_until < today:
        status = "lapsed"
    elif institution in world.current_certificates:
        status = "superseded"
    else:
        status = "in_force"
        world.current_certificates.add(institution)
    year = issued_on.year
    serial = world.serials.get(year, 0) + 1
    world.serials[year] = serial
    return {"id": pk, "number": rows.spec.documents.certificate_number_for(year, serial), "year": year,
            "serial": serial,
            "institution_id": institution, "grade_id": world.grades[grade], "scheme_version_id": world.version_id,
            "scheme_id": world.scheme_id, "kind": "promotion", "issued_on": issued_on, "valid_until": valid_until,
            "status": status, "status_changed_at": None if status == "in_force" else world.now,
            "status_reason": rows.lapse_reason if status == "lapsed" else "",
            "issued_by_id": world.province_id, "approved_by_id": approved_by}


def add_certificates(world: World, n: int) -> None:
    """``n`` certificates without a case in this system (issued before it, now lapsed or superseded)."""
    from certification.models import Certificate

    if n <= 0:
        return
    rows = _CaseRows(world)
    holders = [i for b in sorted(world.institutions) for i in world.institutions[b]]
    ids = next_ids(Certificate, n)
    out = []
    for k, pk in enumerate(ids):
        institution = holders[k % len(holders)]
        issued = world.now.date() - dt.timedelta(days=world.rng.randint(1200, 3650))
        out.append(certificate_row(world, rows, pk, institution, "second", issued, approved_by=world.province_id))
    insert(Certificate, out)


def audit_write(AuditEntry, audits) -> None:
    """Append the entries to the hash chain, in order, and move the chain's head past them."""
    from certification.models.audit import GENESIS, AuditHead
    from certification.services.audit import _plain

    if not audits:
        return
    head, _ = AuditHead.objects.get_or_create(id=1)
    previous = head.last_hash or GENESIS
    ids = next_ids(AuditEntry, len(audits))
    rows = []
    for pk, (action, actor, case_id, reference, before, after, reason, when) in zip(ids, audits, strict=True):
        entry = AuditEntry(at=when, actor_id=actor, action=action, target_type="certification.case",
                           target_id=str(case_id), target_repr=reference, before=_plain(before), after=_plain(after),
                           reason=reason, prev_hash=previous)
        entry.hash = previous = entry.compute_hash()
        rows.append({"id": pk, "at": when, "actor_id": actor, "action": action, "target_type": entry.target_type,
                     "target_id": entry.target_id, "target_repr": reference, "before": entry.before,
                     "after": entry.after, "reason": reason, "prev_hash": entry.prev_hash, "hash": entry.hash})
    insert(AuditEntry, rows)
    AuditHead.objects.filter(id=1).update(last_hash=previous, entries=head.entries + len(rows))


def finish(world: World) -> None:
    """What the services keep beside the rows: the certificate serials of each year."""
    from certification.models import CertificateSerial

    for year, last in world.serials.items():
        CertificateSerial.objects.update_or_create(scheme_id=world.scheme_id, year=year, defaults={"last": last})
