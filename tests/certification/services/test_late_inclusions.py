"""Late declarations (DESIGN §3.6): the bureau includes one in its plan by hand, with a reason; the institution
declares once, until the day set, and only for a grade that bureau assesses. Every refusal changes nothing."""

import datetime as dt

import pytest

from certification import permissions
from certification.enums import CertificateStatus, InstitutionLevel, Kind, Role
from certification.exceptions import NotEligible, RuleViolation
from certification.models import AuditEntry, Case, LateInclusion, Stage
from certification.services.cases import case_withdraw
from certification.services.late_inclusions import late_inclusion_grant, late_inclusion_withdraw
from notifications.kinds import Kind as NotificationKind
from notifications.models import Notification
from tests.certification.services.test_cases import declare
from tests.factories import CertificateFactory, InstitutionFactory, RegionFactory, UserFactory
from tests.worlds import local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

APRIL_5 = local(2026, 4, 5, 10, 0)
APRIL_10 = local(2026, 4, 10, 10, 0)


@pytest.fixture
def staff(bureaus):
    people = {}
    for level in ("county", "city"):
        people[level] = UserFactory()
        permissions.role_grant(user=people[level], role=Role.BUREAU_STAFF, obj=bureaus[level])
    return people


def grant(staff, bureau, institution, *, reason="单位搬迁，档案整理延误", declare_by=dt.date(2026, 4, 30), now=APRIL_5):
    return late_inclusion_grant(scheme="archives",
                                actor=staff, bureau=bureau, institution=institution, reason=reason,
                                declare_by=declare_by, now=now)


def test_a_late_declaration_the_bureau_included_is_accepted_once(applicant, staff, bureaus):
    user, institution = applicant
    inclusion = grant(staff["county"], bureaus["county"], institution)

    case = declare(applicant, now=APRIL_10)

    inclusion.refresh_from_db()
    assert (case.stage, case.bureau, inclusion.case) == (Stage.DECLARED, bureaus["county"], case)
    assert AuditEntry.objects.get(action="case.declare").after["late_inclusion"] == inclusion.pk
    entry = AuditEntry.objects.get(action="late_inclusion.grant")
    assert (entry.actor, entry.reason, entry.after["declare_by"]) == (staff["county"], "单位搬迁，档案整理延误",
                                                                       "2026-04-30")
    told = Notification.objects.get(kind=NotificationKind.LATE_INCLUDED)
    assert told.recipient == user
    assert told.text == "县档案局已将乡政府的逾期申报列入计划，理由：单位搬迁，档案整理延误。请于2026-04-30前申报。"
    case_withdraw(actor=user, case=case, reason="材料不全，明年再报")
    with pytest.raises(NotEligible) as again:
        declare(applicant, now=local(2026, 4, 12, 10, 0))
    assert again.value.codes == ["declaration.window"]  # used once: a second declaration is late again


def test_after_the_day_set_the_inclusion_no_longer_counts(applicant, staff, bureaus):
    grant(staff["county"], bureaus["county"], applicant[1])
    with pytest.raises(NotEligible) as exc:
        declare(applicant, now=local(2026, 5, 1, 9, 0))
    assert exc.value.codes == ["declaration.window"]
    assert Case.objects.count() == 0
    assert LateInclusion.objects.get().case is None


def test_an_inclusion_by_a_bureau_that_does_not_assess_the_grade_does_not_count(applicant, staff, bureaus):
    # A township's second grade is assessed by the county: the city's inclusion is not the plan it enters.
    grant(staff["city"], bureaus["city"], applicant[1])
    with pytest.raises(NotEligible) as exc:
        declare(applicant, now=APRIL_10)
    assert exc.value.codes == ["declaration.window"]


def test_a_declaration_inside_the_window_or_a_recheck_leaves_the_inclusion_unused(applicant, staff, bureaus,
                                                                                  archives_version):
    _user, institution = applicant
    inclusion = grant(staff["county"], bureaus["county"], institution, now=local(2026, 3, 20, 9, 0),
                      declare_by=dt.date(2026, 4, 30))
    CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="second",
                       issued_by=bureaus["province"], approved_by=bureaus["county"], issued_on=dt.date(2023, 5, 4),
                       status=CertificateStatus.IN_FORCE)

    case = declare(applicant, kind=Kind.RECHECK, now=APRIL_10)  # a recheck has its own window

    inclusion.refresh_from_db()
    assert case.kind == Kind.RECHECK and inclusion.case is None


@pytest.mark.parametrize("what", ["no reason", "outside the territory", "day passed", "next year", "not staff",
                                  "twice"])
def test_a_refused_inclusion_is_told_in_chinese_and_changes_nothing(what, applicant, staff, bureaus, regions):
    _user, institution = applicant
    if what == "twice":
        grant(staff["county"], bureaus["county"], institution)
    before = (LateInclusion.objects.count(), AuditEntry.objects.count())
    other_county = RegionFactory(name="邻县", code="420103", level="county", parent=regions["city"])
    elsewhere = InstitutionFactory(name="邻县民政局", region=other_county, level=InstitutionLevel.COUNTY)
    arguments = {
        "no reason": {"reason": "  "},
        "outside the territory": {"institution": elsewhere},
        "day passed": {"declare_by": dt.date(2026, 4, 4)},
        "next year": {"declare_by": dt.date(2027, 1, 15)},
        "not staff": {"actor": UserFactory()},
        "twice": {},
    }[what]
    expected = {"no reason": "须说明理由", "outside the territory": "不在", "day passed": "最后一天",
                "next year": "最后一天", "not staff": "工作人员", "twice": "尚未使用"}[what]

    with pytest.raises(RuleViolation) as exc:
        late_inclusion_grant(**{"scheme": "archives",
                                "actor": staff["county"], "bureau": bureaus["county"], "institution": institution,
                                "reason": "单位搬迁", "declare_by": dt.date(2026, 4, 30), "now": APRIL_5,
                                **arguments})

    assert expected in str(exc.value)
    assert (LateInclusion.objects.count(), AuditEntry.objects.count()) == before


def test_a_withdrawn_inclusion_no_longer_counts_and_cannot_be_withdrawn_twice(applicant, staff, bureaus):
    inclusion = grant(staff["county"], bureaus["county"], applicant[1])

    late_inclusion_withdraw(actor=staff["county"], inclusion=inclusion, reason="误选单位")

    inclusion.refresh_from_db()
    assert inclusion.archived_at is not None
    assert AuditEntry.objects.get(action="late_inclusion.withdraw").reason == "误选单位"
    with pytest.raises(NotEligible):
        declare(applicant, now=APRIL_10)
    with pytest.raises(RuleViolation) as twice:
        late_inclusion_withdraw(actor=staff["county"], inclusion=inclusion, reason="再撤一次")
    assert "已使用或已撤回" in str(twice.value)
    with pytest.raises(RuleViolation):
        late_inclusion_withdraw(actor=staff["city"], inclusion=grant(staff["county"], bureaus["county"],
                                                                     applicant[1]), reason="不是本局")
    # withdrawn, a new inclusion may be granted (another day, another reason)
    assert LateInclusion.objects.filter(archived_at__isnull=True).count() == 1
