"""The bureaus' signing keys, and everything a bureau signs with them: PDFs (PAdES), credentials and their
status lists, the QR code's essentials.

Keys: ``signing_key_create`` (a bureau's first), ``signing_key_rotate`` (retire the current one, make the next),
``signing_keys_list``, ``signing_key_export`` (its public half and certificate), each create and rotation audited.
A bureau that must sign and has no key yet gets its first one, audited, from :func:`bureau_signer`, so that no
document is ever left unsigned for want of a ``manage.py keys create``. Retired keys stay published with their
period (JWKS, DID documents): what they signed still verifies.

Credentials (Open Badges 3.0 / W3C VC 2.0 ``OpenBadgeCredential``) are built and signed when a certificate is
issued (:func:`certificate_credential_issue`, in the issuing transaction) and stored with the certificate. Their
status is published in a Bitstring Status List made from the certificates' own status column at the moment it is
asked for (:func:`status_list_credential`): suspension, revocation, lapse and reinstatement reach it with the
transaction that changes the status, through :data:`STATUS_VALUES`, its one mapping.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import signing
from ..enums import CertificateStatus
from ..models import Bureau, Certificate, SigningKey
from .audit import audit_record

CONTEXTS = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
OB_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
# A certificate's status in its credential's status list (``statusPurpose: message``, two bits an entry): the one
# place where the lifecycle's states meet the published list. Recheck in progress is still in force.
STATUS_SIZE = 2
STATUS_VALUES = {
    CertificateStatus.IN_FORCE: 0,
    CertificateStatus.RECHECK_IN_PROGRESS: 0,
    CertificateStatus.SUSPENDED: 1,
    CertificateStatus.REVOKED: 2,
    CertificateStatus.LAPSED: 3,
    CertificateStatus.SUPERSEDED: 3,
}
STATUS_MESSAGES = [
    {"status": "0x0", "message": "valid: in force"},
    {"status": "0x1", "message": "suspended"},
    {"status": "0x2", "message": "revoked"},
    {"status": "0x3", "message": "no longer valid: lapsed, or replaced by a newer certificate"},
]


def key_encryption_key() -> str:
    kek = getattr(settings, "SIGNING_KEY_ENCRYPTION_KEY", "")
    if not kek:
        raise ImproperlyConfigured("SIGNING_KEY_ENCRYPTION_KEY is not set: bureau keys cannot be read or made.")
    return kek


# --- Addresses -------------------------------------------------------------------------------------------------

def public_base() -> str:
    from ..documents import public_base_url

    return public_base_url()


def bureau_code(bureau: Bureau) -> str:
    return bureau.region.code


def bureau_did(bureau: Bureau) -> str:
    """``did:web:<host>:bureaus:<division code>``: resolved at ``/bureaus/<code>/did.json`` (W3C did:web)."""
    host = quote(urlsplit(public_base()).netloc, safe="")
    return f"did:web:{host}:bureaus:{bureau_code(bureau)}"


def credential_url(certificate: Certificate) -> str:
    return f"{public_base()}/credentials/{certificate.verification_token}"


def status_list_url(bureau: Bureau, number: int) -> str:
    return f"{public_base()}/credentials/status/{bureau_code(bureau)}/{number}"


def status_position(certificate_id: int) -> tuple[int, int]:
    """(list number, index in it) of a certificate: its id, in lists of ``STATUS_LIST_SIZE`` entries."""
    return divmod(certificate_id, signing.STATUS_LIST_SIZE)


# --- Keys --------------------------------------------------------------------------------------------------

def _new_key(*, bureau: Bureau, now: dt.datetime) -> SigningKey:
    key = signing.key_generate()
    kid = f"{bureau_code(bureau)}-{timezone.localtime(now):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    valid_until = now + dt.timedelta(days=settings.CERTIFICATION_SIGNING_KEY_DAYS + 365 * 10)
    certificate_pem, tsa_pem = signing.key_certificates(
        key, subject=bureau.name, serial=secrets.randbits(62), not_before=now - dt.timedelta(minutes=5),
        not_after=valid_until)
    return SigningKey.objects.create(
        bureau=bureau, kid=kid, public_jwk=signing.public_jwk(key.public_key(), kid=kid),
        fingerprint=signing.public_key_fingerprint(key.public_key()),
        private_key=signing.key_encrypt(key, kek=key_encryption_key()), certificate_pem=certificate_pem,
        tsa_certificate_pem=tsa_pem, valid_from=now, valid_until=valid_until)


def _key_summary(key: SigningKey) -> dict:
    return {"kid": key.kid, "fingerprint": key.fingerprint, "valid_from": key.valid_from}


def signing_key_create(*, actor, bureau: Bureau, now: dt.datetime | None = None) -> SigningKey:
    """The bureau's first key (a bureau that has one keeps it: rotate instead). Audited."""
    now = now or timezone.now()
    with transaction.atomic():
        current = SigningKey.objects.select_for_update().filter(bureau=bureau, retired_at__isnull=True).first()
        if current is not None:
            return current
        try:
            with transaction.atomic():
                key = _new_key(bureau=bureau, now=now)
        except IntegrityError:  # made meanwhile by a concurrent first signature
            return SigningKey.objects.get(bureau=bureau, retired_at__isnull=True)
        audit_record(actor=actor, action="signing_key.create", target=key, after=_key_summary(key))
    return key


@transaction.atomic
def signing_key_rotate(*, actor, bureau: Bureau, reason: str = "", now: dt.datetime | None = None) -> SigningKey:
    """Retire the bureau's current key (it stays published, so what it signed still verifies) and make the next
    one, which signs from now on. Audited with both keys."""
    now = now or timezone.now()
    current = SigningKey.objects.select_for_update().filter(bureau=bureau, retired_at__isnull=True).first()
    before = None
    if current is not None:
        current.retired_at = now
        current.save(update_fields=["retired_at", "updated_at"])
        before = _key_summary(current)
    key = _new_key(bureau=bureau, now=now)
    audit_record(actor=actor, action="signing_key.rotate", target=key, before=before, after=_key_summary(key),
                 reason=reason)
    return key


def signing_keys_list(*, bureau: Bureau | None = None):
    query = SigningKey.objects.select_related("bureau__region").order_by("bureau__region__code", "valid_from", "id")
    return query.filter(bureau=bureau) if bureau is not None else query


def signing_key_export(key: SigningKey) -> dict:
    """The public half of a key: its JWK, certificate and period, as published."""
    return {"kid": key.kid, "bureau": key.bureau.name, "did": bureau_did(key.bureau),
            "verificationMethod": f"{bureau_did(key.bureau)}#{key.kid}", "jwk": key.public_jwk,
            "certificate": key.certificate_pem, "validFrom": _iso(key.valid_from),
            "retiredAt": _iso(key.retired_at) if key.retired_at else None}


def _signer(key: SigningKey) -> signing.Signer:
    return signing.Signer(kid=key.kid, key=signing.key_decrypt(key.private_key, kek=key_encryption_key()),
                          certificate_pem=key.certificate_pem, tsa_certificate_pem=key.tsa_certificate_pem,
                          name=key.bureau.name)


def bureau_signer(bureau: Bureau) -> signing.Signer:
    """What signs for ``bureau`` now: its current key (its first, made and audited, if it has none)."""
    key = (SigningKey.objects.select_related("bureau").filter(bureau=bureau, retired_at__isnull=True).first()
           or signing_key_create(actor=None, bureau=bureau))
    return _signer(key)


def timestamper(bureau: Bureau):
    """The configured RFC 3161 authority (``CERTIFICATION_TSA_URL``), else the local one signing with the key of
    ``bureau``'s province (the bureau that issues certificates)."""
    url = settings.CERTIFICATION_TSA_URL
    if url:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(url)
    return signing.local_timestamper(bureau_signer(bureau.province))


def pdf_sign_for(pdf: bytes, *, bureau: Bureau, reason: str, certificate: Certificate | None = None) -> bytes:
    """Sign a drawn PDF for ``bureau``: a certificate over its seal area, naming its credential's address (where
    a verifier reads its status); any other document over the bureau's seal area on its first page."""
    box = signing.CERTIFICATE_SEAL_BOX if certificate is not None else signing.DOCUMENT_SEAL_BOX
    return signing.pdf_sign(pdf, signer=bureau_signer(bureau), timestamper=timestamper(bureau), box=box, reason=reason,
                            location=bureau.name,
                            contact_info=credential_url(certificate) if certificate is not None else "")


# --- Credentials -------------------------------------------------------------------------------------------------

def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_bounds(certificate: Certificate) -> tuple[str, str]:
    """validFrom: the start of the issue date; validUntil: the end of the last valid day (the scheme's zone)."""
    import zoneinfo

    zone = zoneinfo.ZoneInfo(certificate.scheme_version.specification().time_zone)
    start = dt.datetime.combine(certificate.issued_on, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(certificate.valid_until, dt.time(23, 59, 59), tzinfo=zone)
    return start.isoformat(), end.isoformat()


def certificate_credential(certificate: Certificate) -> dict:
    """The unsigned ``OpenBadgeCredential`` of a certificate: the achievement is the scheme's grade, the issuer
    the issuing bureau, the validity the certificate's, the evidence its public verification page."""
    from ..documents import verification_url

    version = certificate.scheme_version
    issuer = certificate.issued_by
    valid_from, valid_until = _day_bounds(certificate)
    list_number, index = status_position(certificate.pk)
    list_url = status_list_url(issuer, list_number)
    title = version.specification().documents.certificate_title_for(str(certificate.kind))
    return {
        "@context": CONTEXTS,
        "id": credential_url(certificate),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{title}（{certificate.grade.name}）",
        "issuer": {"id": bureau_did(issuer), "type": ["Profile"], "name": issuer.name,
                   "url": f"{public_base()}/verify/"},
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityType": "ext:certificateHolder", "hashed": False,
                            "identityHash": certificate.institution.name}],
            "licenseNumber": certificate.number,
            "achievement": {
                "id": f"{public_base()}/schemes/{version.scheme.code}/{version.number}/grades/{certificate.grade.code}",
                "type": ["Achievement"],
                "achievementType": "ext:GradedCertification",
                "name": f"{version.title} {certificate.grade.name}",
                "description": f"{version.title}：{certificate.grade.name}",
                "criteria": {"narrative": f"经考评，达到{version.title}{certificate.grade.name}标准。"},
            },
        },
        "evidence": [{"id": verification_url(certificate), "type": ["Evidence"], "name": "公开核验"}],
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
        "credentialStatus": {
            "id": f"{list_url}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": "message",
            "statusListIndex": str(index), "statusListCredential": list_url, "statusSize": STATUS_SIZE,
            "statusMessage": STATUS_MESSAGES,
        },
    }


def certificate_credential_issue(certificate: Certificate, *, now: dt.datetime | None = None) -> dict:
    """Build and sign the certificate's credential with the issuing bureau's current key; stored with it.
    Runs in the issuing transaction. A certificate that has one keeps it."""
    if certificate.credential:
        return certificate.credential
    certificate = Certificate.objects.select_related(
        "institution", "grade", "issued_by__region", "scheme_version__scheme").get(pk=certificate.pk)
    signer = bureau_signer(certificate.issued_by)
    credential = signing.proof_add(
        certificate_credential(certificate), signer=signer,
        verification_method=f"{bureau_did(certificate.issued_by)}#{signer.kid}", created=now or timezone.now())
    Certificate.objects.filter(pk=certificate.pk).update(credential=credential)
    return credential


def certificate_qr_token(certificate) -> str:
    """The QR code's signed essentials (compact JWS, ES256, by the issuing bureau): the credential's id, the
    number, holder, grade and validity, so that a phone shows them even when the status cannot be fetched."""
    return signing.qr_token(qr_claims(certificate), signer=bureau_signer(certificate.issued_by))


def qr_claims(certificate) -> dict:
    return {"id": credential_url(certificate), "number": certificate.number, "holder": certificate.institution.name,
            "grade": certificate.grade.name, "validFrom": certificate.issued_on.isoformat(),
            "validUntil": certificate.valid_until.isoformat()}


# --- What is published -------------------------------------------------------------------------------------------

def status_values(bureau: Bureau, number: int) -> dict[int, int]:
    """{index: value} of every certificate of the list whose value is not 0 (in force)."""
    low, high = number * signing.STATUS_LIST_SIZE, (number + 1) * signing.STATUS_LIST_SIZE
    changed = [s for s, v in STATUS_VALUES.items() if v]
    rows = Certificate.objects.filter(issued_by=bureau, pk__gte=low, pk__lt=high, status__in=changed)
    return {pk - low: STATUS_VALUES[status] for pk, status in rows.values_list("pk", "status")}


def status_list_credential(bureau: Bureau, number: int, *, now: dt.datetime | None = None) -> dict:
    """The signed ``BitstringStatusListCredential`` of the bureau's list ``number``, as the certificates' status
    stands now."""
    now = now or timezone.now()
    url = status_list_url(bureau, number)
    signer = bureau_signer(bureau)
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": bureau_did(bureau),
        "validFrom": _iso(now),
        "credentialSubject": {
            "id": f"{url}#list", "type": "BitstringStatusList", "statusPurpose": "message",
            "statusSize": STATUS_SIZE, "statusMessage": STATUS_MESSAGES, "ttl": 300_000,
            "encodedList": signing.status_list_encode(status_values(bureau, number), bits=STATUS_SIZE),
        },
    }
    return signing.proof_add(document, signer=signer, verification_method=f"{bureau_did(bureau)}#{signer.kid}",
                             created=now)


def jwks() -> dict:
    """Every key ever used, current and retired, with its period (``nbf``; ``exp`` once retired)."""
    keys = []
    for key in signing_keys_list():
        jwk = dict(key.public_jwk)
        jwk["nbf"] = int(key.valid_from.timestamp())
        if key.retired_at:
            jwk["exp"] = int(key.retired_at.timestamp())
        jwk["x5c"] = [_der_b64(key.certificate_pem)]
        keys.append(jwk)
    return {"keys": keys}


def _der_b64(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def did_document(bureau: Bureau) -> dict:
    """The bureau's ``did:web`` document: each key as a ``Multikey`` verification method for assertions, retired
    ones too (a retired key signs nothing new, and what it signed still verifies; the JWKS gives its period)."""
    return {**_did_document(bureau_did(bureau), signing_keys_list(bureau=bureau)),
            "alsoKnownAs": [f"{public_base()}/bureaus/{bureau_code(bureau)}"], "name": bureau.name}


def _did_document(did: str, keys) -> dict:
    methods = [{"id": f"{did}#{key.kid}", "type": "Multikey", "controller": did,
                "publicKeyMultibase": signing.public_multikey(signing.jwk_public_key(key.public_jwk)),
                "publicKeyJwk": key.public_jwk} for key in keys]
    return {"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"], "id": did,
            "verificationMethod": methods, "assertionMethod": [m["id"] for m in methods]}


def bureau_by_code(code: str) -> Bureau | None:
    return Bureau.objects.select_related("region").filter(region__code=code).first()


def site_did_document() -> dict:
    """The site's own ``did:web`` document (``/.well-known/did.json``): every bureau's keys, for a verifier that
    starts from the host."""
    return _did_document(f"did:web:{quote(urlsplit(public_base()).netloc, safe='')}", signing_keys_list())


def published_document(url: str) -> dict | None:
    """What this site publishes at ``url`` (keys, DID documents, credentials, status lists), read from the
    database: how the public verification page checks an upload against exactly what anyone can fetch."""
    base = public_base()
    if not url.startswith(base + "/"):
        return None
    path = url[len(base):].split("#", 1)[0]
    parts = [p for p in path.split("/") if p]
    if parts == [".well-known", "jwks.json"]:
        return jwks()
    if parts == [".well-known", "did.json"]:
        return site_did_document()
    if len(parts) == 3 and parts[0] == "bureaus" and parts[2] == "did.json":
        bureau = bureau_by_code(parts[1])
        return did_document(bureau) if bureau else None
    if len(parts) == 4 and parts[:2] == ["credentials", "status"] and parts[3].isdigit():
        bureau = bureau_by_code(parts[2])
        return status_list_credential(bureau, int(parts[3])) if bureau else None
    if len(parts) == 2 and parts[0] == "credentials":
        certificate = Certificate.objects.filter(verification_token=parts[1]).only("credential").first()
        return certificate.credential if certificate else None
    return None


@transaction.atomic(durable=True)
def certificate_credential_get(*, certificate: Certificate) -> dict:
    """The certificate's signed credential (issued now, with the issuing bureau's current key, for a certificate
    issued before credentials were)."""
    return certificate_credential_issue(certificate)
