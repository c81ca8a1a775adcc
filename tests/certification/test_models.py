import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from certification.enums import BureauLevel, CertificateStatus, InstitutionLevel, RegionLevel
from certification.models import Bureau, Certificate, HardDeleteRefused, Institution, Region
from tests.factories import (
    BureauFactory,
    CertificateFactory,
    ExpertFactory,
    InstitutionFactory,
)

pytestmark = pytest.mark.django_db


def test_region_below_province_without_parent_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        Region.objects.create(name="孤市", code="990100", level=RegionLevel.CITY, parent=None)


def test_region_parent_must_be_one_level_up(regions):
    township = Region(name="乡", code="999999001", level=RegionLevel.TOWNSHIP, parent=regions["city"])
    with pytest.raises(ValidationError) as exc:
        township.full_clean()
    assert list(exc.value.error_dict) == ["parent"]


def test_region_ancestor_at_walks_up(regions):
    assert regions["township"].ancestor_at(RegionLevel.CITY) == regions["city"]
    assert regions["township"].ancestor_at(RegionLevel.PROVINCE) == regions["province"]
    assert regions["city"].ancestor_at(RegionLevel.TOWNSHIP) is None


def test_bureau_region_must_be_at_its_level(regions, bureaus):
    wrong = Bureau(name="错局", level=BureauLevel.CITY, region=regions["county"], parent=bureaus["province"])
    with pytest.raises(ValidationError) as exc:
        wrong.full_clean(validate_unique=False)
    assert "region" in exc.value.error_dict


def test_bureau_suspension_needs_a_reason(bureaus):
    bureau = bureaus["county"]
    bureau.authority_suspended = True
    with pytest.raises(IntegrityError), transaction.atomic():
        bureau.save()


def test_one_bureau_per_region(regions, bureaus):
    with pytest.raises(IntegrityError), transaction.atomic():
        BureauFactory(region=regions["city"], level=BureauLevel.CITY, parent=bureaus["province"])


def test_institution_uscc_is_unique(regions):
    InstitutionFactory(uscc="91350100M000100Y43", region=regions["province"])
    with pytest.raises(IntegrityError), transaction.atomic():
        InstitutionFactory(uscc="91350100M000100Y43", region=regions["province"])


def test_institution_full_clean_rejects_a_bad_check_character(regions):
    institution = Institution(name="某局", uscc="91350100M000100Y44", level=InstitutionLevel.PROVINCIAL,
                              region=regions["province"])
    with pytest.raises(ValidationError) as exc:
        institution.full_clean()
    assert list(exc.value.error_dict) == ["uscc"]


def test_institution_level_must_match_its_region(regions):
    institution = InstitutionFactory.build(level=InstitutionLevel.COUNTY, region=regions["city"])
    with pytest.raises(ValidationError) as exc:
        institution.full_clean(validate_unique=False)
    assert list(exc.value.error_dict) == ["region"]


def test_domain_rows_are_never_hard_deleted(regions):
    institution = InstitutionFactory(region=regions["province"])
    with pytest.raises(HardDeleteRefused):
        institution.delete()
    with pytest.raises(HardDeleteRefused):
        Institution.objects.filter(pk=institution.pk).delete()
    assert Institution.objects.filter(pk=institution.pk).count() == 1


def test_expert_term_must_end_after_it_starts(bureaus):
    with pytest.raises(IntegrityError), transaction.atomic():
        ExpertFactory(pool=bureaus["province"], term_starts_on=dt.date(2026, 1, 1), term_ends_on=dt.date(2026, 1, 1))


def _certificate(archives_version, bureaus, institution, **kwargs):
    return CertificateFactory(institution=institution, scheme_version=archives_version,
                              issued_by=bureaus["province"], approved_by=bureaus["province"], **kwargs)


def test_only_one_current_certificate_per_institution(archives_version, regions, bureaus):
    institution = InstitutionFactory(region=regions["province"])
    _certificate(archives_version, bureaus, institution)
    with pytest.raises(IntegrityError), transaction.atomic():
        _certificate(archives_version, bureaus, institution, grade_code="first")


def test_a_superseded_certificate_leaves_room_for_its_successor(archives_version, regions, bureaus):
    institution = InstitutionFactory(region=regions["province"])
    old = _certificate(archives_version, bureaus, institution)
    old.status = CertificateStatus.SUPERSEDED
    old.save()
    new = _certificate(archives_version, bureaus, institution, grade_code="first", supersedes=old)
    assert old.superseded_by == new


def test_certificate_serial_unique_per_year(archives_version, regions, bureaus):
    _certificate(archives_version, bureaus, InstitutionFactory(region=regions["province"]), serial=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        _certificate(archives_version, bureaus, InstitutionFactory(region=regions["province"]), serial=7,
                     number="other")


def test_certificate_validity_must_end_after_issue(archives_version, regions, bureaus):
    with pytest.raises(IntegrityError), transaction.atomic():
        _certificate(archives_version, bureaus, InstitutionFactory(region=regions["province"]),
                     issued_on=dt.date(2026, 1, 1), valid_until=dt.date(2026, 1, 1))


def test_certificate_verification_tokens_are_unique_and_long(archives_version, regions, bureaus):
    a = _certificate(archives_version, bureaus, InstitutionFactory(region=regions["province"]))
    b = _certificate(archives_version, bureaus, InstitutionFactory(region=regions["province"]))
    assert a.verification_token != b.verification_token
    assert len(a.verification_token) >= 32


def test_certificate_number_format_is_the_schemes(archives_version):
    assert Certificate.format_number(2026, 7, version=archives_version) == "鄂档等证〔2026〕0007号"
    assert Certificate.parse_number("鄂档等证〔2026〕0007号", version=archives_version) == (2026, 7)
    assert Certificate.parse_number("教育督导评估证〔2026〕0007号", version=archives_version) is None


def test_scheme_and_version_follow_from_the_grade(archives_version, regions, bureaus):
    certificate = _certificate(archives_version, bureaus, InstitutionFactory(region=regions["province"]))
    assert (certificate.scheme_version, certificate.scheme) == (archives_version, archives_version.scheme)
    assert str(certificate.grade) == "省二级"


def test_one_current_certificate_per_scheme_across_its_versions(archives_version, regions, bureaus):
    from certification.scheme import parse_scheme, shipped_scheme_file
    from certification.services.schemes import scheme_load

    text = shipped_scheme_file("archives").read_text(encoding="utf-8").replace("version: 2", "version: 3")
    v2 = scheme_load(spec=parse_scheme(text)).version
    institution = InstitutionFactory(region=regions["province"])
    _certificate(archives_version, bureaus, institution)
    with pytest.raises(IntegrityError), transaction.atomic():
        _certificate(v2, bureaus, institution, grade_code="first")
