"""The paper register on the pages and the API: the import (template, dry run, scans), the certificate's page
and its public verification with the register mark, the annual summary, and withdrawing an import."""

import io
import zipfile

import pytest
from django.core.cache import cache
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from certification import documents, permissions
from certification.enums import CertificateStatus, InstitutionLevel, Role
from certification.models import Certificate, RegisterBatch
from certification.scheme import shipped_scheme
from tests.factories import InstitutionFactory, UserFactory, make_uscc
from tests.worlds import PDF, at, xlsx_sheet

ARCHIVES = shipped_scheme("archives")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

HEADER = ["Holder's credit code", "Scheme", "Grade", "Kind", "Certificate number", "Issuing bureau",
          "Date of issue", "Expiry date", "Confirmation letter number", "Approving bureau", "Scan file"]


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def officer(province_officer):
    return province_officer


@pytest.fixture
def holder(archives_version, regions):
    return InstitutionFactory(name="县档案馆", uscc=make_uscc(801), region=regions["county"],
                              level=InstitutionLevel.COUNTY)


def sheet(*rows) -> bytes:
    return xlsx_sheet(rows, HEADER).getvalue()


def upload(content: bytes, name="register.xlsx"):
    file = io.BytesIO(content)
    file.name = name
    return file


def scans_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scans/a.pdf", PDF)
    return buffer.getvalue()


def good(holder, number="鄂档等证〔2024〕0012号", scan="a.pdf"):
    return [holder.uscc, "archives", "second", "promotion", number, "420000", "2024-05-20", "2027-05-19",
            "鄂档函〔2024〕3号", "420102", scan]


def test_the_template_of_the_register_has_the_columns_in_chinese(client, officer):
    client.force_login(officer)
    response = client.get(reverse("spreadsheet_template", args=["certificates"]))
    header = [c.value for c in next(load_workbook(io.BytesIO(response.content)).active.iter_rows())]
    assert header == ["持证机关信用代码", "考评方案", "等级", "类别", "证书编号", "发证机关", "发证日期", "有效期至", "确认函文号",
                      "审批机关", "扫描件"]


def test_the_page_runs_a_dry_run_then_imports_with_the_scans(client, officer, bureaus, holder):
    client.force_login(officer)
    form = {"kind": "certificates", "bureau": bureaus["province"].pk, "good_rows_only": "none"}
    with at(2026, 3, 2, 9, 0):
        dry = client.post(reverse("spreadsheets"), {**form, "dry_run": "on", "file": upload(sheet(good(holder))),
                                                    "scans": upload(scans_zip(), "scans.zip")})
        assert "其中1行将被导入" in dry.content.decode()
        assert Certificate.objects.count() == 0
        done = client.post(reverse("spreadsheets"), {**form, "file": upload(sheet(good(holder))),
                                                     "scans": upload(scans_zip(), "scans.zip")})
    assert done.status_code == 200
    certificate = Certificate.objects.get()
    assert certificate.scan.read() == PDF
    page = client.get(reverse("certificates:detail", args=[certificate.pk])).content.decode()
    assert "自纸质登记簿登记" in page and f"{officer}于2026-03-02 09:00登记" in page
    assert reverse("certificates:scan", args=[certificate.pk]) in page
    assert reverse("certificates:pdf", args=[certificate.pk]) not in page
    assert client.get(reverse("certificates:scan", args=[certificate.pk])).getvalue() == PDF
    assert client.get(reverse("certificates:pdf", args=[certificate.pk])).status_code == 404


def test_the_public_verification_of_a_registered_certificate_shows_its_register_mark(client, officer, bureaus,
                                                                                    holder):
    client.force_login(officer)
    with at(2026, 3, 2, 9, 0):
        client.post(reverse("spreadsheets"), {"kind": "certificates", "bureau": bureaus["province"].pk,
                                              "good_rows_only": "none", "file": upload(sheet(good(holder, scan="")))})
    certificate = Certificate.objects.get()
    client.logout()
    page = client.get(reverse("verify"), {"number": "鄂档等证〔2024〕0012号"}).content.decode()
    batch = RegisterBatch.objects.get()
    assert f"纸质证书；由{bureaus['province'].name}于2026-03-02登记（导入#{batch.pk}）" in page
    assert str(officer) not in page
    api = APIClient().get(f"/api/v1/verify/{certificate.verification_token}/").json()
    assert api["register"] == {"batch": batch.pk, "registered_on": "2026-03-02",
                               "registered_by": bureaus["province"].name, "withdrawn": False}


def test_the_annual_summary_of_its_year_lists_a_registered_certificate(officer, bureaus, holder):
    from certification.services.spreadsheets import certificates_import

    with at(2026, 3, 2, 9, 0):
        certificates_import(actor=officer, bureau=bureaus["province"], content=io.BytesIO(sheet(good(holder, scan=""))))
    rows = documents.approvals_summary(bureaus["city"], 2024, scheme=ARCHIVES)["rows"]
    assert rows == [[1, "县档案馆", "省二级", "晋升", "纸质证书登记", bureaus["county"].name, "鄂档函〔2024〕3号",
                     "2024年5月20日", "鄂档等证〔2024〕0012号"]]
    assert documents.approvals_summary(bureaus["city"], 2025, scheme=ARCHIVES)["rows"] == []


def test_the_api_imports_the_register_and_withdraws_the_batch(officer, bureaus, holder):
    api = APIClient()
    api.force_authenticate(officer)
    with at(2026, 3, 2, 9, 0):
        bad = api.post("/api/v1/imports/", {"kind": "certificates", "bureau": bureaus["province"].pk,
                                            "file": upload(sheet(good(holder, scan="b.pdf")))}, format="multipart")
        assert bad.status_code == 400
        assert [(e["row"], e["column"]) for e in bad.json()["errors"]] == [(2, "K")]
        made = api.post("/api/v1/imports/", {"kind": "certificates", "bureau": bureaus["province"].pk,
                                             "file": upload(sheet(good(holder, scan="")))}, format="multipart")
        assert (made.status_code, made.json()["imported"]) == (200, 1)
        batch = made.json()["batch"]
        listed = api.get(f"/api/v1/register-batches/{batch}/").json()
        assert listed["certificates"] == 1
        withdrawn = api.post(f"/api/v1/register-batches/{batch}/withdraw/", {"reason": "错表"}, format="json")
    assert withdrawn.status_code == 200
    assert Certificate.objects.get().status == CertificateStatus.REVOKED


def test_a_bureau_staff_member_cannot_withdraw_a_register_import(client, officer, bureaus, holder):
    from certification.services.spreadsheets import certificates_import

    with at(2026, 3, 2, 9, 0):
        certificates_import(actor=officer, bureau=bureaus["province"], content=io.BytesIO(sheet(good(holder, scan=""))))
    staff = UserFactory()
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["province"])
    client.force_login(staff)
    batch = RegisterBatch.objects.get()
    assert client.post(reverse("register_withdraw", args=[batch.pk]), {"reason": "x"}).status_code == 404
    assert Certificate.objects.get().status == CertificateStatus.IN_FORCE
