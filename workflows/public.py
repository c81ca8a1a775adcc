"""The public verification of certificates: no login, nothing private, lookups rate-limited. Besides a lookup
by number or QR token, anyone may upload a certificate's PDF or its credential (JSON): the page checks it with the
same code as ``python -m certification.verify``, against what this site publishes (keys, status lists)."""

import json

from django import forms
from django.core.cache import cache
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from certification.selectors import certificate_public
from certification.services.signing import published_document
from certification.verify import verify_credential, verify_pdf

UPLOAD_MAX_BYTES = 5 * 1024 * 1024


class VerifyUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("A certificate's PDF or its credential (.json)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError(_("The file is too large (5 MB at most)."))
        return upload

LOOKUPS_PER_MINUTE = 20


def rate_limited(request, *, scope: str, limit: int, seconds: int) -> bool:
    """Count one more request of ``scope`` from the caller's address; True once over ``limit`` in the window."""
    key = f"{scope}:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, timeout=seconds)
    return cache.incr(key) > limit


def _rate_limited(request) -> bool:
    return rate_limited(request, scope="verify", limit=LOOKUPS_PER_MINUTE, seconds=60)


def _verify_upload(request):
    form = VerifyUploadForm(request.POST, request.FILES)
    if _rate_limited(request):
        return render(request, "public/verify.html", {"error": _("Too many lookups. Please wait a minute."),
                                                      "upload_form": form}, status=429)
    if not form.is_valid():
        return render(request, "public/verify.html", {"upload_form": form}, status=400)
    data = form.cleaned_data["file"].read()
    if data.startswith(b"%PDF-"):
        report = verify_pdf(data, fetch=published_document)
    else:
        try:
            credential = json.loads(data.decode("utf-8"))
            if not isinstance(credential, dict):
                raise ValueError
        except ValueError:
            form.add_error("file", _("This is neither a PDF nor a credential (JSON)."))
            return render(request, "public/verify.html", {"upload_form": form}, status=400)
        report = verify_credential(credential, fetch=published_document)
    return render(request, "public/verify.html", {"upload_form": VerifyUploadForm(), "report": report})


def verify(request, token: str | None = None):
    """By the QR code's token (/verify/<token>), by the number typed in (/verify/?number=…), or an uploaded PDF
    or credential (POST to /verify/)."""
    if request.method == "POST" and token is None:
        return _verify_upload(request)
    number = request.GET.get("number", "").strip()
    if token is None and not number:
        return render(request, "public/verify.html", {"upload_form": VerifyUploadForm()})
    if _rate_limited(request):
        return render(request, "public/verify.html", {"error": _("Too many lookups. Please wait a minute.")},
                      status=429)
    certificate = certificate_public(token=token, number=number)
    if certificate is None:
        return render(request, "public/verify.html", {"number": number,
                                                      "error": _("No certificate matches.")}, status=404)
    return render(request, "public/verify.html", {"certificate": certificate, "number": number,
                                                  "upload_form": VerifyUploadForm()})
