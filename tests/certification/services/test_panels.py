import dataclasses
import datetime as dt

import pytest
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, Case, ConflictDeclaration, Grade, ScoreSheet, SheetKind, Stage
from certification.scheme import shipped_scheme
from certification.services.panels import panel_form, panel_member_nudge
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory
from tests.worlds import local

ARCHIVES = shipped_scheme("archives")

pytestmark = pytest.mark.django_db
NOW = local(2026, 9, 10, 9, 0)


@pytest.fixture
def ready(archives_version, regions, bureaus):
    staff = UserFactory()
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    institution = InstitutionFactory(region=regions["city"], level=InstitutionLevel.CITY)
    case = Case.objects.create(
        institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
        bureau=bureaus["city"], grade=Grade.objects.get(version=archives_version, code="second"),
        declared_at=timezone.now(), declared_by=UserFactory(), reference="2026000009", stage=Stage.PANEL)
    experts = [ExpertFactory(pool=bureaus["city"], term_starts_on=dt.date(2025, 1, 1),
                             term_ends_on=dt.date(2027, 12, 31)) for _ in range(6)]
    return case, staff, experts


def test_the_proposed_panel_is_formed_with_a_chair_a_deadline_and_a_sheet_per_member(ready):
    case, staff, experts = ready
    panel = panel_form(actor=staff, case=case, seed=2026, now=NOW)
    members = list(panel.memberships.order_by("pk"))
    assert len(members) == 3  # same level: 3 to 5
    assert [m.is_chair for m in members].count(True) == 1
    assert panel.scoring_due_at == local(2026, 9, 25, 0, 0)
    assert ScoreSheet.objects.filter(case=case, kind=SheetKind.MEMBER).count() == 3
    case.refresh_from_db()
    assert case.stage == Stage.REVIEW
    entry = AuditEntry.objects.get(action="panel.form")
    assert (entry.after["seed"], entry.after["members"]) == (2026, [m.expert_id for m in members])


def test_the_draw_replays_with_its_seed(ready, archives_version):
    case, staff, experts = ready
    first = panel_form(actor=staff, case=case, seed=77, now=NOW)
    assert first.proposed == list(first.memberships.order_by("pk").values_list("expert_id", flat=True))
    from certification import rules
    from certification.selectors import panel_candidates
    from certification.services.panels import panel_case_facts
    loads = AuditEntry.objects.get(action="panel.form").after["loads"]
    candidates = [dataclasses.replace(c, load=loads[str(c.expert_id)]) for c in panel_candidates(pools=[case.bureau])]
    replay = rules.propose_panel(candidates, panel_case_facts(case), bureau_level="city", institution_level="city",
                                 seed=77, today=dt.date(2026, 9, 10), scheme=ARCHIVES)
    assert list(replay.members) == first.proposed


def test_a_conflicted_expert_chosen_by_hand_is_refused(ready):
    case, staff, experts = ready
    ConflictDeclaration.objects.create(expert=experts[0], institution=case.institution, reason="近亲属任该单位领导")
    with pytest.raises(RuleViolation) as exc:
        panel_form(actor=staff, case=case, members=experts[:3], now=NOW)
    assert exc.value.codes == ["panel.declared_conflict"]
    assert not hasattr(Case.objects.get(pk=case.pk), "panel")


def test_a_hand_chosen_panel_must_keep_the_size_and_the_chair_must_sit_on_it(ready):
    case, staff, experts = ready
    with pytest.raises(RuleViolation) as exc:
        panel_form(actor=staff, case=case, members=experts, now=NOW)
    assert exc.value.codes == ["panel.size"]
    with pytest.raises(RuleViolation) as exc:
        panel_form(actor=staff, case=case, members=experts[:3], chair=experts[4], now=NOW)
    assert exc.value.codes == ["panel.chair_not_member"]
    panel = panel_form(actor=staff, case=case, members=experts[:4], chair=experts[2], now=NOW)
    assert panel.memberships.get(is_chair=True).expert == experts[2]


def test_a_panel_is_formed_once_and_only_by_the_assessing_bureau(ready, bureaus):
    case, staff, _experts = ready
    outsider = UserFactory()
    permissions.role_grant(user=outsider, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    with pytest.raises(RuleViolation) as exc:
        panel_form(actor=outsider, case=case, now=NOW)
    assert exc.value.codes == ["permission.denied"]
    panel_form(actor=staff, case=case, now=NOW)
    with pytest.raises(RuleViolation) as exc:
        panel_form(actor=staff, case=case, now=NOW)
    assert exc.value.codes == ["panel.not_at_this_stage"]


def test_busy_experts_are_drawn_last(ready, archives_version, regions, bureaus):
    case, staff, experts = ready
    other = Case.objects.create(
        institution=InstitutionFactory(region=regions["city"], level=InstitutionLevel.CITY),
        scheme_version=archives_version, kind=Kind.PROMOTION, year=2026, bureau=bureaus["city"],
        grade=Grade.objects.get(version=archives_version, code="second"), declared_at=timezone.now(),
        declared_by=UserFactory(), reference="2026000010", stage=Stage.PANEL)
    busy = set(panel_form(actor=staff, case=other, members=experts[:3], now=NOW).members.values_list("pk",
                                                                                                      flat=True))
    second = panel_form(actor=staff, case=case, now=NOW)
    assert busy.isdisjoint(second.members.values_list("pk", flat=True))


def test_the_chair_reminds_a_late_member_at_most_once_a_day(ready):
    case, staff, experts = ready
    for expert in experts[:3]:
        expert.user = UserFactory()
        expert.save(update_fields=["user"])
    panel = panel_form(actor=staff, case=case, members=experts[:3], chair=experts[0], now=NOW)
    late, chair = panel.memberships.get(expert=experts[1]), experts[0].user

    panel_member_nudge(actor=chair, member=late, now=NOW)
    with pytest.raises(RuleViolation) as again:
        panel_member_nudge(actor=chair, member=late, now=NOW + dt.timedelta(hours=14))  # 23:00, the same day
    panel_member_nudge(actor=chair, member=late, now=NOW + dt.timedelta(hours=15))  # 00:00, the next day

    assert again.value.codes == ["nudge.already_today"]
    late.refresh_from_db()
    assert late.last_nudged_on == dt.date(2026, 9, 11)
    assert AuditEntry.objects.filter(action="panel.nudge", target_id=str(late.pk)).count() == 2


def test_only_the_chair_reminds_a_member(ready):
    case, staff, experts = ready
    for expert in experts[:3]:
        expert.user = UserFactory()
        expert.save(update_fields=["user"])
    panel = panel_form(actor=staff, case=case, members=experts[:3], chair=experts[0], now=NOW)
    late = panel.memberships.get(expert=experts[1])

    with pytest.raises(RuleViolation) as refused:
        panel_member_nudge(actor=experts[2].user, member=late, now=NOW)

    assert refused.value.codes == ["nudge.not_chair"]
    late.refresh_from_db()
    assert late.last_nudged_on is None
