"""Factories free of surprises: every value is plain and set here, nothing random."""

import datetime as dt

import factory

from certification import models, rules
from certification.enums import BureauLevel, InstitutionLevel, RegionLevel
from certification.validators import uscc_check_character


def make_uscc(n: int) -> str:
    first17 = f"11420100{n:09d}"
    return first17 + uscc_check_character(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    password = factory.django.Password("pw-for-tests")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Region

    name = factory.Sequence(lambda n: f"地区{n}")
    code = factory.Sequence(lambda n: f"{900000 + n}")
    level = RegionLevel.PROVINCE
    parent = None


class BureauFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Bureau

    name = factory.LazyAttribute(lambda o: f"{o.region.name}档案局")
    level = factory.LazyAttribute(lambda o: o.region.level)
    region = factory.SubFactory(RegionFactory)
    parent = None


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Institution

    name = factory.Sequence(lambda n: f"测试机关{n}")
    uscc = factory.Sequence(make_uscc)
    level = InstitutionLevel.PROVINCIAL
    region = factory.SubFactory(RegionFactory)


class ExpertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Expert

    name = factory.Sequence(lambda n: f"专家{n}")
    pool = factory.SubFactory(BureauFactory)
    term_starts_on = dt.date(2025, 1, 1)
    term_ends_on = dt.date(2027, 12, 31)


class CertificateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Certificate

    year = factory.LazyAttribute(lambda o: o.issued_on.year)
    serial = factory.Sequence(lambda n: n + 1)
    number = factory.LazyAttribute(lambda o: models.Certificate.format_number(o.year, o.serial,
                                                                              version=o.grade.version))
    class Params:
        grade_code = "second"

    grade = factory.LazyAttribute(lambda o: models.Grade.objects.get(version=o.scheme_version, code=o.grade_code))
    issued_on = dt.date(2025, 6, 1)
    valid_until = factory.LazyAttribute(lambda o: rules.valid_until(o.issued_on,
                                                                     scheme=o.grade.version.specification()))


def region_tree() -> dict[str, models.Region]:
    """A province with one city, one county and one township below it."""
    province = RegionFactory(name="省", code="420000", level=RegionLevel.PROVINCE)
    city = RegionFactory(name="市", code="420100", level=RegionLevel.CITY, parent=province)
    county = RegionFactory(name="县", code="420102", level=RegionLevel.COUNTY, parent=city)
    township = RegionFactory(name="乡", code="420102001", level=RegionLevel.TOWNSHIP, parent=county)
    return {"province": province, "city": city, "county": county, "township": township}


def bureau_tree(regions: dict[str, models.Region]) -> dict[str, models.Bureau]:
    province = BureauFactory(region=regions["province"], level=BureauLevel.PROVINCE)
    city = BureauFactory(region=regions["city"], level=BureauLevel.CITY, parent=province)
    county = BureauFactory(region=regions["county"], level=BureauLevel.COUNTY, parent=city)
    return {"province": province, "city": city, "county": county}
