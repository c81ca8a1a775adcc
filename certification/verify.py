"""Check a signed certificate (PDF) or credential (JSON) without trusting our server.

    python -m certification.verify FILE [--keys JWKS_OR_DID.json ...] [--status STATUS_LIST.json ...]
                                        [--credential CREDENTIAL.json] [--offline]

For a ``.json`` credential: its ``ecdsa-jcs-2019`` proof against the issuing bureau's published key (its
``did:web`` document, or the JWKS/DID files given), its validity period, and its status in the Bitstring Status
List it names (fetched, or the file given). For a ``.pdf``: every PAdES signature (pyHanko's validator: the bytes
signed are unchanged, the signature and its time-stamp hold), that the signing key is one of the published keys
and was current when it signed, and, for a certificate, the status of its credential (the signature names the
credential's address; ``--credential`` gives it offline). It prints what holds in plain words and exits 0 when
everything holds, 1 otherwise. ``--offline`` fetches nothing: what cannot be checked from the files is said so.

The same checks serve the public ``/verify/`` page for an uploaded file (``workflows/public.py``), with the keys
and status lists read from the database. This module needs no Django.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from . import signing

Fetch = Callable[[str], dict | None]


def _(text: str) -> str:
    """Django's translation when Django is configured (the web page), else the English text (the command)."""
    try:
        from django.conf import settings

        if settings.configured:
            from django.utils.translation import gettext

            return gettext(text)
    except ImportError:  # pragma: no cover - the command without Django installed
        pass
    return text


@dataclass
class Finding:
    holds: bool | None  # None: could not be checked
    text: str
    topic: str = ""  # "status" and "validity": what a PDF's report takes from its credential's


@dataclass
class Report:
    kind: str  # "pdf" or "credential"
    findings: list[Finding] = field(default_factory=list)
    essentials: dict = field(default_factory=dict)
    status: str = ""

    @property
    def holds(self) -> bool:
        return bool(self.findings) and all(f.holds for f in self.findings)

    def add(self, holds: bool | None, text: str, topic: str = "") -> None:
        self.findings.append(Finding(holds, text, topic))

    def lines(self) -> list[str]:
        marks = {True: "OK  ", False: "FAIL", None: "??  "}
        out = [f"{marks[f.holds]} {f.text}" for f in self.findings]
        out.append(_("Everything holds.") if self.holds else _("It does not all hold: see above."))
        return out


# --- Keys ------------------------------------------------------------------------------------------------

def keys_from(documents: list[dict]) -> list[dict]:
    """Every public JWK in JWKS and DID documents, each with its ``kid`` (a DID method's fragment)."""
    keys = []
    for document in documents:
        for jwk in document.get("keys", []):
            keys.append(jwk)
        for method in document.get("verificationMethod", []):
            jwk = dict(method.get("publicKeyJwk") or {})
            if jwk:
                jwk.setdefault("kid", str(method.get("id", "")).rsplit("#", 1)[-1])
                jwk["_controller"] = method.get("controller", document.get("id", ""))
                keys.append(jwk)
    return keys


def _key_current(jwk: dict, moment: dt.datetime | None) -> bool:
    if moment is None:
        return True
    stamp = moment.timestamp()
    return (jwk.get("nbf") is None or stamp >= jwk["nbf"] - 300) and (jwk.get("exp") is None or stamp <= jwk["exp"])


def did_web_url(did: str) -> str:
    """Where a ``did:web`` document lives (W3C did:web): ``did:web:host:a:b`` → ``https://host/a/b/did.json``."""
    parts = did.split(":")[2:]
    host = unquote(parts[0])
    path = "/".join(parts[1:])
    scheme = "http" if host.startswith(("127.0.0.1", "localhost")) else "https"
    return f"{scheme}://{host}/{path}/did.json" if path else f"{scheme}://{host}/.well-known/did.json"


def http_fetch(url: str) -> dict | None:
    import urllib.request

    if not url.startswith(("https://", "http://")):
        return None
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http(s) only
            return json.loads(response.read(2_000_000))
    except (OSError, ValueError):
        return None


def _parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


# --- Credentials ---------------------------------------------------------------------------------------

def _status(report: Report, credential: dict, *, status_lists: list[dict], keys: list[dict],
            fetch: Fetch | None) -> None:
    entry = credential.get("credentialStatus")
    if not isinstance(entry, dict):
        report.add(False, _("The credential names no status list."), topic="status")
        return
    url = str(entry.get("statusListCredential", ""))
    status_list = next((s for s in status_lists if s.get("id") == url), None)
    if status_list is None and fetch is not None:
        status_list = fetch(url)
    if status_list is None:
        report.add(None, _("The status list could not be read (%(url)s): the status is not known.") % {"url": url},
                   topic="status")
        report.status = "unknown"
        return
    issuer = credential.get("issuer", {})
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if status_list.get("issuer") != issuer_id or not _proof_holds(status_list, keys):
        report.add(False, _("The status list is not signed by the credential's issuer."), topic="status")
        report.status = "unknown"
        return
    subject = status_list.get("credentialSubject", {})
    size = int(entry.get("statusSize", 1) or 1)
    try:
        value = signing.status_list_value(str(subject.get("encodedList", "")), int(entry["statusListIndex"]),
                                          bits=size)
    except (signing.SignatureError, KeyError, ValueError, OSError):
        report.add(False, _("The status list cannot be read."), topic="status")
        report.status = "unknown"
        return
    purpose = entry.get("statusPurpose")
    if purpose == "message":
        report.status = {0: "valid", 1: "suspended", 2: "revoked", 3: "ended"}.get(value, "unknown")
    else:
        report.status = {"revocation": "revoked", "suspension": "suspended"}.get(purpose, "unknown") if value else "valid"
    texts = {
        "valid": _("Status: in force (not suspended, revoked or lapsed)."),
        "suspended": _("Status: SUSPENDED by the issuing bureau."),
        "revoked": _("Status: REVOKED by the issuing bureau."),
        "ended": _("Status: no longer valid (lapsed, or replaced by a newer certificate)."),
        "unknown": _("Status: unknown value in the status list."),
    }
    report.add(report.status == "valid", texts[report.status], topic="status")


def _proof_holds(document: dict, keys: list[dict]) -> bool:
    """Every proof of the document holds with a published key of its controller, current when it signed."""
    found = signing.proofs(document)
    return bool(found) and all(_one_proof_holds(document, proof, keys) for proof in found)


def _one_proof_holds(document: dict, proof: dict, keys: list[dict]) -> bool:
    method = str(proof.get("verificationMethod", ""))
    did, _hash, kid = method.partition("#")
    for jwk in keys:
        if jwk.get("kid") != kid or ("_controller" in jwk and jwk["_controller"] != did):
            continue
        if not _key_current(jwk, _parse_time(proof.get("created", ""))):
            continue
        try:
            if signing.proof_verify(document, signing.jwk_public_key(jwk), proof):
                return True
        except (signing.SignatureError, KeyError, ValueError):
            continue
    return False


def published_keys(did: str, fetch: Fetch) -> list[dict]:
    """The keys of a ``did:web`` document, each with the period the host's JWKS gives it (``nbf``, ``exp``): a DID
    document lists a retired key (what it signed still verifies) but cannot say since when it is retired."""
    document = fetch(did_web_url(did))
    if not document:
        return []
    keys = keys_from([document])
    host_jwks = fetch(did_web_url(did.split(":bureaus:")[0]).replace("/.well-known/did.json", "/.well-known/jwks.json"))
    periods = {k.get("kid"): k for k in (host_jwks or {}).get("keys", [])}
    for jwk in keys:
        for bound in ("nbf", "exp"):
            if bound in periods.get(jwk.get("kid"), {}):
                jwk[bound] = periods[jwk["kid"]][bound]
    return keys


def verify_credential(credential: dict, *, keys: list[dict] | None = None, status_lists: list[dict] = (),
                      fetch: Fetch | None = http_fetch, now: dt.datetime | None = None) -> Report:
    report = Report(kind="credential")
    now = now or dt.datetime.now(dt.UTC)
    issuer = credential.get("issuer", {})
    issuer_id = issuer.get("id", "") if isinstance(issuer, dict) else str(issuer)
    subject = credential.get("credentialSubject", {}) or {}
    holder = next((i.get("identityHash") for i in subject.get("identifier", []) if isinstance(i, dict)), "")
    report.essentials = {
        "number": subject.get("licenseNumber", ""), "holder": holder,
        "grade": (subject.get("achievement") or {}).get("name", ""),
        "issuer": issuer.get("name", "") if isinstance(issuer, dict) else "",
        "valid_from": credential.get("validFrom", ""), "valid_until": credential.get("validUntil", ""),
        "id": credential.get("id", ""),
    }
    keys = list(keys or [])
    if not keys and fetch is not None and issuer_id.startswith("did:web:"):
        keys = published_keys(issuer_id, fetch)
    if not keys:
        report.add(None, _("The issuer's published keys could not be read: the signature is not checked."))
    elif _proof_holds(credential, keys):
        report.add(True, _("The signature holds: issued by %(issuer)s, unchanged since.")
                   % {"issuer": report.essentials["issuer"] or issuer_id})
    else:
        report.add(False, _("The signature does NOT hold: the credential was changed, or not signed by a "
                            "published key of its issuer."))
    valid_from, valid_until = _parse_time(credential.get("validFrom", "")), _parse_time(credential.get("validUntil", ""))
    if valid_from and now < valid_from:
        report.add(False, _("Not valid yet: valid from %(day)s.") % {"day": valid_from.date().isoformat()},
                   topic="validity")
    elif valid_until and now > valid_until:
        report.add(False, _("Expired on %(day)s.") % {"day": valid_until.date().isoformat()}, topic="validity")
    else:
        report.add(True, _("Within its validity (until %(day)s).")
                   % {"day": valid_until.date().isoformat() if valid_until else "-"}, topic="validity")
    _status(report, credential, status_lists=list(status_lists), keys=keys, fetch=fetch)
    return report


# --- PDFs ----------------------------------------------------------------------------------------------

def _pdf_credential_url(pdf: bytes) -> str:
    """The credential's address a certificate's signature names (its /ContactInfo), else ""."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        for signature in PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures:
            contact = signature.sig_object.get("/ContactInfo")
            if contact:
                return str(contact)
    except Exception:  # noqa: BLE001 - a damaged file has no credential to name; the signature check says why
        return ""
    return ""


def verify_pdf(pdf: bytes, *, keys: list[dict] | None = None, status_lists: list[dict] = (),
               credential: dict | None = None, fetch: Fetch | None = http_fetch, jwks_url: str = "",
               now: dt.datetime | None = None) -> Report:
    report = Report(kind="pdf")
    try:
        checks = signing.pdf_signatures(pdf)
    except signing.SignatureError:
        report.add(False, _("The file cannot be read as a PDF."))
        return report
    if not checks:
        report.add(False, _("The PDF carries no signature."))
        return report
    keys = list(keys or [])
    credential_url = _pdf_credential_url(pdf)
    if credential is None and credential_url and fetch is not None:
        credential = fetch(credential_url)
    if not keys and fetch is not None:
        if credential and str((credential.get("issuer") or {}).get("id", "")).startswith("did:web:"):
            keys = published_keys(credential["issuer"]["id"], fetch)
        elif jwks_url:
            document = fetch(jwks_url)
            keys = keys_from([document]) if document else []
    published = {}
    for jwk in keys:
        try:
            published.setdefault(signing.public_key_fingerprint(signing.jwk_public_key(jwk)), []).append(jwk)
        except (signing.SignatureError, KeyError, ValueError):
            continue
    for stamp in signing.pdf_document_timestamps(pdf):
        report.add(stamp.intact and stamp.covers_whole_file,
                   _("The document time-stamp holds: the file is as it was at %(moment)s.")
                   % {"moment": stamp.at.isoformat(timespec="seconds") if stamp.at else "-"}
                   if stamp.intact and stamp.covers_whole_file
                   else _("The document time-stamp does NOT hold: the PDF was changed after it was time-stamped."))
    for check in checks:
        if not (check.intact and check.covers_whole_file):
            report.add(False, _("The signature does NOT hold: the PDF was changed after it was signed."))
            continue
        report.add(True, _("The signature holds over the whole file: signed by %(signer)s.")
                   % {"signer": check.signer_subject})
        report.add(check.timestamp_intact, _("Time-stamped at %(moment)s.")
                   % {"moment": check.signed_at.isoformat(timespec="seconds") if check.signed_at else "-"}
                   if check.timestamp_intact else _("The signature's time-stamp does not hold."))
        if not keys:
            report.add(None, _("The published keys could not be read: the signer is not confirmed."))
            continue
        matching = published.get(signing.certificate_public_jwk_thumbprint(check.certificate_pem), [])
        if any(_key_current(jwk, check.signed_at) for jwk in matching):
            report.add(True, _("The signing key is a published key of the bureau, current when it signed."))
        else:
            report.add(False, _("The signing key is NOT one of the published keys (or was not current then)."))
    if credential is not None:
        sub = verify_credential(credential, keys=keys, status_lists=status_lists, fetch=fetch, now=now)
        report.essentials, report.status = sub.essentials, sub.status
        report.findings += [f for f in sub.findings if f.topic in ("status", "validity")]
    elif credential_url:
        report.add(None, _("The certificate's status could not be read (its credential: %(url)s).")
                   % {"url": credential_url})
    return report


# --- The command ---------------------------------------------------------------------------------------

def _load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m certification.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="a certificate's .pdf or a credential's .json")
    parser.add_argument("--keys", action="append", default=[], help="a JWKS or DID document (JSON file)")
    parser.add_argument("--status", action="append", default=[], help="a status list credential (JSON file)")
    parser.add_argument("--credential", help="the certificate's credential (JSON file), for a PDF's status")
    parser.add_argument("--jwks-url", default="", help="where the keys are published, for a PDF without a "
                                                       "credential (https://…/.well-known/jwks.json)")
    parser.add_argument("--offline", action="store_true", help="fetch nothing")
    args = parser.parse_args(argv)
    keys = keys_from([_load_json(p) for p in args.keys])
    status_lists = [_load_json(p) for p in args.status]
    fetch = None if args.offline else http_fetch
    if args.file.lower().endswith(".pdf"):
        with open(args.file, "rb") as handle:
            report = verify_pdf(handle.read(), keys=keys, status_lists=status_lists, fetch=fetch,
                                credential=_load_json(args.credential) if args.credential else None,
                                jwks_url=args.jwks_url)
    else:
        try:
            credential = _load_json(args.file)
        except (ValueError, OSError) as error:
            print(f"FAIL the file cannot be read as JSON: {error}")
            return 1
        report = verify_credential(credential, keys=keys, status_lists=status_lists, fetch=fetch)
    for name, value in report.essentials.items():
        if value:
            print(f"     {name}: {value}")
    for line in report.lines():
        print(line)
    return 0 if report.holds else 1


if __name__ == "__main__":
    sys.exit(main())
