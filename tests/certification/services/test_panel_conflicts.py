"""Recusal by system (DESIGN §3.4): an expert employed, now or within the scheme's window, by the applicant's
parent units, its subordinate units or any unit of its system never sits on its panel; the assessing bureau's
own pool is drawn from first, a higher bureau's only for the seats it cannot fill."""

import datetime as dt

import pytest
from django.utils import timezone

from certification import permissions, rules
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, Expert, ExpertEmployment, Grade, Stage
from certification.scheme import shipped_scheme
from certification.services.panels import panel_candidates_for, panel_case_facts, panel_form
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory
from tests.worlds import local

ARCHIVES = shipped_scheme("archives")

pytestmark = pytest.mark.django_db
NOW = local(2026, 9, 10, 9, 0)
TERM = {"term_starts_on": dt.date(2025, 1, 1), "term_ends_on": dt.date(2027, 12, 31)}


@pytest.fixture
def system(regions):
    """A system of institutions: 市委办公室 heads it; under it 市委督查室 (the applicant's parent) and a
    sibling 市委机要局; under the applicant (市委档案室) a subordinate 县委档案室. An unrelated 市财政局 too."""
    def unit(name, parent=None, level=InstitutionLevel.CITY, region="city"):
        return InstitutionFactory(name=name, parent=parent, level=level, region=regions[region])

    head = unit("市委办公室")
    parent = unit("市委督查室", head)
    applicant = unit("市委档案室", parent)
    return {"head": head, "parent": parent, "applicant": applicant,
            "subordinate": unit("县委档案室", applicant, InstitutionLevel.COUNTY, "county"),
            "sibling": unit("市委机要局", head), "unrelated": unit("市财政局")}


@pytest.fixture
def ready(archives_version, bureaus, system):
    staff = UserFactory()
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    case = Case.objects.create(
        institution=system["applicant"], scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
        bureau=bureaus["city"], grade=Grade.objects.get(version=archives_version, code="second"),
        declared_at=timezone.now(), declared_by=UserFactory(), reference="2026000021", stage=Stage.PANEL)
    clean = [ExpertFactory(pool=bureaus["city"], name=f"无关专家{n}", employer=system["unrelated"], **TERM)
             for n in range(3)]
    return case, staff, clean


def expert(bureau, name, employer=None, **fields):
    return ExpertFactory(pool=bureau, name=name, employer=employer, **{**TERM, **fields})


def refused(case, staff, members):
    with pytest.raises(RuleViolation) as exc:
        panel_form(actor=staff, case=case, members=members, now=NOW)
    assert not hasattr(Case.objects.get(pk=case.pk), "panel")
    return [(r.code, r.message) for r in exc.value.refusals]


def test_an_employee_of_the_applicants_parent_unit_is_refused_by_name(ready, bureaus, system):
    case, staff, clean = ready
    conflicted = expert(bureaus["city"], "王督查", system["parent"])

    assert refused(case, staff, [conflicted, *clean[:2]]) == [
        ("panel.parent_unit", "王督查现在市委督查室（申报单位的上级单位）工作。")]


def test_an_employee_of_a_subordinate_unit_is_refused(ready, bureaus, system):
    case, staff, clean = ready
    conflicted = expert(bureaus["city"], "李下属", system["subordinate"])

    assert refused(case, staff, [conflicted, *clean[:2]]) == [
        ("panel.subordinate_unit", "李下属现在县委档案室（申报单位的下属单位）工作。")]


def test_an_employee_of_another_unit_of_the_same_system_is_refused(ready, bureaus, system):
    case, staff, clean = ready
    conflicted = expert(bureaus["city"], "赵机要", system["sibling"])

    assert refused(case, staff, [conflicted, *clean[:2]]) == [
        ("panel.same_system", "赵机要现在市委机要局（与申报单位同一系统）工作。")]


def test_an_ex_employee_of_the_parent_unit_within_the_window_is_refused(ready, bureaus, system):
    case, staff, clean = ready
    former = expert(bureaus["city"], "钱前任", system["unrelated"])
    ExpertEmployment.objects.create(expert=former, institution=system["parent"], started_on=dt.date(2015, 1, 1),
                                    ended_on=dt.date(2024, 6, 30))

    assert refused(case, staff, [former, *clean[:2]]) == [
        ("panel.parent_unit", "钱前任至2024-06-30在市委督查室（申报单位的上级单位）工作，未满3年。")]


def test_an_ex_employee_of_the_system_outside_the_window_sits(ready, bureaus, system):
    case, staff, clean = ready
    former = expert(bureaus["city"], "孙早年", system["unrelated"])
    ExpertEmployment.objects.create(expert=former, institution=system["sibling"], started_on=dt.date(2010, 1, 1),
                                    ended_on=dt.date(2023, 9, 9))  # three years before 2026-09-10 ends the day before

    panel = panel_form(actor=staff, case=case, members=[former, *clean[:2]], chair=former, now=NOW)

    assert sorted(panel.members.values_list("name", flat=True)) == ["孙早年", "无关专家0", "无关专家1"]


def test_the_proposal_leaves_out_every_expert_of_the_system(ready, bureaus, system):
    case, staff, clean = ready
    parent = expert(bureaus["city"], "王督查", system["parent"])
    subordinate = expert(bureaus["city"], "李下属", system["subordinate"])
    sibling = expert(bureaus["city"], "赵机要", system["sibling"])
    former = expert(bureaus["city"], "钱前任", system["unrelated"])
    ExpertEmployment.objects.create(expert=former, institution=system["subordinate"], started_on=dt.date(2015, 1, 1),
                                    ended_on=dt.date(2025, 1, 1))

    panel = panel_form(actor=staff, case=case, seed=5, now=NOW)

    assert sorted(panel.members.values_list("name", flat=True)) == ["无关专家0", "无关专家1", "无关专家2"]
    assert AuditEntry.objects.get(action="panel.form").after["excluded"] == {
        str(parent.pk): ["panel.parent_unit"], str(subordinate.pk): ["panel.subordinate_unit"],
        str(sibling.pk): ["panel.same_system"], str(former.pk): ["panel.subordinate_unit"]}


# --- The pools: the assessing bureau's first ------------------------------------------------------------------
def test_a_local_pool_large_enough_takes_no_outside_expert(ready, bureaus, system):
    case, staff, clean = ready
    expert(bureaus["city"], "本地专家", system["unrelated"])
    for n in range(5):
        expert(bureaus["province"], f"省库专家{n}", system["unrelated"])
    candidates, facts = panel_candidates_for(case), panel_case_facts(case)

    drawn = {name for seed in range(12) for name in _names(rules.propose_panel(
        candidates, facts, bureau_level="city", institution_level="city", seed=seed, today=NOW.date(), scheme=ARCHIVES).members)}
    panel = panel_form(actor=staff, case=case, seed=12, now=NOW)

    assert drawn == {"无关专家0", "无关专家1", "无关专家2", "本地专家"}
    assert set(panel.members.values_list("pool", flat=True)) == {bureaus["city"].pk}


def _names(expert_ids):
    return list(Expert.objects.filter(pk__in=expert_ids).values_list("name", flat=True))


def test_a_local_pool_too_small_takes_the_shortfall_from_the_higher_bureau(ready, bureaus, system):
    case, staff, clean = ready
    clean[2].employer = system["sibling"]  # one of the three is now of the applicant's system
    clean[2].save(update_fields=["employer"])
    for n in range(4):
        expert(bureaus["province"], f"省库专家{n}", system["unrelated"])

    panel = panel_form(actor=staff, case=case, seed=3, now=NOW)

    names = sorted(panel.members.values_list("name", flat=True))
    assert names[:2] == ["无关专家0", "无关专家1"]
    assert len(names) == 3 and names[2].startswith("省库专家")


def test_a_higher_bureaus_expert_chosen_by_hand_while_the_local_pool_suffices_is_refused(ready, bureaus, system):
    case, staff, clean = ready
    outsider = expert(bureaus["province"], "省库专家", system["unrelated"])

    assert [code for code, _message in refused(case, staff, [outsider, *clean[:2]])] == ["panel.pool_order"]
