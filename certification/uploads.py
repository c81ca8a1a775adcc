"""Evidence uploads are checked for what they are (their first bytes, not their name) and for size."""

from __future__ import annotations

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from .exceptions import Refusal

# What a bureau accepts as evidence: scans and documents that open everywhere without macros.
SIGNATURES = {
    "pdf": (b"%PDF-",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
}


def upload_refusals(upload, *, field: str) -> list[Refusal]:
    """Why this uploaded file is not accepted as evidence (empty when it is)."""
    name = getattr(upload, "name", "") or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    accepted = ", ".join(sorted({e.upper() for e in SIGNATURES if e != "jpeg"}))
    limit = settings.CERTIFICATION_UPLOAD_MAX_BYTES
    out = []
    if upload.size > limit:
        out.append(Refusal(
            code="upload.size", rule=_("Evidence files"),
            message=_("%(name)s is %(size)s; the largest file accepted is %(limit)s.")
            % {"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            satisfy=_("Upload a smaller file, for example a scan at a lower resolution."),
            params={"field": field},
        ))
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if extension not in SIGNATURES or not any(head.startswith(sig) for sig in SIGNATURES[extension]):
        out.append(Refusal(
            code="upload.type", rule=_("Evidence files"),
            message=_("%(name)s is not a %(accepted)s file.") % {"name": name, "accepted": accepted},
            satisfy=_("Upload the evidence as %(accepted)s.") % {"accepted": accepted},
            params={"field": field},
        ))
    return out
