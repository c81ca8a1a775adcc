"""The public verification of certificates: no login, nothing private, lookups rate-limited."""

from django.core.cache import cache
from django.shortcuts import render
from django.utils.translation import gettext as _

from certification.selectors import certificate_public

LOOKUPS_PER_MINUTE = 20


def rate_limited(request, *, scope: str, limit: int, seconds: int) -> bool:
    """Count one more request of ``scope`` from the caller's address; True once over ``limit`` in the window."""
    key = f"{scope}:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, timeout=seconds)
    return cache.incr(key) > limit


def _rate_limited(request) -> bool:
    return rate_limited(request, scope="verify", limit=LOOKUPS_PER_MINUTE, seconds=60)


def verify(request, token: str | None = None):
    """By the QR code's token (/verify/<token>) or by the number typed in (/verify/?number=…)."""
    number = request.GET.get("number", "").strip()
    if token is None and not number:
        return render(request, "public/verify.html", {})
    if _rate_limited(request):
        return render(request, "public/verify.html", {"error": _("Too many lookups. Please wait a minute.")},
                      status=429)
    certificate = certificate_public(token=token, number=number)
    if certificate is None:
        return render(request, "public/verify.html", {"number": number,
                                                      "error": _("No certificate matches.")}, status=404)
    return render(request, "public/verify.html", {"certificate": certificate, "number": number})
