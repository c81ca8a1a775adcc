"""What the bureaus publish for anyone to verify their signatures without trusting this server, and the
holder's download of a certificate's credential. No sign-in for the published documents; the services hold
everything (``certification/services/signing.py``)."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from certification.selectors import certificate_get_for_user_or_404, certificate_public
from certification.services import signing

MAX_AGE = 300  # seconds: a status list says the same (its ``ttl``)


def _json(document: dict, *, content_type: str = "application/json", filename: str = "",
          public: bool = True) -> HttpResponse:
    response = HttpResponse(json.dumps(document, ensure_ascii=False, indent=2), content_type=content_type)
    if public:
        response["Cache-Control"] = f"public, max-age={MAX_AGE}"
        response["Access-Control-Allow-Origin"] = "*"  # verifiers run in other origins' pages and wallets
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def jwks(request):
    return _json(signing.jwks(), content_type="application/jwk-set+json")


@require_GET
def site_did(request):
    return _json(signing.site_did_document(), content_type="application/did+json")


@require_GET
def bureau_did(request, code: str):
    bureau = signing.bureau_by_code(code)
    if bureau is None:
        raise Http404
    return _json(signing.did_document(bureau), content_type="application/did+json")


@require_GET
def status_list(request, code: str, number: int):
    bureau = signing.bureau_by_code(code)
    if bureau is None or number > 10_000:
        raise Http404
    return _json(signing.status_list_credential(bureau, number), content_type="application/vc+ld+json")


@require_GET
def credential(request, token: str):
    """A certificate's credential by the QR code's token (what the verification page shows, signed); one issued
    before credentials were gets it now."""
    certificate = certificate_public(token=token)
    if certificate is None:
        raise Http404
    return _json(signing.certificate_credential_get(certificate=certificate), content_type="application/vc+ld+json")


@login_required
@require_GET
def certificate_credential(request, pk: int):
    """The holder's (and its bureaus') download of a certificate's credential, from the certificate's page."""
    certificate = certificate_get_for_user_or_404(request.user, pk)
    document = signing.certificate_credential_get(certificate=certificate)
    return _json(document, content_type="application/vc+ld+json", public=False,
                 filename=f"credential-{certificate.pk}.json")
