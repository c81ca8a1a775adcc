"""Rendering one certificate (证书) to PDF, in Chinese, against the floor of the same template in Latin text.

Keys: ``cjk_median_s`` (the certificate with Chinese text, rare characters in the holder's name included),
``latin_median_s`` (the same template and layout with every printed string in Latin letters: the least any
PDF of this page costs), their ``ratio``, ``size_bytes`` of the Chinese PDF, and ``font_subsetter`` (the
subsetter WeasyPrint used: "harfbuzz", or the slow "fonttools" fallback). Targets: ``ratio`` <= 2.0 and
``size_bytes`` <= 300 KB. No database: the certificate is an unsaved stand-in.

Signing, in the same run: ``unsigned_median_s`` (drawing the Chinese certificate, as above) and
``signed_median_s`` (drawing it and signing it as the worker does: PAdES with the bureau's P-256 key, the
signature field over the seal, a time-stamp from the local authority; a key made in memory), and
``signing_overhead`` = signed / unsigned - 1. Target: ``signing_overhead`` <= 0.5.
"""

import logging
from types import SimpleNamespace

from certification import signing
from certification.documents import (
    certificate_context,
    font_subsetter,
    render_pdf,
    sample_certificate,
)
from certification.scheme import shipped_scheme

from . import median_seconds

TEMPLATE = "documents/certificate.html"

LATIN = {
    "title": "Hubei Provincial Certificate of Archives Management Grade",
    "holder": "General Office of the People's Government of Jiang'an District, Wuhan",
    "grade": "Second",
    "statement": "Assessed and found to meet the standard of the provincial second grade; hereby certified.",
    "number_label": "Number: ",
    "number": "HB-2026-0001",
    "valid_until_label": "Valid until: ",
    "valid_until": "19 May 2029",
    "issuer": "Hubei Provincial Archives Bureau",
    "issued_on": "20 May 2026",
    "seal_label": "(seal)",
    "verify_label": "Scan to verify",
    "lang": "en",
}


def run() -> dict:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    certificate = sample_certificate(shipped_scheme("archives"), institution=SimpleNamespace(name="武汉市江岸区人民政府办公室（𠮷龘叕档案室）"))
    cjk_context = certificate_context(certificate)
    latin_context = {**cjk_context, **LATIN}
    pdf = render_pdf(TEMPLATE, cjk_context)
    cjk_s = median_seconds(lambda: render_pdf(TEMPLATE, cjk_context), repeat=7)
    latin_s = median_seconds(lambda: render_pdf(TEMPLATE, latin_context), repeat=7)
    signer = _signer()
    timestamper = signing.local_timestamper(signer)

    def signed():
        return signing.pdf_sign(render_pdf(TEMPLATE, cjk_context), signer=signer, timestamper=timestamper,
                                box=signing.CERTIFICATE_SEAL_BOX, reason="证书签发")

    unsigned_s = median_seconds(lambda: render_pdf(TEMPLATE, cjk_context), repeat=7)
    signed_s = median_seconds(signed, repeat=7)
    return {
        "cjk_median_s": round(cjk_s, 4),
        "latin_median_s": round(latin_s, 4),
        "ratio": round(cjk_s / latin_s, 2),
        "size_bytes": len(pdf),
        "font_subsetter": font_subsetter(),
        "unsigned_median_s": round(unsigned_s, 4),
        "signed_median_s": round(signed_s, 4),
        "signing_overhead": round(signed_s / unsigned_s - 1, 3),
        "signed_size_bytes": len(signed()),
    }


def _signer() -> signing.Signer:
    import datetime as dt

    key = signing.key_generate()
    now = dt.datetime.now(dt.UTC)
    certificate, tsa = signing.key_certificates(key, subject="湖北省档案局", serial=1,
                                                not_before=now - dt.timedelta(days=1),
                                                not_after=now + dt.timedelta(days=365))
    return signing.Signer(kid="benchmark", key=key, certificate_pem=certificate, tsa_certificate_pem=tsa,
                          name="湖北省档案局")
