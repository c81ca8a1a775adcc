"""Signatures anyone can check without trusting our server: plain cryptography, no database.

One key pair per bureau and period, **ECDSA P-256**, used for everything the bureau signs:

* PDFs (PAdES baseline B-T, by pyHanko): the CMS signature carries a self-signed X.509 certificate of the
  key (its subject is the bureau's name), a signature time-stamp token, and the signature's widget lies over
  the seal area. P-256 is what PDF readers (Acrobat, poppler's ``pdfsig``) verify.
* Credentials (W3C VC Data Integrity, cryptosuite ``ecdsa-jcs-2019``): the same key as a ``Multikey`` and
  ``JsonWebKey`` in the bureau's ``did:web`` document and in the JWKS.
* The QR code's compact JWS (ES256, joserfc) over the certificate's essentials.

Private keys are kept encrypted (Fernet) under the key-encryption key from the environment; this module only
encrypts and decrypts, the services decide when. Everything here is also what ``python -m
certification.verify`` runs offline, so it imports nothing of Django.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ALGORITHM = "ES256"
CRYPTOSUITE = "ecdsa-jcs-2019"
# A PDF's signature field: its name and the seal area of the certificate (templates/documents/certificate.html:
# right 52 mm, bottom 24 mm, 42 mm square on A4 landscape), in PDF points from the page's lower left corner.
SIGNATURE_FIELD = "BureauSignature"
MM = 72 / 25.4
CERTIFICATE_SEAL_BOX = (round(203 * MM), round(24 * MM), round(245 * MM), round(66 * MM))
# The other documents (A4 portrait letters and forms): the issuing bureau's seal area, lower right.
DOCUMENT_SEAL_BOX = (round(130 * MM), round(30 * MM), round(180 * MM), round(80 * MM))
# Bitstring Status List (W3C): the least a list holds, so that a list's size says nothing of how many were issued.
STATUS_LIST_SIZE = 131_072


class SignatureError(Exception):
    """A key cannot be decrypted or a signature does not hold."""


# --- Keys --------------------------------------------------------------------------------------------------------

def key_generate() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_encrypt(key: ec.EllipticCurvePrivateKey, *, kek: str) -> str:
    """The private key as PKCS#8 DER, encrypted with Fernet under ``kek`` (a Fernet key, urlsafe base64)."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return Fernet(kek.encode()).encrypt(der).decode()


def key_decrypt(token: str, *, kek: str) -> ec.EllipticCurvePrivateKey:
    try:
        der = Fernet(kek.encode()).decrypt(token.encode())
    except (InvalidToken, ValueError) as error:
        raise SignatureError("the private key cannot be decrypted with this key-encryption key") from error
    return serialization.load_der_private_key(der, password=None)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public_key: ec.EllipticCurvePublicKey, *, kid: str) -> dict:
    numbers = public_key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")), "kid": kid, "alg": ALGORITHM, "use": "sig"}


def jwk_public_key(jwk: dict) -> ec.EllipticCurvePublicKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise SignatureError("only P-256 keys are used")
    x = int.from_bytes(_b64url_decode(jwk["x"]), "big")
    y = int.from_bytes(_b64url_decode(jwk["y"]), "big")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _B58:
            raise SignatureError("not base58btc")
        number = number * 58 + _B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def public_multikey(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key as a W3C ``Multikey`` ``publicKeyMultibase``: ``z`` + base58btc(0x8024 + compressed point)."""
    point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return "z" + base58btc(b"\x80\x24" + point)


def key_certificates(key: ec.EllipticCurvePrivateKey, *, subject: str, serial: int, not_before: dt.datetime,
                     not_after: dt.datetime) -> tuple[str, str]:
    """Two self-signed certificates of the key, PEM: one for signing documents, one for time-stamping (the
    local time-stamping authority's, RFC 3161 asks its own extended key usage). The bureau's name is the
    subject; anyone trusts them by comparing with the published keys (the JWKS), not through a CA."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")])

    def build(usage, tsa: bool) -> str:
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(serial * 2 + tsa).not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=not tsa,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=tsa))
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()

    return (build(ExtendedKeyUsageOID.EMAIL_PROTECTION, False), build(ExtendedKeyUsageOID.TIME_STAMPING, True))


@dataclass(frozen=True)
class Signer:
    """What signs for a bureau: its key id, private key and the two certificates (PEM)."""

    kid: str
    key: ec.EllipticCurvePrivateKey
    certificate_pem: str
    tsa_certificate_pem: str
    name: str = ""


# --- JCS and the Data Integrity proof (ecdsa-jcs-2019) ---------------------------------------------------------------

def jcs(value) -> bytes:
    """RFC 8785 canonical JSON for the values a credential holds: objects with their keys sorted, no spaces,
    UTF-8, integers. Floats are refused (no credential here has one), since RFC 8785 prints them differently from
    Python; every key here is ASCII, so Python's sort equals RFC 8785's UTF-16 order."""

    def check(node):
        if isinstance(node, float):
            raise SignatureError("floats are not used in signed JSON")
        if isinstance(node, dict):
            for key, item in node.items():
                if not isinstance(key, str):
                    raise SignatureError("object keys are strings")
                check(item)
        elif isinstance(node, list):
            for item in node:
                check(item)

    check(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _proof_hash(document: dict, proof_options: dict) -> bytes:
    options = {k: v for k, v in proof_options.items() if k != "proofValue"}
    if "@context" in document:
        options["@context"] = document["@context"]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return hashlib.sha256(jcs(options)).digest() + hashlib.sha256(jcs(unsecured)).digest()


def proof_add(document: dict, *, signer: Signer, verification_method: str, created: dt.datetime) -> dict:
    """The document with a ``DataIntegrityProof`` (``ecdsa-jcs-2019``, P-256): the signature over the SHA-256 of
    the proof's options and of the document, both canonical (JCS), as base58btc ``proofValue`` (r || s). The
    ``proof`` is a proof set of one (a list), as the Open Badges 3.0 schema has it."""
    proof = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE,
             "created": created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "verificationMethod": verification_method, "proofPurpose": "assertionMethod"}
    der = signer.key.sign(_proof_hash(document, proof), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    proof["proofValue"] = "z" + base58btc(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return {**document, "proof": [proof]}


def proofs(document: dict) -> list[dict]:
    """The document's proofs (a proof set, or a single proof)."""
    proof = document.get("proof")
    items = proof if isinstance(proof, list) else [proof]
    return [p for p in items if isinstance(p, dict)]


def proof_verify(document: dict, public_key: ec.EllipticCurvePublicKey, proof: dict | None = None) -> bool:
    """Whether the document's ``ecdsa-jcs-2019`` proof (its first, or ``proof``) holds for ``public_key``: any
    change of any field fails."""
    from cryptography.exceptions import InvalidSignature

    proof = proof if proof is not None else next(iter(proofs(document)), None)
    if not isinstance(proof, dict) or proof.get("cryptosuite") != CRYPTOSUITE:
        return False
    value = str(proof.get("proofValue", ""))
    if not value.startswith("z"):
        return False
    try:
        raw = base58btc_decode(value[1:])
        if len(raw) != 64:
            return False
        signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public_key.verify(signature, _proof_hash(document, proof), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, SignatureError):
        return False
    return True


# --- Bitstring Status List ---------------------------------------------------------------------------------------

def status_list_encode(values, *, size: int = STATUS_LIST_SIZE, bits: int = 1) -> str:
    """The W3C Bitstring Status List's ``encodedList``: ``size`` entries of ``bits`` bits each (entry 0 at the
    left-most bits of the first byte), ``values`` ({index: value}, or indexes set to 1) written in, GZIP-compressed,
    multibase base64url (``u`` prefix)."""
    import gzip

    if not isinstance(values, dict):
        values = dict.fromkeys(values, 1)
    raw = bytearray(size * bits // 8)
    for index, value in values.items():
        if not 0 <= index < size or not 0 <= value < (1 << bits):
            raise SignatureError("a status is out of the list's range")
        for offset in range(bits):
            if value & (1 << (bits - 1 - offset)):
                bit = index * bits + offset
                raw[bit // 8] |= 0x80 >> (bit % 8)
    return "u" + _b64url(gzip.compress(bytes(raw), mtime=0))


def status_list_value(encoded: str, index: int, *, bits: int = 1) -> int:
    """The value of entry ``index`` of an ``encodedList``."""
    import gzip

    if not encoded.startswith("u"):
        raise SignatureError("encodedList is multibase base64url")
    raw = gzip.decompress(_b64url_decode(encoded[1:]))
    first, last = index * bits, (index + 1) * bits - 1
    if last // 8 >= len(raw) or index < 0:
        raise SignatureError("the status list is shorter than the index")
    value = 0
    for bit in range(first, last + 1):
        value = (value << 1) | bool(raw[bit // 8] & (0x80 >> (bit % 8)))
    return value


# --- The QR code's signed essentials (compact JWS, ES256) ----------------------------------------------------

def qr_token(claims: dict, *, signer: Signer) -> str:
    from joserfc import jws
    from joserfc.jwk import ECKey

    key = ECKey.import_key(signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    return jws.serialize_compact({"alg": ALGORITHM, "kid": signer.kid}, jcs(claims), key)


def qr_token_claims(token: str) -> tuple[dict, dict]:
    """(header, claims) of a QR token, unverified: what a phone shows when it cannot fetch the keys."""
    try:
        header, payload, _signature = token.split(".")
        return json.loads(_b64url_decode(header)), json.loads(_b64url_decode(payload))
    except (ValueError, json.JSONDecodeError) as error:
        raise SignatureError("not a compact JWS") from error


def qr_token_verify(token: str, public_key: ec.EllipticCurvePublicKey) -> dict:
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey

    key = ECKey.import_key(public_key.public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    try:
        return json.loads(jws.deserialize_compact(token, key, algorithms=[ALGORITHM]).payload)
    except (JoseError, ValueError) as error:
        raise SignatureError("the QR code's signature does not hold") from error


# --- PDFs (PAdES, pyHanko) -----------------------------------------------------------------------------------

def _asn1_certificate(pem: str):
    from asn1crypto import pem as asn1_pem
    from asn1crypto import x509 as asn1_x509

    _type, _headers, der = asn1_pem.unarmor(pem.encode())
    return asn1_x509.Certificate.load(der)


def _asn1_private_key(key: ec.EllipticCurvePrivateKey):
    from asn1crypto import keys as asn1_keys

    return asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def local_timestamper(signer: Signer):
    """A time-stamping authority run in this process, signing RFC 3161 tokens with ``signer`` (the province's
    key and its time-stamping certificate): used when no ``CERTIFICATION_TSA_URL`` is configured. pyHanko's own
    ``DummyTimeStamper`` signs with RSA only; this one signs with ECDSA P-256."""
    from asn1crypto import algos
    from asn1crypto import cms as asn1_cms
    from asn1crypto import core as asn1_core
    from pyhanko.sign import general
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    tsa_certificate = _asn1_certificate(signer.tsa_certificate_pem)

    class LocalTimeStamper(DummyTimeStamper):
        def _sign_tst_info(self, tst_info_data, md_algorithm, moment):
            digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
            digest.update(tst_info_data)
            signed_attrs = asn1_cms.CMSAttributes([
                general.simple_cms_attribute("content_type", "tst_info"),
                general.simple_cms_attribute("signing_time",
                                             asn1_cms.Time({"utc_time": asn1_core.UTCTime(moment)})),
                general.simple_cms_attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                general.simple_cms_attribute("message_digest", digest.finalize()),
            ])
            signature = signer.key.sign(signed_attrs.dump(),
                                        ec.ECDSA(get_pyca_cryptography_hash(md_algorithm.upper())))
            return signature, signed_attrs

        def _build_signed_data(self, tst_info_data, md_algorithm, signature, signed_attrs):
            data = super()._build_signed_data(tst_info_data, md_algorithm, signature, signed_attrs)
            data["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm(
                {"algorithm": f"{md_algorithm}_ecdsa"})
            return data

    return LocalTimeStamper(tsa_cert=tsa_certificate, tsa_key=_asn1_private_key(signer.key))


def pdf_sign(pdf: bytes, *, signer: Signer, timestamper, box: tuple[int, int, int, int], reason: str = "",
             location: str = "", contact_info: str = "") -> bytes:
    """Sign ``pdf`` incrementally (its first revision, a PDF/A-2b file, is kept byte for byte), PAdES B-T: a CMS
    signature by ``signer`` with its certificate and a time-stamp token from ``timestamper``, in a signature
    field whose widget lies over ``box`` on the first page; then a document time-stamp from ``timestamper``
    over the whole signed file. The widget draws a thin red frame and no text, so
    that it needs no font (a PDF/A file embeds every font it uses) and the seal printed below shows. A certificate's
    ``contact_info`` is its credential's address, where a verifier finds its status."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigFieldSpec
    from pyhanko.stamp import StaticStampStyle
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    certificate = _asn1_certificate(signer.certificate_pem)
    cms_signer = signers.SimpleSigner(signing_cert=certificate, signing_key=_asn1_private_key(signer.key),
                                      cert_registry=SimpleCertificateStore.from_certs([certificate]))
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    fields.append_signature_field(writer, SigFieldSpec(sig_field_name=SIGNATURE_FIELD, on_page=0, box=box))
    meta = signers.PdfSignatureMetadata(field_name=SIGNATURE_FIELD, md_algorithm="sha256", reason=reason or None,
                                        location=location or None, name=signer.name or None,
                                        contact_info=contact_info or None,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    style = StaticStampStyle(border_width=1, background=None)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=cms_signer, timestamper=timestamper, stamp_style=style).sign_pdf(
        writer, output=out)
    if timestamper is None:
        return out.getvalue()
    # then a document time-stamp over the whole signed file (PAdES's DocTimeStamp), in a revision of its own
    stamped = io.BytesIO()
    signers.PdfTimeStamper(timestamper).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(out.getvalue()), strict=False), "sha256", output=stamped)
    return stamped.getvalue()


@dataclass(frozen=True)
class PdfSignatureCheck:
    """What a PDF's signature says: whether it holds over the whole file, by which certificate, when."""

    intact: bool  # the signed bytes are unchanged and the signature verifies with the embedded certificate
    covers_whole_file: bool  # nothing but allowed changes after the signature
    signer_subject: str
    certificate_pem: str
    signed_at: dt.datetime | None  # the time-stamp token's time, else the signer's claimed time
    timestamp_intact: bool
    field_name: str


def pdf_signatures(pdf: bytes) -> list[PdfSignatureCheck]:
    """Check every signature of ``pdf`` with pyHanko's validator against the certificate it embeds (whether that
    certificate is a bureau's is for the caller to compare with the published keys). A PDF changed after it was
    signed, by one byte, does not hold: the digest, or the file's structure, no longer match."""
    from asn1crypto import pem as asn1_pem
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_regular_signatures)
    except Exception as error:  # noqa: BLE001 - pyHanko raises many kinds on a damaged file: all mean "not valid"
        raise SignatureError(f"the PDF cannot be read: {error}") from error
    checks = []
    for signature in embedded:
        certificate = signature.signer_cert
        context = ValidationContext(trust_roots=[certificate], allow_fetching=False, revocation_mode="soft-fail")
        try:
            status = validate_pdf_signature(signature, signer_validation_context=context,
                                            ts_validation_context=context)
        except Exception:  # noqa: BLE001 - a signature pyHanko cannot even evaluate does not hold
            checks.append(PdfSignatureCheck(False, False, certificate.subject.human_friendly, "", None, False,
                                            signature.field_name))
            continue
        timestamp = status.timestamp_validity
        checks.append(PdfSignatureCheck(
            intact=bool(status.intact and status.valid),
            covers_whole_file=status.coverage.name in ("ENTIRE_FILE", "ENTIRE_REVISION")
            and (status.modification_level is None or status.modification_level.name in ("NONE", "LTA_UPDATES")),
            signer_subject=certificate.subject.human_friendly,
            certificate_pem=asn1_pem.armor("CERTIFICATE", certificate.dump()).decode(),
            signed_at=timestamp.timestamp if timestamp is not None else status.signer_reported_dt,
            timestamp_intact=bool(timestamp is not None and timestamp.intact and timestamp.valid),
            field_name=signature.field_name,
        ))
    return checks


@dataclass(frozen=True)
class DocumentTimestampCheck:
    """A document time-stamp (PAdES DocTimeStamp) of a PDF: whether it holds over the file up to it, and when."""

    intact: bool
    covers_whole_file: bool
    at: dt.datetime | None
    authority_pem: str


def pdf_document_timestamps(pdf: bytes) -> list[DocumentTimestampCheck]:
    """Check every document time-stamp of ``pdf`` with pyHanko's validator against the authority's certificate it
    embeds (whose key is compared with the published ones by the caller, as for signatures)."""
    from asn1crypto import pem as asn1_pem
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_timestamp
    from pyhanko_certvalidator import ValidationContext

    try:
        stamps = list(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_timestamp_signatures)
    except Exception as error:  # noqa: BLE001 - as for signatures: a damaged file is not valid
        raise SignatureError(f"the PDF cannot be read: {error}") from error
    checks = []
    for stamp in stamps:
        authority = stamp.signer_cert
        context = ValidationContext(trust_roots=[authority], allow_fetching=False, revocation_mode="soft-fail")
        try:
            status = validate_pdf_timestamp(stamp, validation_context=context)
        except Exception:  # noqa: BLE001 - a time-stamp pyHanko cannot evaluate does not hold
            checks.append(DocumentTimestampCheck(False, False, None, ""))
            continue
        checks.append(DocumentTimestampCheck(
            intact=bool(status.intact and status.valid),
            covers_whole_file=status.coverage.name == "ENTIRE_FILE",
            at=status.timestamp,
            authority_pem=asn1_pem.armor("CERTIFICATE", authority.dump()).decode()))
    return checks


def certificate_public_jwk_thumbprint(pem: str) -> str:
    """The SHA-256 of a certificate's public key (SubjectPublicKeyInfo DER): how a PDF's signer is matched with
    a published key."""
    public_key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    return public_key_fingerprint(public_key)


def public_key_fingerprint(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()
