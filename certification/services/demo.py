"""Demo data: a Hubei-like province with bureaus, institutions, experts, certificates and one login per role.

``demo_seed()`` is idempotent: every row is looked up by a stable key (a region's division code, an
institution's unified social credit code, a username, an expert's name in a pool, a certificate's holder and
grade) before it is created, so a second call creates nothing and returns the same logins. Dates are relative
to ``today`` so that the data always shows certificates in force, one about to expire, one lapsed and one
superseded. It refuses to run under the production settings: its users share a published password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from guardian.models import UserObjectPermission

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
from ..scheme import DEFAULT_SCHEME_FILE, load_scheme_file
from ..validators import uscc_check_character
from .certificates import certificate_next_serial, lapse_reason
from .schemes import scheme_load

DEMO_PASSWORD = "demo-pass"  # noqa: S105 - published on purpose: demo data only, refused in production
ARCHIVES_SCHEME_CODE = "archives"

Login = tuple[str, str, str, str]  # (role label, username, password, what the login acts for)


@dataclass(frozen=True)
class DemoSummary:
    created: bool  # whether this call created anything
    logins: list[Login]
    counts: dict[str, int] = field(default_factory=dict)


# --- The data -----------------------------------------------------------------------------------------------
# (code, name, telephone area code, postcode, counties); a county is (code, name, townships);
# a township is (9-digit code, name). 街道 get a 街道办事处, 镇 a 镇人民政府.
PROVINCE = ("420000", "湖北省", "027", "430071")
CITIES = [
    ("420100", "武汉市", "027", "430014", [
        ("420102", "江岸区", [("420102001", "大智街道"), ("420102002", "一元街道")]),
        ("420106", "武昌区", [("420106001", "积玉桥街道"), ("420106002", "杨园街道")]),
    ]),
    ("420500", "宜昌市", "0717", "443000", [
        ("420506", "夷陵区", [("420506001", "小溪塔街道"), ("420506100", "分乡镇")]),
        ("420525", "远安县", [("420525100", "鸣凤镇"), ("420525101", "花林寺镇")]),
    ]),
    ("420600", "襄阳市", "0710", "441000", [
        ("420607", "襄州区", [("420607001", "张湾街道"), ("420607100", "双沟镇")]),
        ("420624", "南漳县", [("420624100", "城关镇"), ("420624101", "武安镇")]),
    ]),
]

# Provincial institutions: (name, guides a system, parent's name).
PROVINCIAL_UNITS = [
    ("湖北省财政厅", False, None),
    ("湖北省教育厅", True, None),
    ("湖北省教育考试院", False, "湖北省教育厅"),
    ("湖北省公安厅", False, None),
    ("湖北省民政厅", False, None),
    ("湖北省司法厅", False, None),
    ("湖北省人力资源和社会保障厅", False, None),
    ("湖北省自然资源厅", False, None),
    ("湖北省交通运输厅", False, None),
    ("湖北省水利厅", False, None),
    ("湖北省卫生健康委员会", True, None),
    ("湖北省统计局", False, None),
]
# City-level units: (suffix, guides a system, parent's name with {province}).
CITY_UNITS = [
    ("财政局", False, None),
    ("教育局", True, "湖北省教育厅"),
    ("公安局", False, None),
    ("民政局", False, None),
    ("卫生健康委员会", False, "湖北省卫生健康委员会"),
    ("人力资源和社会保障局", False, None),
]
# County-level units: (suffix, parent's suffix among the city's units).
COUNTY_UNITS = [
    ("财政局", None),
    ("教育局", "教育局"),
    ("民政局", None),
    ("卫生健康局", "卫生健康委员会"),
    ("人民政府办公室", None),
]

SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN_NAMES = ["建华", "丽娟", "志强", "秀英", "文斌", "海燕", "国庆", "晓梅", "红霞", "俊杰", "春梅", "立新",
               "雪莲", "振宇", "桂芳", "明辉", "玉兰", "德胜", "静怡", "永刚", "慧敏", "卫东", "晓燕"]

# Expert pools: the province's and each city's, by the pool bureau's division code. Names are unique.
EXPERTS = {
    "420000": ["周文华", "吴敏", "郑国平", "孙丽华", "钱学军", "冯雅琴", "蒋天明", "沈玉梅", "韩振东", "杨淑芬",
               "朱立伟", "秦晓红"],
    "420100": ["许志远", "何春燕", "吕建新", "施美玲", "张德福", "孔繁荣", "曹秀兰"],
    "420500": ["严国栋", "华丽萍", "金永祥", "魏红梅", "陶建军", "姜淑贞", "戚文涛"],
    "420600": ["谢明亮", "邹桂兰", "喻长江", "柏玉珍", "水新华", "窦建华", "章丽芳"],
}
STREETS = ["东湖路", "解放大道", "中山路", "人民路", "建设路", "沿江大道", "和平路", "新华路"]
TITLES = ["研究馆员", "副研究馆员", "档案馆员"]

APPLICANT_INSTITUTION = "武汉市财政局"
CITY_BUREAU_CODE = "420100"  # 武汉市档案局: bureau staff, pre-checker and approver work here
DEMO_EXPERT = ("420100", "许志远")  # the expert login; employed by 武汉市民政局, no conflict with the applicant
# More experts of the city's pool who sign in, so that a panel of three (or five) can score from the browser:
# username → the expert's name. Same password; none has a conflict with the applicant.
DEMO_PANEL_EXPERTS = {"expert2": "施美玲", "expert3": "张德福", "expert4": "孔繁荣", "expert5": "曹秀兰"}

# Users: (username, role, role label, full name, bureau code or None). The expert's name is its Expert row's.
USERS = [
    ("applicant", Role.APPLICANT, "申报单位 applicant", "张晓梅", None),
    ("bureau", Role.BUREAU_STAFF, "档案局考评人员 bureau staff", "李建国", CITY_BUREAU_CODE),
    ("prechecker", Role.PRECHECKER, "预检人员 pre-checker", "王丽娟", CITY_BUREAU_CODE),
    ("expert", Role.EXPERT, "评审专家 review expert", None, None),
    ("approver", Role.APPROVER, "审批人 approver", "陈志强", CITY_BUREAU_CODE),
    ("officer", Role.CERTIFICATE_OFFICER, "省档案局制证 certificate officer", "刘芳", PROVINCE[0]),
    ("auditor", Role.AUDITOR, "审计人员 auditor", "赵明", PROVINCE[0]),
]
ADMIN = ("admin", "系统管理员 administrator", "系统管理员")


@dataclass(frozen=True)
class PlannedCertificate:
    key: str
    holder: str  # institution name
    grade: str
    issued_on: dt.date
    status: str = CertificateStatus.IN_FORCE
    supersedes: str | None = None  # key of the certificate this one replaces


def certificate_plan(today: dt.date) -> list[PlannedCertificate]:
    """The demo's certificates, in order of issue. Dates are relative to ``today``."""
    def days_ago(n: int) -> dt.date:
        return today - dt.timedelta(days=n)

    # In force, issued 1-2 years ago, mixed grades and levels (the applicant's ~13 months ago).
    in_force = [
        ("applicant", APPLICANT_INSTITUTION, "second", 395),
        ("prov-finance", "湖北省财政厅", "first", 420),
        ("prov-education", "湖北省教育厅", "first", 450),
        ("prov-police", "湖北省公安厅", "second", 480),
        ("wuhan-education", "武汉市教育局", "second", 510),
        ("yichang-finance", "宜昌市财政局", "first", 540),
        ("xiangyang-civil", "襄阳市民政局", "second", 570),
        ("jiangan-finance", "江岸区财政局", "second", 600),
        ("yuanan-education", "远安县教育局", "first", 630),
        ("dazhi", "江岸区大智街道办事处", "second", 660),
        ("prov-water", "湖北省水利厅", "first", 700),
    ]
    plan = [PlannedCertificate(key, holder, grade, days_ago(n)) for key, holder, grade, n in in_force]

    # In force and expiring 60 days from today: issued three years before today + 61 days.
    plan.append(PlannedCertificate("expiring", "湖北省统计局", "second",
                                   rules.add_years(today + dt.timedelta(days=61), -3)))
    # Lapsed: expired about a month ago with no recheck declared.
    plan.append(PlannedCertificate("lapsed", "夷陵区民政局", "second",
                                   rules.add_years(today - dt.timedelta(days=30), -3),
                                   status=CertificateStatus.LAPSED))
    # A second-grade certificate superseded by the first grade won more than a year after it.
    plan.append(PlannedCertificate("wuchang-old", "武昌区财政局", "second", days_ago(800),
                                   status=CertificateStatus.SUPERSEDED))
    plan.append(PlannedCertificate("wuchang-new", "武昌区财政局", "first", days_ago(330), supersedes="wuchang-old"))
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


def _person(seed: int) -> str:
    return SURNAMES[seed % len(SURNAMES)] + GIVEN_NAMES[(seed * 7 + seed // len(SURNAMES)) % len(GIVEN_NAMES)]


def _phone(area: str, text: str) -> str:
    """A landline number: Wuhan's have 8 digits, the other cities' 7."""
    lead, n = ("8", 7) if area == "027" else ("6", 6)
    return f"{area}-{lead}{_digits(text, n):0{n}d}"


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


def _archives_version() -> SchemeVersion:
    version = SchemeVersion.objects.filter(scheme__code=ARCHIVES_SCHEME_CODE, is_current=True).first()
    if version is None:
        version = scheme_load(spec=load_scheme_file(DEFAULT_SCHEME_FILE), source=DEFAULT_SCHEME_FILE.name).version
    return version


# --- Seeding ------------------------------------------------------------------------------------------------
def _seed_regions_and_bureaus() -> tuple[dict[str, Region], dict[str, Bureau]]:
    regions: dict[str, Region] = {}
    bureaus: dict[str, Bureau] = {}

    def region(code: str, name: str, level: str, parent: Region | None) -> Region:
        regions[code] = Region.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent": parent})[0]
        return regions[code]

    def bureau(reg: Region, parent: Bureau | None, area: str) -> Bureau:
        bureaus[reg.code] = Bureau.objects.get_or_create(region=reg, defaults={
            "name": f"{reg.name}档案局", "level": reg.level, "parent": parent,
            "address": f"{reg.name}档案馆大楼", "phone": _phone(area, reg.code + "office"),
            "supervision_phone": _phone(area, reg.code + "supervision"),
        })[0]
        return bureaus[reg.code]

    p_code, p_name, p_area, _postcode = PROVINCE
    province = region(p_code, p_name, RegionLevel.PROVINCE, None)
    province_bureau = bureau(province, None, p_area)
    for c_code, c_name, area, _postcode, counties in CITIES:
        city = region(c_code, c_name, RegionLevel.CITY, province)
        city_bureau = bureau(city, province_bureau, area)
        for k_code, k_name, townships in counties:
            county = region(k_code, k_name, RegionLevel.COUNTY, city)
            bureau(county, city_bureau, area)
            for t_code, t_name in townships:
                region(t_code, t_name, RegionLevel.TOWNSHIP, county)
    return regions, bureaus


def _seed_institutions(regions: dict[str, Region]) -> dict[str, Institution]:
    institutions: dict[str, Institution] = {}
    counter = iter(range(10_000))
    fonds: dict[str, int] = {}

    def institution(name: str, level: str, reg: Region, area: str, postcode: str, *,
                    guidance: bool = False, parent: str | None = None) -> None:
        seed = next(counter)
        fonds[reg.code] = fonds.get(reg.code, 0) + 1
        # Provincial organs sit in the capital; the others in their own region, named from the city down.
        chain, node = [], reg
        while node is not None and node.level != RegionLevel.PROVINCE:
            chain.insert(0, node.name)
            node = node.parent
        place = "".join(chain) or "武汉市武昌区"
        institutions[name] = Institution.objects.get_or_create(uscc=demo_uscc(reg.code, name), defaults={
            "name": name, "level": level, "region": reg, "has_system_guidance": guidance,
            "parent": institutions[parent] if parent else None,
            "fonds_number": f"{reg.code[:6]}-{fonds[reg.code]:03d}",
            "address": f"{place}{STREETS[seed % len(STREETS)]}{seed * 17 % 300 + 1}号",
            "postcode": postcode, "head": _person(3 * seed), "archives_leader": _person(3 * seed + 1),
            "contact_name": _person(3 * seed + 2), "contact_phone": _phone(area, name),
        })[0]

    p_code, _p_name, p_area, p_postcode = PROVINCE
    for name, guidance, parent in PROVINCIAL_UNITS:
        institution(name, InstitutionLevel.PROVINCIAL, regions[p_code], p_area, p_postcode,
                    guidance=guidance, parent=parent)
    for c_code, c_name, area, postcode, counties in CITIES:
        for suffix, guidance, parent in CITY_UNITS:
            institution(c_name + suffix, InstitutionLevel.CITY, regions[c_code], area, postcode,
                        guidance=guidance, parent=parent)
        for k_code, k_name, townships in counties:
            for suffix, parent_suffix in COUNTY_UNITS:
                institution(k_name + suffix, InstitutionLevel.COUNTY, regions[k_code], area, postcode,
                            parent=c_name + parent_suffix if parent_suffix else None)
            for t_code, t_name in townships:
                office = "办事处" if t_name.endswith("街道") else "人民政府"
                institution(k_name + t_name + office, InstitutionLevel.TOWNSHIP, regions[t_code], area, postcode)
    return institutions


def _seed_incident(institutions: dict[str, Institution], today: dt.date) -> None:
    """One institution with an archives-safety incident 200 days ago: it cannot declare for two years."""
    SafetyIncident.objects.get_or_create(institution=institutions["襄州区民政局"], defaults={
        "occurred_on": today - dt.timedelta(days=200), "kind": IncidentKind.DAMAGE,
        "description": "档案库房顶棚漏水，部分文书档案受潮损毁，已报告襄阳市档案局。",
    })


def _seed_experts(bureaus: dict[str, Bureau], institutions: dict[str, Institution],
                  today: dt.date) -> dict[tuple[str, str], Expert]:
    experts: dict[tuple[str, str], Expert] = {}
    term = (dt.date(today.year - 1, 1, 1), dt.date(today.year + 1, 12, 31))  # a 3-year appointment
    for pool_code, names in EXPERTS.items():
        pool = bureaus[pool_code]
        if pool_code == PROVINCE[0]:
            employers = [i for i in institutions.values() if i.level == InstitutionLevel.PROVINCIAL]
        else:
            employers = [i for i in institutions.values()
                         if i.region.code.startswith(pool_code[:4]) and i.level != InstitutionLevel.TOWNSHIP
                         and i.name != APPLICANT_INSTITUTION]
        employers.sort(key=lambda i: i.uscc)
        for n, name in enumerate(names):
            employer = employers[n * 3 % len(employers)]
            if (pool_code, name) == DEMO_EXPERT:
                employer = institutions["武汉市民政局"]
            system = employer.parent or (employer if employer.has_system_guidance else None)
            experts[(pool_code, name)] = Expert.objects.get_or_create(pool=pool, name=name, defaults={
                "employer": employer, "system": system, "title": TITLES[n % len(TITLES)],
                "qualifications": f"从事档案工作{12 + n}年，熟悉机关档案工作目标管理等级考评标准",
                "reviewer_level": pool.level,
                "grades": [] if pool.level == "province" else ["second", "first"],
                "term_starts_on": term[0], "term_ends_on": term[1],
                "phone": f"139{_digits(name, 8):08d}",
            })[0]
    # A past employment (recused for three years after it ended) and a declared conflict.
    ExpertEmployment.objects.get_or_create(
        expert=experts[("420100", "何春燕")], institution=institutions["武汉市教育局"],
        defaults={"started_on": today - dt.timedelta(days=6 * 365), "ended_on": today - dt.timedelta(days=2 * 365)})
    ConflictDeclaration.objects.get_or_create(
        expert=experts[("420100", "吕建新")], institution=institutions[APPLICANT_INSTITUTION], archived_at=None,
        defaults={"reason": "配偶在该单位办公室从事档案管理工作，申请回避。"})
    return experts


def _seed_users(bureaus: dict[str, Bureau], institutions: dict[str, Institution],
                experts: dict[tuple[str, str], Expert]) -> None:
    ensure_roles()

    def user(username: str, full_name: str, **extra) -> User:
        obj, created = User.objects.get_or_create(username=username, defaults={
            "full_name": full_name, "language": "zh-hans", "email": f"{username}@demo.invalid", **extra})
        if created:  # an existing user keeps the password someone may have changed
            obj.set_password(DEMO_PASSWORD)
            obj.save(update_fields=["password"])
        return obj

    for username, role, _label, full_name, bureau_code in USERS:
        if role == Role.APPLICANT:
            u = user(username, full_name)
            institution = institutions[APPLICANT_INSTITUTION]
            InstitutionMembership.objects.get_or_create(user=u, institution=institution, archived_at=None)
            role_grant(user=u, role=role, obj=institution)
        elif role == Role.EXPERT:
            expert = experts[DEMO_EXPERT]
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
    for username, name in DEMO_PANEL_EXPERTS.items():
        expert = experts[(CITY_BUREAU_CODE, name)]
        u = user(username, expert.name, phone=expert.phone)
        if expert.user_id is None and not Expert.objects.filter(user=u).exists():
            expert.user = u
            expert.save(update_fields=["user", "updated_at"])
        role_grant(user=u, role=Role.EXPERT, obj=expert)
    username, _label, full_name = ADMIN
    user(username, full_name, is_staff=True, is_superuser=True)
    _seed_authenticators()


# --- The second factor of the demo's privileged logins ------------------------------------------------------
# Approvers, certificate officers and the administrator sign in with a second factor (README, "Sign-in
# security"). The demo gives each of them an authenticator already set up, whose secret is derived from the
# username and published like the demo password: add it to any authenticator app, or print the current codes
# with `manage.py seed_demo --second-factor`. Demo data only: seed_demo is refused in production.
def _demo_totp_key(username: str) -> str:
    return hashlib.sha1(f"demo-authenticator:{username}".encode()).hexdigest()  # noqa: S324 - a published demo key


def _second_factor_users() -> list[User]:
    from .signin import second_factor_required

    usernames = [u[0] for u in USERS] + [ADMIN[0]]
    return [u for u in User.objects.filter(username__in=usernames).order_by("pk") if second_factor_required(u)]


def _seed_authenticators() -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for u in _second_factor_users():
        if not TOTPDevice.objects.filter(user=u, confirmed=True).exists():
            TOTPDevice.objects.create(user=u, name="demo", key=_demo_totp_key(u.username), confirmed=True)


def demo_second_factors() -> list[tuple[str, str, str]]:
    """(username, the authenticator's secret in base32, the code it shows now) of each demo login that signs in
    with a second factor and still has its demo authenticator."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .signin import totp_secret

    rows = []
    for u in _second_factor_users():
        device = TOTPDevice.objects.filter(user=u, confirmed=True, name="demo").first()
        if device is not None:
            code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
            rows.append((u.username, totp_secret(device), f"{code:06d}"))
    return rows


def _seed_certificates(today: dt.date, version: SchemeVersion, bureaus: dict[str, Bureau],
                       institutions: dict[str, Institution]) -> None:
    spec = version.specification()
    issuer = bureaus[PROVINCE[0]]
    done: dict[str, Certificate] = {}
    for entry in certificate_plan(today):
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
def demo_seed(*, today: dt.date | None = None) -> DemoSummary:
    """Create the demo data that is missing, relative to ``today`` (default: today in the scheme's zone)."""
    refuse_in_production()
    before = _snapshot()
    version = _archives_version()
    if today is None:
        today = rules.local_date(timezone.now(), scheme=version.specification())
    regions, bureaus = _seed_regions_and_bureaus()
    institutions = _seed_institutions(regions)
    _seed_incident(institutions, today)
    experts = _seed_experts(bureaus, institutions, today)
    _seed_users(bureaus, institutions, experts)
    _seed_certificates(today, version, bureaus, institutions)
    _seed_signatures(bureaus)
    after = _snapshot()
    return DemoSummary(created=after != before, logins=demo_logins() or [], counts=after)


def demo_logins() -> list[Login] | None:
    """The demo's logins as stored, or ``None`` when the demo data is not there. Creates nothing."""
    users = {u.username: u for u in User.objects.filter(username__in=[u[0] for u in USERS] + [ADMIN[0]])}
    if len(users) != len(USERS) + 1:
        return None
    logins: list[Login] = []
    for username, role, label, _full_name, _bureau in USERS:
        u = users[username]
        if role == Role.APPLICANT:
            membership = u.institution_memberships.filter(archived_at=None).select_related("institution").first()
            what = membership.institution.name if membership else ""
        elif role == Role.EXPERT:
            expert = Expert.objects.filter(user=u).select_related("pool", "employer").first()
            what = f"{expert.name}，{expert.pool.name}专家库" if expert else ""
        else:
            membership = u.bureau_memberships.filter(archived_at=None).select_related("bureau").first()
            what = membership.bureau.name if membership else ""
        logins.append((label, username, DEMO_PASSWORD, what))
    logins.append((ADMIN[1], ADMIN[0], DEMO_PASSWORD, "Django admin /admin/"))
    return logins
