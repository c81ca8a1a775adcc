"""The case's lifecycle (certification/lifecycle.py, CaseLifecycle): every transition from every state, with
the actor it names and with another. An illegal move is refused in words and changes nothing."""

import ast
import pathlib

import pytest
from django.utils import timezone

from certification import permissions
from certification.enums import InstitutionLevel, Kind, Role
from certification.exceptions import RuleViolation
from certification.lifecycle import CASE_ENDS, CaseLifecycle, CaseState, case_transitions
from certification.models import AuditEntry, Case, Grade, Outcome, Panel, PanelMember, Stage
from certification.services.cases import case_move
from tests.factories import ExpertFactory, InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db
ROOT = pathlib.Path(__file__).resolve().parents[2]  # the checkout


@pytest.fixture
def case(archives_version, regions, bureaus):
    institution = InstitutionFactory(name="县财政局", region=regions["county"], level=InstitutionLevel.COUNTY)
    applicant = UserFactory()
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    prechecker = UserFactory()
    permissions.role_grant(user=prechecker, role=Role.PRECHECKER, obj=bureaus["county"])
    case = Case.objects.create(
        institution=institution, scheme_version=archives_version, kind=Kind.PROMOTION, year=2026,
        bureau=bureaus["county"], grade=Grade.objects.get(version=archives_version, code="second"),
        declared_at=timezone.now(), declared_by=applicant, reference="2026000001", prechecker=prechecker)
    chair = UserFactory()
    panel = Panel.objects.create(case=case, seed=1, formed_at=timezone.now(), formed_by=applicant,
                                 scoring_due_at=timezone.now())
    PanelMember.objects.create(panel=panel, expert=ExpertFactory(user=chair, pool=bureaus["county"]), is_chair=True)
    return case


@pytest.fixture
def actors(case, bureaus):
    """The user each transition's predicate names, by predicate (None: the system)."""
    def holder(role, obj):
        user = UserFactory()
        permissions.role_grant(user=user, role=role, obj=obj)
        return user

    chair = PanelMember.objects.get(panel__case=case, is_chair=True).expert.user
    return {
        "_system": None,
        "_applicant": case.declared_by,
        "_bureau_staff": holder(Role.BUREAU_STAFF, bureaus["county"]),
        "_planning_staff": holder(Role.BUREAU_STAFF, bureaus["county"]),  # the assessing bureau plans it
        "_system_or_bureau_staff": holder(Role.BUREAU_STAFF, bureaus["county"]),
        "_prechecker": case.prechecker,
        "_precheck_decider": case.prechecker,  # not delegated: the designated pre-checker decides
        "_chair": chair,
        "_approver": holder(Role.APPROVER, bureaus["county"]),
        "_certificate_officer": holder(Role.CERTIFICATE_OFFICER, bureaus["province"]),
    }


def _put(case: Case, state: str) -> Case:
    """Arrange: the case in ``state`` (as its columns store it)."""
    fields = {"stage": Stage.CLOSED, "outcome": state} if state in CASE_ENDS else {"stage": state,
                                                                                   "outcome": Outcome.OPEN}
    Case.objects.filter(pk=case.pk).update(**fields)
    return Case.objects.select_related("bureau", "institution").get(pk=case.pk)


def _row(case: Case) -> tuple:
    row = Case.objects.get(pk=case.pk)
    return row.stage, row.outcome, row.outcome_reason, row.updated_at


MOVES = sorted((name, str(t.source), str(t.target), t.permission.__name__, t.custom["refusal"])
               for name, transitions in case_transitions().items() for t in transitions)


def test_every_state_is_a_stage_or_an_end_and_every_transition_names_who_may_take_it():
    assert {s.value for s in CaseState} == ({s.value for s in Stage if s != Stage.CLOSED}
                                            | {o.value for o in Outcome if o != Outcome.OPEN})
    assert all(move[3].startswith("_") and move[4] for move in MOVES)
    assert [m for m in MOVES if m[0] == "certify"] == [
        ("certify", "certificate", "certified", "_certificate_officer", "case.not_the_officer")]
    assert {m[1] for m in MOVES if m[0] == "withdraw"} == {s.value for s in CaseState
                                                          if s not in CASE_ENDS and s != CaseState.CERTIFICATE}


def test_each_declared_move_takes_the_case_to_its_target_with_the_actor_it_names(case, actors):
    wrong = []
    for name, source, target, who, _refusal in MOVES:
        case = _put(case, source)
        case_move(case, name, actor=actors[who], action=f"test.{name}", reason="理由")
        case.refresh_from_db()
        entry = AuditEntry.objects.filter(action=f"test.{name}").latest("id")
        if (CaseLifecycle(case).state, entry.before, entry.after) != (
                target, {"stage": source, "outcome": "open"}, {"stage": case.stage, "outcome": case.outcome}):
            wrong.append((name, source, CaseLifecycle(case).state))
    assert wrong == []


def test_each_declared_move_by_anyone_else_is_refused_in_words_and_changes_nothing(case, actors):
    stranger = UserFactory()
    wrong = []
    for name, source, _target, who, refusal in MOVES:
        case = _put(case, source)
        before = _row(case)
        # the notice's close is the system's or the bureau's: the applicant stands for "anyone else" there
        actor = actors["_applicant"] if who in ("_system_or_bureau_staff", "_bureau_staff") else stranger
        try:
            case_move(case, name, actor=actor, action=f"test.{name}", reason="理由")
        except RuleViolation as exc:
            declared = next(t for t in case_transitions()[name] if str(t.source) == source)
            if exc.codes != [refusal] or str(exc) != f"此操作只能由{declared.custom['who']}进行。" \
                    or _row(case) != before:
                wrong.append((name, source, exc.codes, str(exc)))
        else:
            wrong.append((name, source, "not refused"))
    assert wrong == []
    assert not AuditEntry.objects.filter(action__startswith="test.").exists()


ILLEGAL = sorted((name, state.value) for name, transitions in case_transitions().items() for state in CaseState
                 if state.value not in {str(t.source) for t in transitions})


def test_the_illegal_moves_are_every_move_from_an_end_and_the_rest():
    names = case_transitions()
    assert {(n, e.value) for n in names for e in CASE_ENDS} <= set(ILLEGAL)
    assert ("withdraw", "certificate") in ILLEGAL and ("approve", "declared") in ILLEGAL
    assert len(ILLEGAL) + len(MOVES) == len(names) * len(CaseState)


def test_each_illegal_move_is_refused_in_words_and_changes_nothing(case, actors):
    wrong = []
    for name, state in ILLEGAL:
        case = _put(case, state)
        before = _row(case)
        who = next(iter(case_transitions()[name])).permission.__name__
        try:
            case_move(case, name, actor=actors[who], action=f"test.{name}", reason="理由")
        except RuleViolation as exc:
            if exc.codes != ["case.not_at_this_stage"] or case.reference not in str(exc) or _row(case) != before:
                wrong.append((name, state, exc.codes))
        else:
            wrong.append((name, state, "not refused"))
    assert wrong == []
    assert not AuditEntry.objects.filter(action__startswith="test.").exists()


def test_no_module_assigns_a_cases_stage_or_outcome_by_hand():
    """Only the lifecycle's setter writes ``stage`` and ``outcome``; everyone else moves a case with case_move."""
    offenders = []
    for path in sorted((ROOT / "certification").rglob("*.py")) + sorted((ROOT / "workflows").rglob("*.py")) \
            + sorted((ROOT / "notifications").rglob("*.py")):
        if "migrations" in path.parts or path.name == "lifecycle.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                for element in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(element, ast.Attribute) and element.attr in ("stage", "outcome"):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" \
                    and any(k.arg in ("stage", "outcome") for k in node.keywords):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
