import datetime as dt
import io
from collections import Counter

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from guardian.models import UserObjectPermission

from certification import rules
from certification.enums import CertificateStatus, InstitutionLevel, RegionLevel, Role
from certification.models import (
    Bureau,
    BureauMembership,
    Certificate,
    ConflictDeclaration,
    Expert,
    ExpertEmployment,
    Institution,
    InstitutionMembership,
    Region,
    SafetyIncident,
    User,
)
from certification.permissions import ROLE_OBJECT_PERMISSION, can, has_role
from certification.scheme import shipped_scheme
from certification.services.certificates import lapse_reason
from certification.services.demo import DEMO_PASSWORD, demo_logins, demo_seed
from certification.validators import validate_uscc
from tests.worlds import at

ARCHIVES = shipped_scheme("archives")

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def demo():
    return demo_seed(today=TODAY)


def _bureau(code: str) -> Bureau:
    return Bureau.objects.get(region__code=code)


def _counts() -> dict[str, int]:
    models = [Region, Bureau, Institution, SafetyIncident, Expert, ExpertEmployment, ConflictDeclaration, User,
              InstitutionMembership, BureauMembership, Certificate, Group, UserObjectPermission,
              User.groups.through]
    return {m.__name__: m.objects.count() for m in models}


def test_regions_count_one_province_three_cities_six_counties_twelve_townships(demo):
    by_level = Counter(Region.objects.values_list("level", flat=True))
    assert dict(by_level) == {RegionLevel.PROVINCE: 1, RegionLevel.CITY: 3, RegionLevel.COUNTY: 6,
                              RegionLevel.TOWNSHIP: 12}
    assert all(len(code) == 9 for code in Region.objects.filter(level=RegionLevel.TOWNSHIP)
               .values_list("code", flat=True))
    for region in Region.objects.all():
        region.full_clean()


def test_bureaus_count_ten_with_parents_county_to_city_to_province(demo):
    assert Bureau.objects.count() == 10
    province = _bureau("420000")
    assert province.name == "湖北省档案局"
    assert province.parent is None
    assert _bureau("420102").parent == _bureau("420100")
    assert _bureau("420100").parent == province
    for bureau in Bureau.objects.exclude(pk=province.pk):
        assert bureau.parent.region == bureau.region.parent
    assert Bureau.objects.filter(supervision_phone="").count() == 0
    for bureau in Bureau.objects.all():
        bureau.full_clean()


def test_institutions_at_least_sixty_with_valid_unique_usccs(demo):
    institutions = list(Institution.objects.all())
    assert len(institutions) >= 60
    assert len({i.uscc for i in institutions}) == len(institutions)
    for institution in institutions:
        validate_uscc(institution.uscc)
        institution.full_clean()  # level matches region, parent not below, uscc valid
        assert institution.uscc[:2] == "11"
        assert institution.uscc[2:8] == institution.region.code[:6]
        assert institution.fonds_number != ""
        assert institution.contact_phone != ""
    levels = Counter(i.level for i in institutions)
    assert levels[InstitutionLevel.PROVINCIAL] == 12
    assert levels[InstitutionLevel.TOWNSHIP] == 12


def test_institutions_with_system_guidance_have_subordinate_units(demo):
    education = Institution.objects.get(name="湖北省教育厅")
    assert education.has_system_guidance is True
    assert Institution.objects.get(name="武汉市教育局").has_system_guidance is True
    assert set(education.subordinates.values_list("name", flat=True)) >= {"湖北省教育考试院", "武汉市教育局"}
    assert Institution.objects.get(name="江岸区教育局").parent == Institution.objects.get(name="武汉市教育局")


def test_safety_incident_recorded_two_hundred_days_before_today(demo):
    incident = SafetyIncident.objects.get()
    assert incident.occurred_on == TODAY - dt.timedelta(days=200)
    assert incident.institution.certificates.count() == 0


def test_experts_at_least_thirty_with_terms_covering_today(demo):
    experts = list(Expert.objects.select_related("pool"))
    assert len(experts) >= 30
    assert [e.name for e in experts if not e.in_term(TODAY)] == []
    assert {e.pool.level for e in experts} == {"province", "city"}
    assert len({e.pool_id for e in experts}) == 4
    assert [e.name for e in experts if e.employer is None] == []
    assert {e.title for e in experts} == {"研究馆员", "副研究馆员", "档案馆员"}
    assert sum(1 for e in experts if e.system_id is not None) >= 3
    for expert in experts:
        expert.full_clean()
        assert (expert.term_ends_on - expert.term_starts_on).days >= 3 * 365 - 1


def test_experts_one_past_employment_and_one_conflict(demo):
    employment = ExpertEmployment.objects.get()
    assert employment.ended_on < TODAY
    conflict = ConflictDeclaration.objects.get()
    assert conflict.institution.name == "武汉市财政局"
    assert conflict.expert.pool == _bureau("420100")


@pytest.mark.parametrize(("username", "role", "own", "other"), [
    ("bureau", Role.BUREAU_STAFF, "420100", "420500"),
    ("prechecker", Role.PRECHECKER, "420100", "420102"),
    ("approver", Role.APPROVER, "420100", "420000"),
    ("officer", Role.CERTIFICATE_OFFICER, "420000", "420100"),
    ("auditor", Role.AUDITOR, "420000", "420600"),
])
def test_bureau_role_user_has_permission_on_own_bureau_only(demo, username, role, own, other):
    user = User.objects.get(username=username)
    perm = ROLE_OBJECT_PERMISSION[role]
    assert has_role(user, role) is True
    assert can(user, perm, _bureau(own)) is True
    assert can(user, perm, _bureau(other)) is False
    # Sub-bureaus do not inherit the permission either.
    assert [b.name for b in Bureau.objects.filter(parent=_bureau(own)) if can(user, perm, b)] == []
    assert list(BureauMembership.objects.filter(user=user).values_list("bureau__region__code", flat=True)) == [own]
    assert user.check_password(DEMO_PASSWORD) is True
    assert user.language == "zh-hans"
    assert user.full_name != ""
    assert user.is_staff is False


def test_applicant_user_acts_for_its_institution_only(demo):
    user = User.objects.get(username="applicant")
    mine = Institution.objects.get(name="武汉市财政局")
    assert has_role(user, Role.APPLICANT) is True
    assert can(user, "certification.act_for_institution", mine) is True
    assert can(user, "certification.act_for_institution", Institution.objects.get(name="武汉市教育局")) is False
    assert can(user, "certification.work_in_bureau", _bureau("420100")) is False
    assert list(InstitutionMembership.objects.filter(user=user).values_list("institution", flat=True)) == [mine.pk]
    assert user.check_password(DEMO_PASSWORD) is True


def test_expert_user_linked_to_an_expert_and_no_bureau(demo):
    user = User.objects.get(username="expert")
    assert has_role(user, Role.EXPERT) is True
    assert user.expert.name == user.full_name
    assert user.expert.in_term(TODAY) is True
    assert BureauMembership.objects.filter(user=user).count() == 0
    assert UserObjectPermission.objects.filter(user=user).count() == 0
    assert user.expert.conflicts.count() == 0


def test_admin_is_the_only_staff_and_gains_no_object_permission(demo):
    admin = User.objects.get(username="admin")
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert list(User.objects.filter(is_staff=True).values_list("username", flat=True)) == ["admin"]
    assert can(admin, "certification.work_in_bureau", _bureau("420100")) is False


def test_logins_one_per_role_plus_admin(demo):
    assert [login[1] for login in demo.logins] == [
        "applicant", "bureau", "prechecker", "expert", "approver", "officer", "auditor", "admin"]
    assert demo.logins[0] == ("申报单位 applicant", "applicant", "demo-pass", "武汉市财政局")
    assert {login[2] for login in demo.logins} == {DEMO_PASSWORD}
    assert demo.created is True
    for username, role in [("applicant", Role.APPLICANT), ("bureau", Role.BUREAU_STAFF),
                           ("prechecker", Role.PRECHECKER), ("expert", Role.EXPERT), ("approver", Role.APPROVER),
                           ("officer", Role.CERTIFICATE_OFFICER), ("auditor", Role.AUDITOR)]:
        assert list(User.objects.get(username=username).groups.values_list("name", flat=True)) == [role]


def test_seed_twice_creates_nothing_new(demo):
    before = _counts()
    again = demo_seed(today=TODAY)
    assert _counts() == before
    assert again.created is False
    assert again.logins == demo.logins


def test_seed_on_a_later_day_creates_nothing_new(demo):
    before = _counts()
    numbers = sorted(Certificate.objects.values_list("number", flat=True))
    again = demo_seed(today=TODAY + dt.timedelta(days=40))
    assert _counts() == before
    assert again.created is False
    assert sorted(Certificate.objects.values_list("number", flat=True)) == numbers


def test_seed_without_today_uses_the_local_date():
    # 2026-03-14 18:00 UTC is already 2026-03-15 in Shanghai.
    with at(2026, 3, 15, 2, 0):
        demo_seed()
    expiring = Certificate.objects.get(institution__name="湖北省统计局")
    assert expiring.valid_until == dt.date(2026, 3, 15) + dt.timedelta(days=60)
    assert SafetyIncident.objects.get().occurred_on == dt.date(2026, 3, 15) - dt.timedelta(days=200)


def test_certificates_at_least_eight_in_force_issued_one_to_two_years_ago(demo):
    in_force = Certificate.objects.filter(status=CertificateStatus.IN_FORCE,
                                          issued_on__lte=TODAY - dt.timedelta(days=365),
                                          issued_on__gte=TODAY - dt.timedelta(days=730))
    assert in_force.count() >= 8
    assert set(in_force.values_list("grade__code", flat=True)) == {"first", "second"}
    for cert in Certificate.objects.all():
        assert cert.valid_until == rules.valid_until(cert.issued_on, scheme=ARCHIVES)
        assert cert.issued_by == _bureau("420000")
        assert cert.scheme_version.is_current is True


def test_certificates_approved_by_the_assessing_bureau(demo):
    def approver(name, grade):
        return Certificate.objects.get(institution__name=name, grade__code=grade).approved_by.name

    assert approver("湖北省财政厅", "first") == "湖北省档案局"
    assert approver("江岸区财政局", "second") == "江岸区档案局"
    assert approver("远安县教育局", "first") == "宜昌市档案局"  # county, first: the city assesses
    assert approver("江岸区大智街道办事处", "second") == "江岸区档案局"  # township, second: the county


def test_applicant_holds_second_grade_issued_about_thirteen_months_ago(demo):
    cert = Certificate.objects.get(institution__name="武汉市财政局")
    assert (cert.grade.code, cert.status, cert.approved_by.name) == ("second", CertificateStatus.IN_FORCE, "武汉市档案局")
    assert 380 <= (TODAY - cert.issued_on).days <= 410


def test_one_certificate_in_force_expires_within_ninety_days(demo):
    expiring = Certificate.objects.filter(status=CertificateStatus.IN_FORCE, valid_until__gte=TODAY,
                                          valid_until__lte=TODAY + dt.timedelta(days=90))
    assert expiring.count() == 1
    assert expiring.get().valid_until == TODAY + dt.timedelta(days=60)


def test_certificates_exactly_one_lapsed(demo):
    lapsed = Certificate.objects.get(status=CertificateStatus.LAPSED)
    assert lapsed.valid_until < TODAY
    assert lapsed.status_reason == lapse_reason()
    assert lapsed.status_changed_at == rules.lapses_at(lapsed.valid_until, scheme=ARCHIVES)
    # Nothing else in force is past its validity: the lapse sweep would find nothing to do.
    assert Certificate.objects.filter(status=CertificateStatus.IN_FORCE, valid_until__lt=TODAY).count() == 0


def test_certificates_superseded_second_with_first_successor_in_force(demo):
    old = Certificate.objects.get(status=CertificateStatus.SUPERSEDED)
    new = old.superseded_by
    assert (old.grade.code, new.grade.code, new.status) == ("second", "first", CertificateStatus.IN_FORCE)
    assert new.institution == old.institution
    assert new.supersedes == old
    assert rules.add_years(old.issued_on, 1) <= new.issued_on
    assert old.status_changed_at is not None


def test_certificate_numbers_gapless_per_year_starting_at_one(demo):
    serials: dict[int, list[int]] = {}
    for cert in Certificate.objects.order_by("year", "serial"):
        serials.setdefault(cert.year, []).append(cert.serial)
        assert cert.number == Certificate.format_number(cert.year, cert.serial, version=cert.scheme_version)
        assert cert.year == cert.issued_on.year
    assert len(serials) >= 2
    for year_serials in serials.values():
        assert year_serials == list(range(1, len(year_serials) + 1))


def test_demo_seed_refuses_under_production_settings(settings):
    settings.SETTINGS_MODULE = "config.settings.production"
    with pytest.raises(RuntimeError, match="production"):
        demo_seed(today=TODAY)
    assert Region.objects.count() == 0
    assert User.objects.count() == 0


def test_seed_demo_command_prints_counts_and_logins():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0] == "Demo data created."
    assert "institutions             72" in text
    assert "applicant" in text and DEMO_PASSWORD in text and "武汉市财政局" in text
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert out.getvalue().splitlines()[0] == "Demo data already present: nothing new created."


def test_seed_demo_command_logins_only_without_data_exits_one():
    with pytest.raises(CommandError) as raised:
        call_command("seed_demo", "--print-logins-only", stdout=io.StringIO())
    assert raised.value.returncode == 1
    assert "seed_demo" in str(raised.value)
    assert Region.objects.count() == 0
    assert demo_logins() is None


def test_seed_demo_command_logins_only_creates_nothing(demo):
    before = _counts()
    out = io.StringIO()
    call_command("seed_demo", "--print-logins-only", stdout=out)
    assert _counts() == before
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["role", "username", "password", "acts", "for"]
    assert len(lines) == 2 + len(demo.logins)


def test_seed_demo_command_refuses_under_production_settings(settings):
    settings.SETTINGS_MODULE = "config.settings.production"
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo", stdout=io.StringIO())


def test_the_privileged_demo_logins_have_an_authenticator_whose_code_is_printed(demo):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from certification.services.signin import otp_verify

    out = io.StringIO()
    call_command("seed_demo", "--second-factor", stdout=out)
    rows = [line.split() for line in out.getvalue().splitlines()[2:]]
    assert [row[0] for row in rows] == ["approver", "officer", "admin"]
    assert set(TOTPDevice.objects.filter(confirmed=True).values_list("user__username", flat=True)) == {
        "approver", "officer", "admin"}
    approver = User.objects.get(username="approver")
    assert otp_verify(user=approver, code=rows[0][2]) is not None


def test_enough_experts_sign_in_for_a_panel_to_score_from_the_browser(demo):
    """The walk could not pass a review without a shell: one expert login, and panels need three."""
    from certification.models import Expert
    from certification.services.demo import DEMO_PANEL_EXPERTS

    experts = Expert.objects.filter(user__username__in=["expert", *DEMO_PANEL_EXPERTS]).select_related("user")
    assert len(experts) == 5
    assert all(e.user.full_name == e.name and e.user.check_password(DEMO_PASSWORD) for e in experts)
    assert all(e.in_term(TODAY) and e.pool == _bureau("420100") for e in experts)
    applicant = Institution.objects.get(name="武汉市财政局")
    assert [e.name for e in experts if e.conflicts.filter(institution=applicant).exists()
            or applicant.pk in (e.employer_id, e.system_id)] == []
