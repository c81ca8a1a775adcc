"""Signed certificates and credentials, checked as an outsider would: the PDF's PAdES signature with pyHanko's
validator and poppler's ``pdfsig``, the credential's proof and its status in the published status list, the
keys published with their periods, rotation, the QR code's signed essentials, and the Open Badges 3.0 schema."""

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings
from django.core.management import call_command

from certification import signing
from certification.enums import Kind
from certification.models import AuditEntry, Grade, IssuedDocument, SigningKey
from certification.services import signing as published
from certification.services.certificates import (
    certificate_issue,
    certificate_transition,
    certificates_lapse_due,
)
from certification.services.documents import document_draw
from certification.verify import keys_from, verify_credential, verify_pdf
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "tests" / "data" / "openbadges" / "ob_v3p0_achievementcredential_schema.json"


def officer_of(bureau):
    from certification import permissions
    from certification.enums import Role

    user = UserFactory()
    permissions.role_grant(user=user, role=Role.CERTIFICATE_OFFICER, obj=bureau)
    return user


@pytest.fixture
def issue(archives_version, regions, bureaus):
    def _issue(name="武汉市民政局", on=dt.date(2026, 5, 20)):
        with at(on.year, on.month, on.day, 10, 0):
            return certificate_issue(actor=None, institution=InstitutionFactory(name=name, region=regions["city"],
                                                                                level="city"),
                                     kind=Kind.PROMOTION, issued_on=on, approved_by=bureaus["city"],
                                     grade=Grade.objects.get(version=archives_version, code="second"))
    return _issue


def drawn_pdf(certificate) -> bytes:
    """The certificate's PDF, drawn and signed by the task's function an hour after it was issued."""
    document = IssuedDocument.objects.get(certificate=certificate, kind="certificate")
    day = certificate.issued_on
    with at(day.year, day.month, day.day, 11, 0):
        document = document_draw(document_id=document.pk)
    with document.file.open("rb") as handle:
        return handle.read()


def fetch(url):
    return published.published_document(url)


def test_the_certificate_pdf_is_signed_by_the_issuing_bureau_over_the_seal_and_time_stamped(issue, bureaus):
    certificate = issue()
    pdf = drawn_pdf(certificate)

    [check] = signing.pdf_signatures(pdf)
    assert (check.intact, check.covers_whole_file, check.timestamp_intact) == (True, True, True)
    assert check.field_name == signing.SIGNATURE_FIELD
    # and a document time-stamp over the whole signed file, after the signature
    [stamp] = signing.pdf_document_timestamps(pdf)
    assert (stamp.intact, stamp.covers_whole_file) == (True, True)
    assert stamp.at >= check.signed_at
    assert bureaus["province"].name in check.signer_subject
    key = SigningKey.objects.get(bureau=bureaus["province"], retired_at__isnull=True)
    assert signing.certificate_public_jwk_thumbprint(check.certificate_pem) == key.fingerprint
    report = verify_pdf(pdf, fetch=fetch)
    assert report.holds, report.lines()
    assert report.essentials["number"] == certificate.number
    assert report.status == "valid"
    # the signature's widget lies over the certificate's seal area, on the first page
    import io

    from pypdf import PdfReader

    [widget] = [a.get_object() for a in PdfReader(io.BytesIO(pdf)).pages[0]["/Annots"]
                if a.get_object().get("/FT") == "/Sig" and a.get_object().get("/T") == signing.SIGNATURE_FIELD]
    assert [round(float(v)) for v in widget["/Rect"]] == list(signing.CERTIFICATE_SEAL_BOX)
    # what is stored and served is the signed PDF: its SHA-256 is the signed file's
    import hashlib

    document = IssuedDocument.objects.get(certificate=certificate, kind="certificate")
    assert document.sha256 == hashlib.sha256(pdf).hexdigest()


def test_a_pdf_changed_by_one_byte_fails_validation(issue):
    pdf = drawn_pdf(issue())
    tampered = bytearray(pdf)
    where = pdf.index(b"/Type /Page") if b"/Type /Page" in pdf else len(pdf) // 3
    tampered[where + 1] ^= 0x01

    report = verify_pdf(bytes(tampered), fetch=fetch)
    assert not report.holds
    assert report.findings[0].holds is False


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler's pdfsig is not installed")
def test_pdfsig_finds_the_signature_valid_and_the_changed_copy_not(issue, tmp_path):
    pdf = drawn_pdf(issue())
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(pdf)
    tampered = bytearray(pdf)
    tampered[len(pdf) // 4] ^= 0x01
    bad.write_bytes(bytes(tampered))

    pdfsig = shutil.which("pdfsig")
    out_good = subprocess.run([pdfsig, str(good)], capture_output=True, text=True, check=False).stdout  # noqa: S603
    out_bad = subprocess.run([pdfsig, str(bad)], capture_output=True, text=True, check=False).stdout  # noqa: S603
    assert "Signature Validation: Signature is Valid." in out_good
    assert "Total document signed" in out_good
    assert "Signature is Valid" not in out_bad


def test_the_letter_and_the_approval_basis_are_signed_by_the_approving_bureau(world):
    from tests.worlds import run_case

    case = run_case(world)
    for document in IssuedDocument.objects.filter(case=case, certificate__isnull=True):
        document = document_draw(document_id=document.pk)
        with document.file.open("rb") as handle:
            [check] = signing.pdf_signatures(handle.read())
        assert (check.intact, check.covers_whole_file) == (True, True), document.kind
        assert case.bureau.name in check.signer_subject, document.kind
        assert signing.certificate_public_jwk_thumbprint(check.certificate_pem) == SigningKey.objects.get(
            bureau=case.bureau, retired_at__isnull=True).fingerprint


def test_the_credential_is_an_open_badge_signed_by_the_issuing_bureau(issue, bureaus):
    certificate = issue()
    credential = certificate.credential

    jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text())).validate(credential)
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"]["id"] == published.bureau_did(bureaus["province"])
    assert credential["issuer"]["name"] == bureaus["province"].name
    assert credential["validFrom"] == "2026-05-20T00:00:00+08:00"
    assert credential["validUntil"] == "2029-05-19T23:59:59+08:00"
    assert credential["credentialSubject"]["achievement"]["name"].endswith("省二级")
    assert credential["credentialSubject"]["identifier"][0]["identityHash"] == "武汉市民政局"
    assert credential["evidence"][0]["id"].endswith(f"/verify/{certificate.verification_token}")
    assert [p["cryptosuite"] for p in credential["proof"]] == ["ecdsa-jcs-2019"]
    with at(2026, 6, 1, 9, 0):
        report = verify_credential(credential, fetch=fetch)
    assert report.holds, report.lines()
    assert report.status == "valid"


def test_a_credential_with_one_field_changed_fails(issue):
    credential = json.loads(json.dumps(issue().credential))
    credential["credentialSubject"]["achievement"]["name"] = credential["credentialSubject"]["achievement"][
        "name"].replace("二级", "一级")

    with at(2026, 6, 1, 9, 0):
        report = verify_credential(credential, fetch=fetch)
    assert not report.holds
    assert report.findings[0].holds is False


def test_revoking_sets_the_status_list_and_the_verifier_says_revoked(issue, bureaus):
    certificate = issue()
    other = issue(name="武汉市财政局")
    officer = officer_of(bureaus["province"])
    _list_number, index = published.status_position(certificate.pk)

    certificate_transition(actor=officer, certificate=certificate, transition="revoke", reason="弄虚作假")

    status_list = published.status_list_credential(bureaus["province"], 0)
    encoded = status_list["credentialSubject"]["encodedList"]
    assert signing.status_list_value(encoded, index, bits=2) == 2
    assert signing.status_list_value(encoded, published.status_position(other.pk)[1], bits=2) == 0
    with at(2026, 6, 1, 9, 0):
        report = verify_credential(certificate.credential, fetch=fetch)
        assert verify_credential(other.credential, fetch=fetch).holds
    assert (report.holds, report.status) == (False, "revoked")
    assert report.findings[-1].text == "状态：已被发证机关撤销。"


def test_suspension_shows_and_reinstatement_clears_it_and_a_lapse_shows(issue, bureaus):
    certificate = issue(on=dt.date(2023, 5, 20))
    officer = officer_of(bureaus["province"])
    certificate_transition(actor=officer, certificate=certificate, transition="suspend", reason="抽查")
    with at(2024, 1, 2, 9, 0):
        assert verify_credential(certificate.credential, fetch=fetch).status == "suspended"
    certificate_transition(actor=officer, certificate=certificate, transition="reinstate", reason="整改完成")
    with at(2024, 1, 2, 9, 0):
        assert verify_credential(certificate.credential, fetch=fetch).status == "valid"
    with at(2026, 5, 21, 9, 0):
        assert certificates_lapse_due() == 1
        report = verify_credential(certificate.credential, fetch=fetch)
    assert (report.holds, report.status) == (False, "ended")


def test_a_rotated_key_keeps_old_certificates_verifying_and_new_ones_use_the_new_key(issue, bureaus):
    old = issue()
    old_pdf = drawn_pdf(old)
    old_kid = old.credential["proof"][0]["verificationMethod"].rsplit("#", 1)[1]

    with at(2026, 7, 1, 9, 0):
        new_key = published.signing_key_rotate(actor=None, bureau=bureaus["province"], reason="年度轮换")
    new = issue(name="武汉市财政局", on=dt.date(2026, 7, 2))
    new_pdf = drawn_pdf(new)

    assert new.credential["proof"][0]["verificationMethod"].endswith(f"#{new_key.kid}")
    assert new_key.kid != old_kid
    [new_check] = signing.pdf_signatures(new_pdf)
    assert signing.certificate_public_jwk_thumbprint(new_check.certificate_pem) == new_key.fingerprint
    with at(2026, 7, 3, 9, 0):
        assert verify_credential(old.credential, fetch=fetch).holds
        assert verify_credential(new.credential, fetch=fetch).holds
    assert verify_pdf(old_pdf, fetch=fetch).holds
    assert verify_pdf(new_pdf, fetch=fetch).holds
    # both keys are published with their periods; the rotation is audited
    kids = {k["kid"]: k for k in published.jwks()["keys"]}
    assert "exp" in kids[old_kid] and "exp" not in kids[new_key.kid]
    rotation = AuditEntry.objects.get(action="signing_key.rotate")
    assert (rotation.before["kid"], rotation.after["kid"], rotation.reason) == (old_kid, new_key.kid, "年度轮换")


def test_a_key_used_after_its_retirement_is_not_accepted(issue, bureaus):
    """A retired key that signs something new (a stolen key, say) is refused: keys count only in their period."""
    certificate = issue()
    retired = SigningKey.objects.get(bureau=bureaus["province"])
    with at(2026, 7, 1, 9, 0):
        published.signing_key_rotate(actor=None, bureau=bureaus["province"])
    signer = signing.Signer(kid=retired.kid, key=signing.key_decrypt(retired.private_key,
                                                                     kek=settings.SIGNING_KEY_ENCRYPTION_KEY),
                            certificate_pem=retired.certificate_pem, tsa_certificate_pem=retired.tsa_certificate_pem)
    forged = signing.proof_add({k: v for k, v in certificate.credential.items() if k != "proof"}, signer=signer,
                               verification_method=certificate.credential["proof"][0]["verificationMethod"],
                               created=dt.datetime(2026, 8, 1, tzinfo=dt.UTC))
    with at(2026, 8, 2, 9, 0):
        assert not verify_credential(forged, fetch=fetch).holds


def test_private_keys_are_stored_encrypted_and_need_the_environments_key(issue, bureaus):
    issue()
    key = SigningKey.objects.get(bureau=bureaus["province"])
    assert "PRIVATE KEY" not in key.private_key
    assert signing.key_decrypt(key.private_key, kek=settings.SIGNING_KEY_ENCRYPTION_KEY)
    from cryptography.fernet import Fernet

    with pytest.raises(signing.SignatureError):
        signing.key_decrypt(key.private_key, kek=Fernet.generate_key().decode())


def test_the_qr_code_carries_the_credentials_id_and_signed_essentials(issue):
    certificate = issue()
    document = IssuedDocument.objects.get(certificate=certificate, kind="certificate")
    token = published.certificate_qr_token(certificate)
    header, claims = signing.qr_token_claims(token)
    assert claims == {"id": published.credential_url(certificate), "number": certificate.number,
                      "holder": "武汉市民政局", "grade": "省二级", "validFrom": "2026-05-20",
                      "validUntil": "2029-05-19"}
    jwk = next(k for k in published.jwks()["keys"] if k["kid"] == header["kid"])
    assert signing.qr_token_verify(token, signing.jwk_public_key(jwk)) == claims
    assert header["alg"] == "ES256"
    # the frozen certificate's QR code holds more than the bare URL: the URL, then "#" and such a token
    from certification import documents

    url = documents.verification_url(certificate)
    assert documents.qr_svg_data_uri(url) not in document.html
    assert documents.certificate_context(certificate, qr_token=token)["qr"] == documents.qr_svg_data_uri(
        f"{url}#{token}")


def test_the_published_keys_did_documents_and_status_lists_answer_without_a_login(client, issue, bureaus):
    certificate = issue()
    code = bureaus["province"].region.code

    jwks = client.get("/.well-known/jwks.json")
    did = client.get(f"/bureaus/{code}/did.json")
    status = client.get(f"/credentials/status/{code}/0")
    credential = client.get(f"/credentials/{certificate.verification_token}")

    assert [r.status_code for r in (jwks, did, status, credential)] == [200, 200, 200, 200]
    assert {k["kid"] for k in jwks.json()["keys"]} == set(SigningKey.objects.values_list("kid", flat=True))
    assert did.json()["id"] == published.bureau_did(bureaus["province"])
    assert status.json()["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential.json() == certificate.credential
    assert client.get("/bureaus/999999/did.json").status_code == 404


def test_the_verify_command_checks_files_offline(issue, bureaus, tmp_path):
    certificate = issue()
    pdf = drawn_pdf(certificate)
    officer = officer_of(bureaus["province"])
    certificate_transition(actor=officer, certificate=certificate, transition="suspend", reason="抽查")
    files = {"cert.pdf": pdf, "cred.json": json.dumps(certificate.credential, ensure_ascii=False).encode(),
             "jwks.json": json.dumps(published.jwks()).encode(),
             "status.json": json.dumps(published.status_list_credential(bureaus["province"], 0)).encode()}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "certification.verify", *args, "--offline"], cwd=ROOT,  # noqa: S603
                              capture_output=True, text=True, timeout=120, check=False, env={"PATH": "/usr/bin"})

    credential_run = run(str(tmp_path / "cred.json"), "--keys", str(tmp_path / "jwks.json"),
                         "--status", str(tmp_path / "status.json"))
    pdf_run = run(str(tmp_path / "cert.pdf"), "--keys", str(tmp_path / "jwks.json"),
                  "--credential", str(tmp_path / "cred.json"), "--status", str(tmp_path / "status.json"))
    keyless = run(str(tmp_path / "cred.json"))

    assert credential_run.returncode == 1, credential_run.stderr
    assert "OK   The signature holds" in credential_run.stdout
    assert "FAIL Status: SUSPENDED by the issuing bureau." in credential_run.stdout
    assert "OK   The signature holds over the whole file" in pdf_run.stdout
    assert "OK   The signing key is a published key" in pdf_run.stdout
    assert "FAIL Status: SUSPENDED" in pdf_run.stdout
    assert "number: " + certificate.number in pdf_run.stdout
    assert keyless.returncode == 1
    assert "published keys could not be read" in keyless.stdout


def test_the_verify_page_checks_an_uploaded_pdf_and_credential(client, issue):
    from django.core.cache import cache
    from django.core.files.uploadedfile import SimpleUploadedFile

    cache.clear()
    certificate = issue()
    pdf = drawn_pdf(certificate)
    changed = json.loads(json.dumps(certificate.credential))
    changed["validUntil"] = "2035-05-19T23:59:59+08:00"

    good = client.post("/verify/", {"file": SimpleUploadedFile("c.pdf", pdf, "application/pdf")})
    bad = client.post("/verify/", {"file": SimpleUploadedFile(
        "c.json", json.dumps(changed).encode(), "application/json")})
    junk = client.post("/verify/", {"file": SimpleUploadedFile("c.txt", b"hello", "text/plain")})

    assert good.status_code == 200
    page = good.content.decode()
    assert "签名与状态均有效" in page and certificate.number in page
    assert "签名无效" in bad.content.decode()
    assert junk.status_code == 400


def test_the_holder_downloads_its_credential_from_the_certificate_page_and_the_api(client, issue, regions):
    from certification import permissions
    from certification.enums import Role
    certificate = issue()
    holder = UserFactory()
    permissions.role_grant(user=holder, role=Role.APPLICANT, obj=certificate.institution)
    client.force_login(holder)

    page = client.get(f"/certificates/{certificate.pk}/credential.json")
    api = client.get(f"/api/v1/certificates/{certificate.pk}/credential/")
    assert page.status_code == 200 and page["Content-Disposition"].startswith("attachment")
    assert json.loads(page.content) == certificate.credential == api.json()


def test_the_keys_command_creates_rotates_lists_and_exports(bureaus, capsys):
    code = bureaus["city"].region.code
    admin = UserFactory(username="keyadmin")

    call_command("keys", "create", "--bureau", code, "--user", "keyadmin")
    call_command("keys", "rotate", "--bureau", code, "--user", "keyadmin", "--reason", "轮换")
    call_command("keys", "list", "--bureau", code)
    listed = capsys.readouterr().out
    call_command("keys", "export", "--bureau", code)
    exported = json.loads(capsys.readouterr().out)

    keys = list(SigningKey.objects.filter(bureau=bureaus["city"]).order_by("valid_from", "id"))
    assert len(keys) == 2 and keys[0].retired_at is not None and keys[1].retired_at is None
    assert "current" in listed and "retired" in listed
    assert [k["kid"] for k in exported["keys"]] == [k.kid for k in keys]
    assert all("PRIVATE" not in json.dumps(k) for k in exported["keys"])
    assert keys_from([{"keys": [k["jwk"] for k in exported["keys"]]}])
    actions = list(AuditEntry.objects.filter(actor=admin).values_list("action", flat=True).order_by("id"))
    assert actions == ["signing_key.create", "signing_key.rotate"]
