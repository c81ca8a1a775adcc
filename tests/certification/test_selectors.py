import datetime as dt

import pytest

from certification import rules
from certification.enums import CertificateStatus, IncidentKind, InstitutionLevel
from certification.models import SafetyIncident
from certification.scheme import shipped_scheme
from certification.selectors import declarant_for, panel_candidates, system_head
from tests.factories import CertificateFactory, InstitutionFactory

ARCHIVES = shipped_scheme("archives")

pytestmark = pytest.mark.django_db


@pytest.fixture
def system(archives_version, regions, bureaus):
    """A provincial department that guides a system of ten subordinate units."""
    head = InstitutionFactory(name="省厅", region=regions["province"], has_system_guidance=True)
    units = [InstitutionFactory(name=f"直属{n}", region=regions["province"], parent=head) for n in range(10)]

    def certify(institution, grade="second", status=CertificateStatus.IN_FORCE):
        return CertificateFactory(institution=institution, scheme_version=archives_version, grade_code=grade,
                                  issued_by=bureaus["province"], approved_by=bureaus["province"], status=status,
                                  issued_on=dt.date(2024, 9, 1))
    return head, units, certify


def test_declarant_counts_subordinate_units_graded_from_certificate_records(archives_version, system):
    head, units, certify = system
    for unit in units[:8]:
        certify(unit)
    certify(units[8], "first")
    certify(units[9], status=CertificateStatus.LAPSED)  # a lapsed grade does not count

    who = declarant_for(head, version=archives_version)

    assert (who.subordinate_units, who.subordinate_units_graded) == (10, 9)


def test_declarant_carries_the_current_certificate_and_incidents(archives_version, system):
    head, _units, certify = system
    certify(head, "first")
    SafetyIncident.objects.create(institution=head, occurred_on=dt.date(2025, 4, 1), kind=IncidentKind.LEAK,
                                  description="涉密文件遗失")

    who = declarant_for(head, version=archives_version)

    assert (who.level, who.has_system_guidance) == (InstitutionLevel.PROVINCIAL, True)
    assert (who.certificate.grade, who.certificate.issued_on) == ("first", dt.date(2024, 9, 1))
    assert who.incident_dates == (dt.date(2025, 4, 1),)


def test_a_special_declaration_passes_the_gate_only_with_nine_of_ten_units_graded(archives_version, system):
    head, units, certify = system
    certify(head, "first")
    for unit in units[:8]:
        certify(unit)
    declaration = rules.Declaration("special", "promotion", gates={"online_archiving": True})
    codes = [r.code for r in rules.declaration_refusals(declarant_for(head, version=archives_version),
                                                        declaration, today=dt.date(2026, 2, 1), scheme=ARCHIVES)]
    assert "gate.subordinate_units_graded" in codes

    certify(units[8])
    codes = [r.code for r in rules.declaration_refusals(declarant_for(head, version=archives_version),
                                                        declaration, today=dt.date(2026, 2, 1), scheme=ARCHIVES)]
    assert "gate.subordinate_units_graded" not in codes


def test_system_head_of_a_unit_its_head_and_an_independent_institution(system, regions):
    head, units, _certify = system
    lone = InstitutionFactory(region=regions["province"])
    assert (system_head(units[0]), system_head(head), system_head(lone)) == (head, head, None)


def test_panel_candidates_read_employments_and_conflicts_in_the_same_queries_for_one_expert_or_many(bureaus,
                                                                                                  regions):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from certification.models import ConflictDeclaration, ExpertEmployment
    from tests.factories import ExpertFactory

    def read():
        with CaptureQueriesContext(connection) as captured:
            found = panel_candidates(pools=[bureaus["city"]])
        return len(captured), found

    applicant = InstitutionFactory(region=regions["city"], level="city")
    experts = [ExpertFactory(pool=bureaus["city"])]
    ConflictDeclaration.objects.create(expert=experts[0], institution=applicant, reason="亲属任职")
    one, found = read()
    assert len(found) == 1
    experts += [ExpertFactory(pool=bureaus["city"]) for _ in range(4)]
    ExpertEmployment.objects.create(expert=experts[1], institution=applicant, started_on=dt.date(2015, 1, 1),
                                    ended_on=dt.date(2025, 1, 1))
    ConflictDeclaration.objects.create(expert=experts[2], institution=InstitutionFactory(region=regions["city"],
                                                                                         level="city"), reason="x")

    five, candidates = read()

    assert (len(candidates), five) == (5, one)
    case = rules.PanelCase(institution_id=applicant.pk, system_id=None, grade="second")
    proposal = rules.propose_panel(candidates, case, bureau_level="city", institution_level="city", seed=1,
                                   today=dt.date(2026, 6, 1), scheme=ARCHIVES)
    assert proposal.excluded == {experts[0].pk: ("panel.declared_conflict",),
                                 experts[1].pk: ("panel.recent_employment",)}
    assert set(proposal.members) == {e.pk for e in experts[2:]}


@pytest.fixture
def township_unit(regions):
    return InstitutionFactory(region=regions["township"], level=InstitutionLevel.TOWNSHIP)


@pytest.mark.parametrize(
    ("grade", "kind", "assessor", "filer"),
    [("second", "promotion", "county", None), ("first", "promotion", "city", None),
     ("first", "recheck", "county", "city")],
)
def test_assessing_and_filing_bureaus_follow_the_authority_matrix(archives_version, bureaus, township_unit,
                                                                  grade, kind, assessor, filer):
    from certification.selectors import assessing_bureau, filing_bureau

    assert assessing_bureau(township_unit, grade=grade, kind=kind, version=archives_version) == bureaus[assessor]
    expected = bureaus[filer] if filer else None
    assert filing_bureau(township_unit, grade=grade, kind=kind, version=archives_version) == expected


def test_a_suspended_bureau_loses_its_authority_to_its_parent(archives_version, bureaus, township_unit):
    from certification.selectors import assessing_bureau

    county = bureaus["county"]
    county.authority_suspended, county.suspension_reason = True, "抽查发现考评质量不符合标准，整改不落实"
    county.save()
    assert assessing_bureau(township_unit, grade="second", kind="promotion",
                            version=archives_version) == bureaus["city"]


def test_a_grade_not_open_to_the_level_has_no_assessing_bureau(archives_version, bureaus, township_unit):
    from certification.selectors import assessing_bureau

    with pytest.raises(rules.NotEligible):
        assessing_bureau(township_unit, grade="special", kind="promotion", version=archives_version)
