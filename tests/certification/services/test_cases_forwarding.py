"""第十条 一: special-grade declarations from the city's level and below — promotions and rechecks — are gathered
by the city bureau and reported to the province within the first quarter; the province issues the plan. After
the deadline the city cannot forward, and only the province's hand inclusion (a late inclusion) lets one in."""

import datetime as dt

import pytest

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, LateInclusion, Stage
from certification.selectors import case_next_step
from certification.services.cases import case_declare, case_forward, case_plan_include
from certification.services.late_inclusions import late_inclusion_grant
from tests.factories import CertificateFactory, InstitutionFactory, UserFactory
from tests.worlds import all_conditions, at, local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def staff(bureaus):
    def make(bureau):
        user = UserFactory()
        permissions.role_grant(user=user, role=Role.BUREAU_STAFF, obj=bureau)
        return user
    return {level: make(bureau) for level, bureau in bureaus.items()}


@pytest.fixture
def holder(archives_version, regions, bureaus):
    """A county institution guiding a system, holding the special grade until 2027-05-09 (its recheck window
    opens on 2027-01-01), with one subordinate unit holding the second grade; and the user who acts for it."""
    institution = InstitutionFactory(name="县水利局", region=regions["county"], level=InstitutionLevel.COUNTY,
                                     has_system_guidance=True)
    unit = InstitutionFactory(name="县水利局下属站", region=regions["county"], level=InstitutionLevel.COUNTY,
                              parent=institution)
    CertificateFactory(institution=unit, scheme_version=archives_version, grade_code="second",
                       issued_by=bureaus["province"], approved_by=bureaus["county"], issued_on=dt.date(2025, 6, 1))
    CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="special",
                       issued_by=bureaus["province"], approved_by=bureaus["province"],
                       issued_on=dt.date(2024, 5, 10), valid_until=dt.date(2027, 5, 9))
    applicant = UserFactory()
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    return institution, applicant


def declare_recheck(holder, *, on=(2027, 2, 1, 9, 0)):
    institution, applicant = holder
    answers, evidence = all_conditions()
    with at(*on):
        return case_declare(scheme="archives",
                            actor=applicant, institution=institution, grade="special", kind=Kind.RECHECK,
                            answers=answers, evidence=evidence, gates={"online_archiving": True})


def test_a_county_special_recheck_is_forwarded_by_the_city_and_planned_by_the_province(holder, bureaus, staff):
    case = declare_recheck(holder)
    assert (case.bureau, case.forwarding_bureau, case.planning_bureau, case.filing_bureau) == (
        bureaus["city"], bureaus["city"], bureaus["province"], bureaus["province"])
    with at(2027, 2, 2, 9, 0):
        with pytest.raises(RuleViolation) as exc:
            case_plan_include(actor=staff["province"], case=case)  # not forwarded yet
        assert exc.value.codes == ["case.not_forwarded"]
        with pytest.raises(RuleViolation) as exc:
            case_forward(actor=staff["county"], case=case)
        assert exc.value.codes == ["permission.denied"]
        case_forward(actor=staff["city"], case=case)
        with pytest.raises(RuleViolation) as exc:
            case_plan_include(actor=staff["city"], case=case)  # the city assesses it, the province plans it
        assert exc.value.codes == ["permission.denied"]
        case_plan_include(actor=staff["province"], case=case)
    case.refresh_from_db()
    assert (case.stage, case.forwarded_at) == (Stage.PLANNED, local(2027, 2, 2, 9, 0))
    assert list(AuditEntry.objects.filter(action="case.forward").values_list("after", flat=True)) == [
        {"forwarded_by": bureaus["city"].pk, "to": bureaus["province"].pk}]


def test_the_next_step_names_the_city_the_province_and_the_last_day(holder, bureaus):
    case = declare_recheck(holder)
    step = case_next_step(case)
    assert (step.what, step.due) == (
        f"由{bureaus['city']}汇总申报，于2027-03-31前报送{bureaus['province']}；逾期只能由{bureaus['province']}手工补列。",
        local(2027, 4, 1, 0, 0))


def test_the_city_forwards_on_the_last_day_of_the_first_quarter(holder, staff):
    case = declare_recheck(holder)
    with at(2027, 3, 31, 23, 59):
        case_forward(actor=staff["city"], case=case)
    case.refresh_from_db()
    assert case.forwarded_at == local(2027, 3, 31, 23, 59)


def test_after_the_first_quarter_the_city_cannot_forward_and_is_told_the_province_may_include_it(holder, staff):
    case = declare_recheck(holder)
    with at(2027, 4, 1, 0, 0), pytest.raises(RuleViolation) as exc:
        case_forward(actor=staff["city"], case=case)
    assert exc.value.codes == ["forward.deadline_passed"]
    assert str(exc.value.refusals[0]) == (
        "本年度申报的报送期限（2027-03-31）已过。 "
        "负责下达考评计划的机关仍可说明理由后手工补列（逾期申报）；补列后市州级主管部门即可报送。")
    case.refresh_from_db()
    assert case.forwarded_at is None
    assert not AuditEntry.objects.filter(action="case.forward").exists()


def test_the_province_includes_a_late_forwarding_by_hand_and_the_city_forwards_it(holder, bureaus, staff):
    institution, _applicant = holder
    case = declare_recheck(holder)
    with at(2027, 4, 10, 9, 0):
        with pytest.raises(RuleViolation):
            late_inclusion_grant(scheme="archives",
                                 actor=staff["city"], bureau=bureaus["province"], institution=institution,
                                 reason="市局汇总遗漏")  # only the province's staff include in its plan
        inclusion = late_inclusion_grant(scheme="archives",
                                         actor=staff["province"], bureau=bureaus["province"],
                                         institution=institution, reason="市局汇总遗漏，经核实同意补列")
        case_forward(actor=staff["city"], case=case)
        case_plan_include(actor=staff["province"], case=case)
    inclusion.refresh_from_db()
    case.refresh_from_db()
    assert (inclusion.case, case.stage) == (case, Stage.PLANNED)
    assert AuditEntry.objects.get(action="case.forward").after == {
        "forwarded_by": bureaus["city"].pk, "to": bureaus["province"].pk, "late_inclusion": inclusion.pk}


def test_a_late_inclusion_of_another_bureau_does_not_let_the_city_forward(holder, bureaus, staff):
    institution, _applicant = holder
    case = declare_recheck(holder)
    with at(2027, 4, 10, 9, 0):
        late_inclusion_grant(scheme="archives",
                             actor=staff["city"], bureau=bureaus["city"], institution=institution, reason="补列")
        with pytest.raises(RuleViolation) as exc:
            case_forward(actor=staff["city"], case=case)
    assert exc.value.codes == ["forward.deadline_passed"]
    assert LateInclusion.objects.get().case is None


def test_a_first_grade_recheck_is_planned_by_its_assessing_bureau_as_before(archives_version, regions, bureaus,
                                                                         staff):
    institution = InstitutionFactory(region=regions["county"], level=InstitutionLevel.COUNTY)
    CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="first",
                       issued_by=bureaus["province"], approved_by=bureaus["city"], issued_on=dt.date(2024, 5, 10),
                       valid_until=dt.date(2027, 5, 9))
    applicant = UserFactory()
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    answers, evidence = all_conditions()
    with at(2027, 4, 20, 9, 0):
        case = case_declare(scheme="archives",
                            actor=applicant, institution=institution, grade="first", kind=Kind.RECHECK,
                            answers=answers, evidence=evidence)
        case_plan_include(actor=staff["county"], case=case)
    assert Case.objects.values_list("bureau", "forwarding_bureau", "planning_bureau", "stage").get() == (
        bureaus["county"].pk, None, None, Stage.PLANNED)
