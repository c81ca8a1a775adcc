"""Demo data: a Hubei-like province with bureaus, institutions, experts, certificates and one login per role.

The world is data: certification/demo/province.yaml names the scheme the demo runs, the province and its
regions, the institutions, people, experts and pools, the logins, the certificates and the demo cases
(``workflows.demo``). This module reads and validates it (:func:`load_demo_world`) and seeds it; a file that
names a grade its scheme lacks is refused with :class:`DemoDataError`.

``demo_seed()`` is idempotent: every row is looked up by a stable key (a region's division code, an
institution's unified social credit code, a username, an expert's name in a pool, a certificate's holder and
grade) before it is created, so a second call creates nothing and returns the same logins. Dates are relative
to ``today`` so that the data always shows certificates in force, one about to expire, one lapsed and one
superseded. It refuses to run under the production settings: its users share a published password.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from guardian.models import UserObjectPermission
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import rules
from ..enums import CertificateStatus, IncidentKind, InstitutionLevel, Kind, RegionLevel, Role
from ..models import (
    Bureau,
    BureauMembership,
    Certificate,
    ConflictDeclaration,
    Expert,
    ExpertEmployment,
    Grade,
    Institution,
    InstitutionMembership,
    Region,
    SafetyIncident,
    SchemeVersion,
    SigningKey,
    User,
)
from ..permissions import ensure_roles, role_grant
from ..scheme import SCHEMES_DIR, SchemeSpec, load_scheme_file
from ..validators import uscc_check_character
from .certificates import certificate_next_serial, lapse_reason
from .schemes import scheme_load

DEMO_PASSWORD = "demo-pass"  # noqa: S105 - published on purpose: demo data only, refused in production
DEMO_FILE = Path(__file__).resolve().parent.parent / "demo" / "province.yaml"

Login = tuple[str, str, str, str]  # (role label, username, password, what the login acts for)


@dataclass(frozen=True)
class DemoSummary:
    created: bool  # whether this call created anything
    logins: list[Login]
    counts: dict[str, int] = field(default_factory=dict)


class DemoDataError(ValueError):
    """The demo's data file is not valid, or does not fit the scheme it names."""


# --- The data file ------------------------------------------------------------------------------------------
# The world itself (regions, bureaus, institutions, people, experts, logins, certificates, cases) is data:
# certification/demo/province.yaml, whose comments say what each part is for. These models read it.
class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoScheme(_Data):
    code: str
    file: str  # a shipped scheme file (certification/schemes/), loaded when the scheme is not loaded yet


class Phone(_Data):
    area: str
    lead: str
    digits: int = Field(ge=1, le=10)

    def number(self, text: str) -> str:
        """A landline number derived from ``text``: area code, dash, lead digit and ``digits`` more."""
        return f"{self.area}-{self.lead}{_digits(text, self.digits):0{self.digits}d}"


class Township(_Data):
    code: str = Field(pattern=r"^\d{9}$")
    name: str


class County(_Data):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    townships: list[Township]


class City(_Data):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    phone: Phone
    postcode: str
    counties: list[County]


class Province(_Data):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    phone: Phone
    postcode: str
    seat: str  # where the provincial organs' addresses are
    cities: list[City]


class BureauNaming(_Data):
    name: str  # with {region}
    address: str  # with {region}


class ProvincialUnit(_Data):
    name: str
    guides_system: bool = False
    parent: str | None = None


class CityUnit(_Data):
    suffix: str
    guides_system: bool = False
    parent: str | None = None  # a provincial organ's name


class CountyUnit(_Data):
    suffix: str
    parent_suffix: str | None = None  # the city's guiding organ, by its suffix


class Institutions(_Data):
    provincial: list[ProvincialUnit]
    city: list[CityUnit]
    county: list[CountyUnit]
    township_office: dict[str, str]  # a township name's ending → its organ's office

    def office(self, township: str) -> str:
        for ending, office in self.township_office.items():
            if township.endswith(ending):
                return office
        raise DemoDataError(f"township {township!r} ends in none of {list(self.township_office)}")


class People(_Data):
    surnames: str = Field(min_length=1)
    given_names: list[str] = Field(min_length=1)
    streets: list[str] = Field(min_length=1)


class Incident(_Data):
    institution: str
    days_ago: int
    kind: IncidentKind
    description: str


class ExpertRef(_Data):
    pool: str  # the pool bureau's division code
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.pool, self.name)


class LoginExpert(ExpertRef):
    employer: str


class Qualifications(_Data):
    text: str  # with {years}
    years_from: int


class Pool(_Data):
    bureau: str  # the pool bureau's division code
    grades: list[str]  # grade codes of the demo's scheme
    names: list[str]


class PastEmployment(_Data):
    expert: ExpertRef
    institution: str
    started_days_ago: int
    ended_days_ago: int


class Conflict(_Data):
    expert: ExpertRef
    institution: str
    reason: str


class Experts(_Data):
    titles: list[str] = Field(min_length=1)
    qualifications: Qualifications
    pools: list[Pool]
    past_employment: PastEmployment
    conflict: Conflict


class PanelExperts(_Data):
    pool: str
    logins: dict[str, str]  # username → the expert's name


class DemoUser(_Data):
    username: str
    role: Role
    label: str
    full_name: str | None = None  # the expert login's is its expert's
    bureau: str | None = None  # division code of the bureau it works at (not the applicant or the expert)


class Admin(_Data):
    username: str
    label: str
    full_name: str


class Offset(_Data):
    days: int = 0
    years: int = 0

    def from_day(self, today: dt.date) -> dt.date:
        """``days`` added to ``today``, then ``years`` added to that day."""
        return rules.add_years(today + dt.timedelta(days=self.days), self.years)


class DemoCertificate(_Data):
    key: str
    holder: str  # institution name
    grade: str
    issued: Offset
    status: CertificateStatus = CertificateStatus.IN_FORCE
    supersedes: str | None = None  # key of the certificate this one replaces


class DemoCase(_Data):
    institution: str
    grade: str
    until: Literal["plan", "self_check", "precheck"]  # the node whose task waits for a demo login


class DemoWorld(_Data):
    scheme: DemoScheme
    bureau: BureauNaming
    province: Province
    institutions: Institutions
    people: People
    incident: Incident
    experts: Experts
    applicant_institution: str
    login_expert: LoginExpert
    panel_experts: PanelExperts
    users: list[DemoUser]
    admin: Admin
    certificates: list[DemoCertificate]
    cases: list[DemoCase]

    def institution_names(self) -> list[str]:
        """Every institution the world creates, in order of creation."""
        names = [u.name for u in self.institutions.provincial]
        for city in self.province.cities:
            names += [city.name + u.suffix for u in self.institutions.city]
            for county in city.counties:
                names += [county.name + u.suffix for u in self.institutions.county]
                names += [county.name + t.name + self.institutions.office(t.name) for t in county.townships]
        return names

    def bureau_codes(self) -> list[str]:
        """Division codes of the regions that have a bureau (every one but a township)."""
        codes = [self.province.code]
        for city in self.province.cities:
            codes += [city.code] + [county.code for county in city.counties]
        return codes

    @model_validator(mode="after")
    def _references(self) -> DemoWorld:
        problems: list[str] = []
        names = self.institution_names()
        known, codes = set(names), set(self.bureau_codes())
        if len(known) != len(names):
            problems.append("two institutions have the same name")
        provincial = {u.name for u in self.institutions.provincial}
        for u in self.institutions.provincial:
            if u.parent is not None and u.parent not in provincial:
                problems.append(f"institutions.provincial: parent {u.parent!r} is no provincial organ")
        for u in self.institutions.city:
            if u.parent is not None and u.parent not in provincial:
                problems.append(f"institutions.city: parent {u.parent!r} is no provincial organ")
        city_suffixes = {u.suffix for u in self.institutions.city}
        for u in self.institutions.county:
            if u.parent_suffix is not None and u.parent_suffix not in city_suffixes:
                problems.append(f"institutions.county: parent_suffix {u.parent_suffix!r} is no city organ's")
        pools = {p.bureau: p.names for p in self.experts.pools}
        for p in self.experts.pools:
            if p.bureau not in (self.province.code, *(c.code for c in self.province.cities)):
                problems.append(f"experts.pools: {p.bureau!r} is neither the province's nor a city's code")
            if len(set(p.names)) != len(p.names):
                problems.append(f"experts.pools: pool {p.bureau!r} names an expert twice")
        experts = [("experts.past_employment", self.experts.past_employment.expert),
                   ("experts.conflict", self.experts.conflict.expert), ("login_expert", self.login_expert),
                   *(("panel_experts", ExpertRef(pool=self.panel_experts.pool, name=name))
                     for name in self.panel_experts.logins.values())]
        for where, ref in experts:
            if ref.name not in pools.get(ref.pool, []):
                problems.append(f"{where}: no expert {ref.name!r} in pool {ref.pool!r}")
        institutions = [("incident", self.incident.institution),
                        ("experts.past_employment", self.experts.past_employment.institution),
                        ("experts.conflict", self.experts.conflict.institution),
                        ("applicant_institution", self.applicant_institution),
                        ("login_expert.employer", self.login_expert.employer),
                        *(("certificates", c.holder) for c in self.certificates),
                        *(("cases", c.institution) for c in self.cases)]
        problems += [f"{where}: no institution {name!r}" for where, name in institutions if name not in known]
        for u in self.users:
            if (u.bureau is None) != (u.role in (Role.APPLICANT, Role.EXPERT)):
                problems.append(f"users: {u.username!r} needs a bureau exactly when it is no applicant or expert")
            elif u.bureau is not None and u.bureau not in codes:
                problems.append(f"users: {u.username!r} works at bureau {u.bureau!r}, which the world lacks")
            if (u.full_name is None) != (u.role == Role.EXPERT):
                problems.append(f"users: {u.username!r} needs a full name exactly when it is no expert")
        for role in (Role.APPLICANT, Role.EXPERT):
            if [u.role for u in self.users].count(role) != 1:
                problems.append(f"users: exactly one login has the role {role.value!r}")
        keys = [c.key for c in self.certificates]
        if len(set(keys)) != len(keys):
            problems.append("certificates: two certificates have the same key")
        problems += [f"certificates: {c.key!r} supersedes {c.supersedes!r}, which is no certificate's key"
                     for c in self.certificates if c.supersedes is not None and c.supersedes not in keys]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def grade_codes(self) -> list[tuple[str, str]]:
        """(where in the file, grade code) of every grade the world names."""
        return ([(f"experts.pools[{p.bureau}].grades", g) for p in self.experts.pools for g in p.grades]
                + [(f"certificates[{c.key}].grade", c.grade) for c in self.certificates]
                + [(f"cases[{c.institution}].grade", c.grade) for c in self.cases])

    def check_scheme(self, spec: SchemeSpec, source: str = DEMO_FILE.name) -> None:
        """Refuse a world that names a grade its scheme lacks (or a scheme other than its own)."""
        if spec.code != self.scheme.code:
            raise DemoDataError(f"{source}: the demo runs scheme {self.scheme.code!r}, not {spec.code!r}")
        have = [g.code for g in spec.grades]
        wrong = [f"{where} is {code!r}" for where, code in self.grade_codes() if code not in have]
        if wrong:
            raise DemoDataError(
                f"{source}: the demo names grades that scheme {spec.code!r} v{spec.version} does not have "
                f"({', '.join(wrong)}); its grades are {', '.join(have)}")


def load_demo_world(path: str | Path = DEMO_FILE) -> DemoWorld:
    """Read and validate a demo data file; :class:`DemoDataError` names what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DemoDataError(f"{path.name}: cannot read the demo data: {exc}") from None
    try:
        return DemoWorld.model_validate(data)
    except ValidationError as exc:
        raise DemoDataError(f"{path.name}: the demo data is not valid: {exc}") from None


@functools.cache
def demo_world() -> DemoWorld:
    """The shipped demo world (certification/demo/province.yaml)."""
    return load_demo_world(DEMO_FILE)


# Read by the benchmarks and the tests: the shipped world's names in the shapes they had as Python constants.
_WORLD = demo_world()
PROVINCE = (_WORLD.province.code, _WORLD.province.name, _WORLD.province.phone.area, _WORLD.province.postcode)
APPLICANT_INSTITUTION = _WORLD.applicant_institution
DEMO_EXPERT = _WORLD.login_expert.key
DEMO_PANEL_EXPERTS = dict(_WORLD.panel_experts.logins)
# (username, role, role label, full name, bureau code or None)
USERS = [(u.username, u.role, u.label, u.full_name, u.bureau) for u in _WORLD.users]


@dataclass(frozen=True)
class PlannedCertificate:
    key: str
    holder: str  # institution name
    grade: str
    issued_on: dt.date
    status: str = CertificateStatus.IN_FORCE
    supersedes: str | None = None  # key of the certificate this one replaces


def certificate_plan(today: dt.date, world: DemoWorld | None = None) -> list[PlannedCertificate]:
    """The demo's certificates, in order of issue. Dates are relative to ``today``."""
    world = world or demo_world()
    plan = [PlannedCertificate(c.key, c.holder, c.grade, c.issued.from_day(today), c.status, c.supersedes)
            for c in world.certificates]
    return sorted(plan, key=lambda e: (e.issued_on, e.key))


# --- Helpers ------------------------------------------------------------------------------------------------
def _digits(text: str, n: int) -> int:
    """A stable pseudo-random number of ``n`` digits derived from ``text``."""
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10**n


def _organisation_code(name: str) -> str:
    """A 9-character organisation code (GB 11714): 8 digits and their check character."""
    body = f"{_digits(name, 8):08d}"
    total = sum(int(ch) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def demo_uscc(region_code: str, name: str) -> str:
    """A valid unified social credit code of a government organ (机关, "11") in ``region_code``."""
    first17 = "11" + region_code[:6] + _organisation_code(name)
    return first17 + uscc_check_character(first17)


def _person(people: People, seed: int) -> str:
    surnames, given = people.surnames, people.given_names
    return surnames[seed % len(surnames)] + given[(seed * 7 + seed // len(surnames)) % len(given)]


def _snapshot() -> dict[str, int]:
    return {
        "regions": Region.objects.count(),
        "bureaus": Bureau.objects.count(),
        "signing keys": SigningKey.objects.count(),
        "institutions": Institution.objects.count(),
        "safety incidents": SafetyIncident.objects.count(),
        "experts": Expert.objects.count(),
        "past employments": ExpertEmployment.objects.count(),
        "conflict declarations": ConflictDeclaration.objects.count(),
        "users": User.objects.count(),
        "institution memberships": InstitutionMembership.objects.count(),
        "bureau memberships": BureauMembership.objects.count(),
        "role groups of users": User.groups.through.objects.count(),
        "object permissions": UserObjectPermission.objects.count(),
        "scheme versions": SchemeVersion.objects.count(),
        "certificates": Certificate.objects.count(),
        **{f"certificates {status.value.replace('_', ' ')}": Certificate.objects.filter(status=status).count()
           for status in (CertificateStatus.IN_FORCE, CertificateStatus.LAPSED, CertificateStatus.SUPERSEDED)},
    }


def refuse_in_production() -> None:
    module = getattr(settings, "SETTINGS_MODULE", "") or ""
    if module.endswith(".production"):
        raise RuntimeError(
            f"Refusing to seed demo data under the production settings ({module}): the demo users share "
            f"the published password {DEMO_PASSWORD!r}. Use config.settings.local for a demonstration."
        )


def _scheme_version(world: DemoWorld) -> SchemeVersion:
    """The current version of the world's scheme, loaded from the file the world names if it is not loaded."""
    version = SchemeVersion.objects.filter(scheme__code=world.scheme.code, is_current=True).first()
    if version is None:
        path = SCHEMES_DIR / world.scheme.file
        spec = load_scheme_file(path)
        if spec.code != world.scheme.code:
            raise DemoDataError(f"scheme.file {world.scheme.file!r} holds scheme {spec.code!r}, "
                                f"not the demo's {world.scheme.code!r}")
        version = scheme_load(spec=spec, source=path.name).version
    return version


# --- Seeding ------------------------------------------------------------------------------------------------
def _seed_regions_and_bureaus(world: DemoWorld) -> tuple[dict[str, Region], dict[str, Bureau]]:
    regions: dict[str, Region] = {}
    bureaus: dict[str, Bureau] = {}

    def region(code: str, name: str, level: str, parent: Region | None) -> Region:
        regions[code] = Region.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent": parent})[0]
        return regions[code]

    def bureau(reg: Region, parent: Bureau | None, phone: Phone) -> Bureau:
        bureaus[reg.code] = Bureau.objects.get_or_create(region=reg, defaults={
            "name": world.bureau.name.format(region=reg.name), "level": reg.level, "parent": parent,
            "address": world.bureau.address.format(region=reg.name), "phone": phone.number(reg.code + "office"),
            "supervision_phone": phone.number(reg.code + "supervision"),
        })[0]
        return bureaus[reg.code]

    p = world.province
    province = region(p.code, p.name, RegionLevel.PROVINCE, None)
    province_bureau = bureau(province, None, p.phone)
    for c in p.cities:
        city = region(c.code, c.name, RegionLevel.CITY, province)
        city_bureau = bureau(city, province_bureau, c.phone)
        for k in c.counties:
            county = region(k.code, k.name, RegionLevel.COUNTY, city)
            bureau(county, city_bureau, c.phone)
            for t in k.townships:
                region(t.code, t.name, RegionLevel.TOWNSHIP, county)
    return regions, bureaus


def _seed_institutions(world: DemoWorld, regions: dict[str, Region]) -> dict[str, Institution]:
    institutions: dict[str, Institution] = {}
    counter = iter(range(10_000))
    fonds: dict[str, int] = {}

    people = world.people

    def institution(name: str, level: str, reg: Region, phone: Phone, postcode: str, *,
                    guidance: bool = False, parent: str | None = None) -> None:
        seed = next(counter)
        fonds[reg.code] = fonds.get(reg.code, 0) + 1
        # Provincial organs sit in the capital; the others in their own region, named from the city down.
        chain, node = [], reg
        while node is not None and node.level != RegionLevel.PROVINCE:
            chain.insert(0, node.name)
            node = node.parent
        place = "".join(chain) or world.province.seat
        institutions[name] = Institution.objects.get_or_create(uscc=demo_uscc(reg.code, name), defaults={
            "name": name, "level": level, "region": reg, "has_system_guidance": guidance,
            "parent": institutions[parent] if parent else None,
            "fonds_number": f"{reg.code[:6]}-{fonds[reg.code]:03d}",
            "address": f"{place}{people.streets[seed % len(people.streets)]}{seed * 17 % 300 + 1}号",
            "postcode": postcode, "head": _person(people, 3 * seed),
            "archives_leader": _person(people, 3 * seed + 1), "contact_name": _person(people, 3 * seed + 2),
            "contact_phone": phone.number(name),
        })[0]

    p, units = world.province, world.institutions
    for u in units.provincial:
        institution(u.name, InstitutionLevel.PROVINCIAL, regions[p.code], p.phone, p.postcode,
                    guidance=u.guides_system, parent=u.parent)
    for c in p.cities:
        for cu in units.city:
            institution(c.name + cu.suffix, InstitutionLevel.CITY, regions[c.code], c.phone, c.postcode,
                        guidance=cu.guides_system, parent=cu.parent)
        for k in c.counties:
            for ku in units.county:
                institution(k.name + ku.suffix, InstitutionLevel.COUNTY, regions[k.code], c.phone, c.postcode,
                            parent=c.name + ku.parent_suffix if ku.parent_suffix else None)
            for t in k.townships:
                institution(k.name + t.name + units.office(t.name), InstitutionLevel.TOWNSHIP, regions[t.code],
                            c.phone, c.postcode)
    return institutions


def _seed_incident(world: DemoWorld, institutions: dict[str, Institution], today: dt.date) -> None:
    """One institution with an archives-safety incident: it cannot declare for two years after it."""
    incident = world.incident
    SafetyIncident.objects.get_or_create(institution=institutions[incident.institution], defaults={
        "occurred_on": today - dt.timedelta(days=incident.days_ago), "kind": incident.kind,
        "description": incident.description,
    })


def _seed_experts(world: DemoWorld, bureaus: dict[str, Bureau], institutions: dict[str, Institution],
                  today: dt.date) -> dict[tuple[str, str], Expert]:
    experts: dict[tuple[str, str], Expert] = {}
    data = world.experts
    term = (dt.date(today.year - 1, 1, 1), dt.date(today.year + 1, 12, 31))  # a 3-year appointment
    for pool_data in data.pools:
        pool_code = pool_data.bureau
        pool = bureaus[pool_code]
        if pool_code == world.province.code:
            employers = [i for i in institutions.values() if i.level == InstitutionLevel.PROVINCIAL]
        else:
            employers = [i for i in institutions.values()
                         if i.region.code.startswith(pool_code[:4]) and i.level != InstitutionLevel.TOWNSHIP
                         and i.name != world.applicant_institution]
        employers.sort(key=lambda i: i.uscc)
        for n, name in enumerate(pool_data.names):
            employer = employers[n * 3 % len(employers)]
            if (pool_code, name) == world.login_expert.key:
                employer = institutions[world.login_expert.employer]
            system = employer.parent or (employer if employer.has_system_guidance else None)
            experts[(pool_code, name)] = Expert.objects.get_or_create(pool=pool, name=name, defaults={
                "employer": employer, "system": system, "title": data.titles[n % len(data.titles)],
                "qualifications": data.qualifications.text.format(years=data.qualifications.years_from + n),
                "reviewer_level": pool.level, "grades": list(pool_data.grades),
                "term_starts_on": term[0], "term_ends_on": term[1],
                "phone": f"139{_digits(name, 8):08d}",
            })[0]
    # A past employment (recused for three years after it ended) and a declared conflict.
    past, conflict = data.past_employment, data.conflict
    ExpertEmployment.objects.get_or_create(
        expert=experts[past.expert.key], institution=institutions[past.institution],
        defaults={"started_on": today - dt.timedelta(days=past.started_days_ago),
                  "ended_on": today - dt.timedelta(days=past.ended_days_ago)})
    ConflictDeclaration.objects.get_or_create(
        expert=experts[conflict.expert.key], institution=institutions[conflict.institution], archived_at=None,
        defaults={"reason": conflict.reason})
    return experts


def _seed_users(world: DemoWorld, bureaus: dict[str, Bureau], institutions: dict[str, Institution],
                experts: dict[tuple[str, str], Expert]) -> None:
    ensure_roles()

    def user(username: str, full_name: str, **extra) -> User:
        obj, created = User.objects.get_or_create(username=username, defaults={
            "full_name": full_name, "language": "zh-hans", "email": f"{username}@demo.invalid", **extra})
        if created:  # an existing user keeps the password someone may have changed
            obj.set_password(DEMO_PASSWORD)
            obj.save(update_fields=["password"])
        return obj

    for demo_user in world.users:
        username, role, full_name, bureau_code = (demo_user.username, demo_user.role, demo_user.full_name,
                                                  demo_user.bureau)
        if role == Role.APPLICANT:
            u = user(username, full_name)
            institution = institutions[world.applicant_institution]
            InstitutionMembership.objects.get_or_create(user=u, institution=institution, archived_at=None)
            role_grant(user=u, role=role, obj=institution)
        elif role == Role.EXPERT:
            expert = experts[world.login_expert.key]
            u = user(username, expert.name, phone=expert.phone)
            if expert.user_id is None and not Expert.objects.filter(user=u).exists():
                expert.user = u
                expert.save(update_fields=["user", "updated_at"])
            role_grant(user=u, role=role, obj=expert)  # a group only: experts act through their panels
        else:
            u = user(username, full_name)
            bureau = bureaus[bureau_code]
            BureauMembership.objects.get_or_create(user=u, bureau=bureau, archived_at=None)
            role_grant(user=u, role=role, obj=bureau)
    for username, name in world.panel_experts.logins.items():
        expert = experts[(world.panel_experts.pool, name)]
        u = user(username, expert.name, phone=expert.phone)
        if expert.user_id is None and not Expert.objects.filter(user=u).exists():
            expert.user = u
            expert.save(update_fields=["user", "updated_at"])
        role_grant(user=u, role=Role.EXPERT, obj=expert)
    user(world.admin.username, world.admin.full_name, is_staff=True, is_superuser=True)
    _seed_authenticators(world)


# --- The second factor of the demo's privileged logins ------------------------------------------------------
# Approvers, certificate officers and the administrator sign in with a second factor (README, "Sign-in
# security"). The demo gives each of them an authenticator already set up, whose secret is derived from the
# username and published like the demo password: add it to any authenticator app, or print the current codes
# with `manage.py seed_demo --second-factor`. Demo data only: seed_demo is refused in production.
def _demo_totp_key(username: str) -> str:
    return hashlib.sha1(f"demo-authenticator:{username}".encode()).hexdigest()  # noqa: S324 - a published demo key


def _second_factor_users(world: DemoWorld) -> list[User]:
    from .signin import second_factor_required

    return [u for u in User.objects.filter(username__in=_usernames(world)).order_by("pk") if second_factor_required(u)]


def _usernames(world: DemoWorld) -> list[str]:
    return [u.username for u in world.users] + [world.admin.username]


def _seed_authenticators(world: DemoWorld) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for u in _second_factor_users(world):
        if not TOTPDevice.objects.filter(user=u, confirmed=True).exists():
            TOTPDevice.objects.create(user=u, name="demo", key=_demo_totp_key(u.username), confirmed=True)


def demo_second_factors(world: DemoWorld | None = None) -> list[tuple[str, str, str]]:
    """(username, the authenticator's secret in base32, the code it shows now) of each demo login that signs in
    with a second factor and still has its demo authenticator."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .signin import totp_secret

    rows = []
    for u in _second_factor_users(world or demo_world()):
        device = TOTPDevice.objects.filter(user=u, confirmed=True, name="demo").first()
        if device is not None:
            code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
            rows.append((u.username, totp_secret(device), f"{code:06d}"))
    return rows


def _seed_certificates(world: DemoWorld, today: dt.date, version: SchemeVersion, bureaus: dict[str, Bureau],
                       institutions: dict[str, Institution]) -> None:
    spec = version.specification()
    issuer = bureaus[world.province.code]
    done: dict[str, Certificate] = {}
    for entry in certificate_plan(today, world):
        holder = institutions[entry.holder]
        grade_row = Grade.objects.get(version=version, code=entry.grade)
        existing = Certificate.objects.filter(institution=holder, grade=grade_row).first()
        if existing is not None:
            done[entry.key] = existing
            continue
        level = rules.assessing_level(holder.level, entry.grade, Kind.PROMOTION, scheme=spec)
        approver = Bureau.objects.get(region=holder.region.ancestor_at(level))
        old = done.get(entry.supersedes) if entry.supersedes else None
        year = entry.issued_on.year
        serial = certificate_next_serial(version.scheme_id, year)
        number = spec.documents.certificate_number_for(year, serial)
        if old is not None and old.status != CertificateStatus.SUPERSEDED:
            # The promotion supersedes the lower certificate before the new one comes into force.
            old.status = CertificateStatus.SUPERSEDED
            old.status_changed_at = rules.start_of_local_day(entry.issued_on, scheme=spec)
            old.status_reason = f"晋升为{spec.grade(entry.grade).name}，由证书{number}取代"
            old.save(update_fields=["status", "status_changed_at", "status_reason", "updated_at"])
        valid_until = rules.valid_until(entry.issued_on, scheme=spec)
        status = entry.status
        if status == CertificateStatus.SUPERSEDED:
            status = CertificateStatus.IN_FORCE  # until its successor is issued, below
        values = {
            "year": year, "serial": serial, "institution": holder, "grade": grade_row, "kind": Kind.PROMOTION, "issued_on": entry.issued_on, "valid_until": valid_until,
            "status": status, "issued_by": issuer, "approved_by": approver, "supersedes": old,
        }
        if status == CertificateStatus.LAPSED:
            values["status_changed_at"] = rules.lapses_at(valid_until, scheme=spec)
            values["status_reason"] = lapse_reason()
        done[entry.key] = Certificate.objects.get_or_create(number=number, defaults=values)[0]


def _seed_signatures(bureaus: dict[str, Bureau]) -> None:
    """Every demo bureau's signing key, and the demo certificates' signed credentials (both idempotent), so that
    the demo's documents and credentials are signed and verify."""
    from .signing import certificate_credential_issue, signing_key_create

    for bureau in bureaus.values():
        signing_key_create(actor=None, bureau=bureau)
    for certificate in Certificate.objects.filter(credential__isnull=True, issued_by__in=list(bureaus.values())):
        certificate_credential_issue(certificate)


@transaction.atomic
def demo_seed(*, today: dt.date | None = None, world: DemoWorld | None = None) -> DemoSummary:
    """Create the demo data that is missing, relative to ``today`` (default: today in the scheme's zone).

    ``world`` defaults to the shipped demo data file; a world naming a grade its scheme lacks is refused
    (:class:`DemoDataError`) before anything is created."""
    refuse_in_production()
    world = world or demo_world()
    before = _snapshot()
    version = _scheme_version(world)
    world.check_scheme(version.specification())
    if today is None:
        today = rules.local_date(timezone.now(), scheme=version.specification())
    regions, bureaus = _seed_regions_and_bureaus(world)
    institutions = _seed_institutions(world, regions)
    _seed_incident(world, institutions, today)
    experts = _seed_experts(world, bureaus, institutions, today)
    _seed_users(world, bureaus, institutions, experts)
    _seed_certificates(world, today, version, bureaus, institutions)
    _seed_signatures(bureaus)
    after = _snapshot()
    return DemoSummary(created=after != before, logins=demo_logins(world) or [], counts=after)


def demo_logins(world: DemoWorld | None = None) -> list[Login] | None:
    """The demo's logins as stored, or ``None`` when the demo data is not there. Creates nothing."""
    world = world or demo_world()
    users = {u.username: u for u in User.objects.filter(username__in=_usernames(world))}
    if len(users) != len(world.users) + 1:
        return None
    logins: list[Login] = []
    for demo_user in world.users:
        role, label = demo_user.role, demo_user.label
        u = users[demo_user.username]
        if role == Role.APPLICANT:
            membership = u.institution_memberships.filter(archived_at=None).select_related("institution").first()
            what = membership.institution.name if membership else ""
        elif role == Role.EXPERT:
            expert = Expert.objects.filter(user=u).select_related("pool", "employer").first()
            what = f"{expert.name}，{expert.pool.name}专家库" if expert else ""
        else:
            membership = u.bureau_memberships.filter(archived_at=None).select_related("bureau").first()
            what = membership.bureau.name if membership else ""
        logins.append((label, demo_user.username, DEMO_PASSWORD, what))
    logins.append((world.admin.label, world.admin.username, DEMO_PASSWORD, "Django admin /admin/"))
    return logins
