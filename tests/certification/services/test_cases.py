import datetime as dt

import pytest

from certification import permissions
from certification.enums import CertificateStatus, Kind, Role
from certification.exceptions import NotEligible, RuleViolation
from certification.models import AuditEntry, Case, CasePrerequisite, Stage
from certification.services.cases import case_declare
from tests.factories import CertificateFactory, InstitutionFactory, UserFactory
from tests.worlds import PDF, all_conditions, local, pdf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

IN_WINDOW = local(2026, 2, 10, 10, 0)


def declare(applicant, grade="second", kind=Kind.PROMOTION, now=IN_WINDOW, **kwargs):
    user, institution = applicant
    answers, evidence = all_conditions()
    return case_declare(actor=user, institution=institution, grade=grade, kind=kind,
                        answers=kwargs.pop("answers", answers), evidence=kwargs.pop("evidence", evidence),
                        now=now, **{"scheme": "archives", **kwargs})


def test_a_first_declaration_for_second_is_accepted_and_assessed_by_the_county(applicant, bureaus, tmp_path):
    case = declare(applicant)
    assert (case.stage, case.bureau, case.filing_bureau, case.grade.code) == (
        Stage.DECLARED, bureaus["county"], None, "second")
    assert case.reference == f"2026{case.pk:06d}"
    stored = CasePrerequisite.objects.get(case=case, code="registration")
    assert stored.evidence.read() == PDF
    assert CasePrerequisite.objects.get(case=case, code="transfer").evidence.name == ""
    assert AuditEntry.objects.get(action="case.declare").after["bureau"] == bureaus["county"].pk


def test_every_refusal_is_reported_at_once_and_nothing_is_stored(applicant):
    answers, evidence = all_conditions()
    evidence.pop("registration")
    entries = AuditEntry.objects.count()  # the scheme's load
    with pytest.raises(NotEligible) as exc:
        declare(applicant, grade="first", answers=answers, evidence=evidence)
    assert exc.value.codes == ["promotion.step_by_step", "prerequisite.registration"]
    assert (Case.objects.count(), AuditEntry.objects.count()) == (0, entries)


def test_a_declaration_after_march_31_is_refused(applicant):
    with pytest.raises(NotEligible) as exc:
        declare(applicant, now=dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC))
    assert exc.value.codes == ["declaration.window"]
    assert "2026-01-01" in str(exc.value)


def test_a_file_that_is_not_what_its_name_says_is_refused_in_chinese(applicant):
    answers, evidence = all_conditions()
    evidence["registration"] = pdf("登记证.pdf", b"MZ\x90\x00 this is a program")
    with pytest.raises(NotEligible) as exc:
        declare(applicant, answers=answers, evidence=evidence)
    assert exc.value.codes == ["upload.type"]
    assert "登记证.pdf 不是" in exc.value.refusals[0].message
    assert Case.objects.count() == 0


def test_a_file_too_large_is_refused(applicant, settings):
    settings.CERTIFICATION_UPLOAD_MAX_BYTES = 1024
    answers, evidence = all_conditions()
    evidence["registration"] = pdf(content=PDF + b"0" * 2048)
    with pytest.raises(NotEligible) as exc:
        declare(applicant, answers=answers, evidence=evidence)
    assert exc.value.codes == ["upload.size"]


def test_declaring_twice_is_refused_and_changes_nothing(applicant):
    first = declare(applicant)
    with pytest.raises(NotEligible) as exc:
        declare(applicant)
    assert exc.value.codes == ["declaration.case_open"]
    assert list(Case.objects.values_list("pk", flat=True)) == [first.pk]


def test_only_a_user_acting_for_the_institution_may_declare(applicant, regions):
    _user, institution = applicant
    stranger = UserFactory()
    permissions.role_grant(user=stranger, role=Role.APPLICANT, obj=InstitutionFactory(region=regions["province"]))
    answers, evidence = all_conditions()
    with pytest.raises(RuleViolation) as exc:
        case_declare(scheme="archives",
                     actor=stranger, institution=institution, grade="second", kind=Kind.PROMOTION,
                     answers=answers, evidence=evidence, now=IN_WINDOW)
    assert exc.value.codes == ["declaration.not_your_institution"]


def test_a_recheck_inside_the_window_renews_the_held_certificate_and_is_filed(applicant, archives_version, bureaus):
    user, institution = applicant
    held = CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="first",
                              issued_by=bureaus["province"], approved_by=bureaus["city"],
                              issued_on=dt.date(2023, 9, 1), valid_until=dt.date(2026, 8, 31))
    case = declare(applicant, grade="first", kind=Kind.RECHECK, now=dt.datetime(2026, 5, 5, 9, 0, tzinfo=dt.UTC))
    assert (case.renews, case.bureau, case.filing_bureau) == (held, bureaus["county"], bureaus["city"])
    held.refresh_from_db()
    assert held.status == CertificateStatus.RECHECK_IN_PROGRESS
