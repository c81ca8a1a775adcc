import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from certification import documents
from certification.enums import CertificateStatus
from tests.factories import CertificateFactory, InstitutionFactory

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def certificate(archives_version, regions, bureaus):
    holder = InstitutionFactory(name="武汉市民政局", uscc="91350100M000100Y43", region=regions["city"], level="city",
                                contact_phone="027-88888888")
    return CertificateFactory(institution=holder, scheme_version=archives_version, grade_code="second",
                              issued_by=bureaus["province"], approved_by=bureaus["city"],
                              issued_on=dt.date(2026, 5, 20), valid_until=dt.date(2029, 5, 19))


def test_the_qr_codes_url_shows_the_certificate_without_a_login(client, certificate):
    path = reverse("verify_token", args=[certificate.verification_token])
    assert documents.verification_url(certificate).endswith(path)
    page = client.get(path).content.decode()
    for text in ("武汉市民政局", "省二级", certificate.number, "2029-05-19", "有效", certificate.issued_by.name):
        assert text in page


def test_the_page_reveals_nothing_private(client, certificate):
    page = client.get(reverse("verify_token", args=[certificate.verification_token])).content.decode()
    assert "91350100M000100Y43" not in page
    assert "027-88888888" not in page


def test_a_lookup_by_number_and_a_lapsed_status(client, certificate):
    certificate.status = CertificateStatus.LAPSED
    certificate.save()
    page = client.get(reverse("verify"), {"number": certificate.number}).content.decode()
    assert "已失效" in page


def test_an_unknown_token_or_number_says_so(client, certificate):
    response = client.get(reverse("verify_token", args=["not-a-token"]))
    assert response.status_code == 404
    assert "没有找到相符的证书。" in response.content.decode()


def test_lookups_are_rate_limited(client, certificate):
    path = reverse("verify_token", args=[certificate.verification_token])
    codes = [client.get(path).status_code for _ in range(21)]
    assert (codes[:20], codes[20]) == ([200] * 20, 429)


@pytest.mark.parametrize("typed", ["{prefix}{year}{serial}号", "{prefix}({year}){serial}号", "{prefix}【{year}】{serial}",
                                   " {prefix} {year} {serial} 号 ", "{prefix}〔{year}〕{serial}号"])
def test_a_number_typed_without_its_brackets_finds_the_certificate(client, certificate, typed):
    found = re.fullmatch(r"(.*)〔(\d{4})〕(\d+)号", certificate.number)
    assert found, certificate.number
    number = typed.format(prefix=found[1], year=found[2], serial=found[3])

    response = client.get(reverse("verify"), {"number": number})

    assert response.status_code == 200 and certificate.number in response.content.decode()


def test_the_public_home_links_the_notices_and_the_verification(client):
    page = client.get(reverse("home")).content.decode()

    main = page.split('<main', 1)[1].split("</main>")[0]
    for name in ("notice_list", "notice_archive", "verify", "login"):
        assert f'href="{reverse(name)}"' in main, name
