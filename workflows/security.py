"""Sign-in security in the web layer: the session policy (idle timeout, maximum age), the second factor's
gate and pages (enrolment, verification, recovery codes), the lockout answer, and the account page where a user
manages their API tokens, changes their password and signs out everywhere. Every rule is a service of
``certification.services.signin``; this module only wires requests to it."""

from __future__ import annotations

import math
import time
from urllib.parse import quote

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse, reverse_lazy
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from certification.exceptions import RuleViolation
from certification.models import ApiToken
from certification.services import signin

SIGNED_IN_AT = "certification_signed_in_at"
LAST_SEEN = "certification_last_seen"
LAST_SEEN_RESOLUTION = 60  # seconds: the session is written at most once a minute to record activity

# Paths an unverified privileged user may still reach: signing in and out, the second factor's own pages.
OPEN_PATHS = ("/accounts/login/", "/accounts/logout/", "/accounts/2fa/", "/admin/login/", "/admin/logout/",
              "/i18n/", "/static/")


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _safe_next(request, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


# --- Sessions -----------------------------------------------------------------------------------------------
def stamp_session(sender, request, user, **kwargs) -> None:
    """Receiver of ``user_logged_in``: when the session began, and when it was last used."""
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN] = now


class SessionPolicyMiddleware:
    """Ends a session idle for ``CERTIFICATION_SESSION_IDLE_MINUTES`` or older than
    ``CERTIFICATION_SESSION_MAX_HOURS`` (0 turns either off): the user signs in again."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = time.time()
            idle = settings.CERTIFICATION_SESSION_IDLE_MINUTES * 60
            longest = settings.CERTIFICATION_SESSION_MAX_HOURS * 3600
            started, seen = session.get(SIGNED_IN_AT), session.get(LAST_SEEN)
            if started is None:  # a session signed in before this policy: it starts now
                started = session[SIGNED_IN_AT] = now
            why = None
            if idle and seen is not None and now - seen > idle:
                why = _("You were signed out after %(minutes)d minutes without activity. Please sign in again.") % {
                    "minutes": settings.CERTIFICATION_SESSION_IDLE_MINUTES}
            elif longest and now - started > longest:
                why = _("You were signed out: a session lasts at most %(hours)d hours. Please sign in again.") % {
                    "hours": settings.CERTIFICATION_SESSION_MAX_HOURS}
            if why is not None:
                logout(request)
                if _is_api(request):
                    return JsonResponse({"detail": why, "code": "session_expired"}, status=401)
                messages.info(request, why)
                return HttpResponseRedirect(f"{reverse('login')}?next={quote(request.get_full_path())}")
            if seen is None or now - seen >= LAST_SEEN_RESOLUTION:
                session[LAST_SEEN] = now
        return self.get_response(request)


# --- The second factor --------------------------------------------------------------------------------------
class TwoFactorMiddleware:
    """A user who must use a second factor (``signin.second_factor_required``) and has not verified one in this
    session reaches nothing but the enrolment or verification page (the API answers 403)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (user.is_authenticated and not request.path.startswith(OPEN_PATHS) and not user.is_verified()
                and signin.second_factor_required(user)):
            if _is_api(request):
                return JsonResponse({"detail": _("Verify your second factor before using this page."),
                                     "code": "second_factor_required"}, status=403)
            page = "otp_verify" if signin.has_authenticator(user) else "otp_setup"
            return HttpResponseRedirect(f"{reverse(page)}?next={quote(request.get_full_path())}")
        return self.get_response(request)


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}))


def _qr_svg(text: str) -> str:
    return segno.make(text, error="m").svg_inline(scale=4)


@login_required
def otp_setup(request):
    """Add an authenticator: scan the QR code (or type the secret), then type a code it shows."""
    if signin.has_authenticator(request.user):
        if request.user.is_verified():
            return redirect(_safe_next(request))
        return redirect(f"{reverse('otp_verify')}?next={quote(_safe_next(request))}")
    device = signin.otp_enrol_begin(user=request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = signin.otp_enrol_confirm(user=request.user, device=device, code=form.cleaned_data["code"])
        except RuleViolation as exc:
            form.add_error("code", str(exc))
        else:
            device.refresh_from_db()
            otp_login(request, device)
            return render(request, "security/recovery_codes.html", {"codes": codes, "next": _safe_next(request)})
    return render(request, "security/otp_setup.html", {
        "form": form, "secret": signin.totp_secret(device), "qr": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 - segno's own SVG
        "next": _safe_next(request)})


@login_required
def otp_verify(request):
    """The second step of signing in: a code of the authenticator, or one recovery code."""
    if not signin.has_authenticator(request.user):
        return redirect(f"{reverse('otp_setup')}?next={quote(_safe_next(request))}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = signin.otp_verify(user=request.user, code=form.cleaned_data["code"])
        if device is None:
            form.add_error("code", _("The code is not right, or was already used. Try the code your authenticator "
                                     "app shows now, or an unused recovery code."))
        else:
            otp_login(request, device)
            return redirect(_safe_next(request))
    return render(request, "security/otp_verify.html", {"form": form, "next": _safe_next(request)})


# --- Lockout ------------------------------------------------------------------------------------------------
def lockout_message() -> tuple[str, int]:
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds()) if settings.AXES_COOLOFF_TIME else 0
    if seconds:
        text = _("Too many failed sign-ins: this account or this address is locked for %(minutes)d minutes. "
                 "Try again in %(minutes)d minutes, or ask an administrator to unlock it.") % {
            "minutes": math.ceil(seconds / 60)}
    else:
        text = _("Too many failed sign-ins: this account or this address is locked. Ask an administrator to "
                 "unlock it.")
    return text, seconds


def client_address(request) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address a lockout counts. Behind ``CERTIFICATION_PROXY_COUNT`` reverse
    proxies, each appending the address it saw to X-Forwarded-For, it is the N-th entry from the right (what
    a client writes there itself is further left, and ignored); otherwise REMOTE_ADDR."""
    count = settings.CERTIFICATION_PROXY_COUNT
    if count:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: the answer to a sign-in refused by a lockout, on every form (429)."""
    text, seconds = lockout_message()
    if _is_api(request):
        response = JsonResponse({"detail": text, "code": "locked_out", "retry_after": seconds}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": text}, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response


# --- The account page: API tokens, password, signing out everywhere -----------------------------------------
class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"] = forms.IntegerField(label=gettext_lazy("Valid for (days)"), min_value=1,
                                                 max_value=signin.token_max_days(), initial=signin.token_max_days())


@login_required
def account(request):
    """The signed-in user's security page: their API tokens (create, list, revoke), recovery codes, password."""
    form = TokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            token, key = signin.token_create(user=request.user, name=form.cleaned_data["name"],
                                             days=form.cleaned_data["days"])
        except RuleViolation as exc:
            form.add_error(None, str(exc))
        else:
            created = {"token": token, "key": key}
            form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")
    return render(request, "security/account.html", {
        "form": form, "created": created, "tokens": tokens,
        "second_factor": signin.has_authenticator(request.user),
        "second_factor_required": signin.second_factor_required(request.user)})


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)  # another's token answers 404
    signin.token_revoke(actor=request.user, token=token)
    messages.success(request, format_html(_("The token “{}” is revoked."), token.name))
    return redirect("account")


@login_required
@require_POST
def signout_everywhere(request):
    signin.signout_everywhere(user=request.user)
    logout(request)
    messages.success(request, _("You are signed out everywhere, and every API token of yours is revoked."))
    return redirect("login")


@login_required
@require_POST
def recovery_codes_renew(request):
    if not signin.has_authenticator(request.user) or not request.user.is_verified():
        return redirect("otp_setup")
    codes = signin.recovery_codes_renew(actor=request.user)
    return render(request, "security/recovery_codes.html", {"codes": codes, "next": reverse("account")})


urlpatterns = [
    path("2fa/setup/", otp_setup, name="otp_setup"),
    path("2fa/verify/", otp_verify, name="otp_verify"),
    path("security/", account, name="account"),
    path("security/tokens/<int:pk>/revoke/", token_revoke, name="token_revoke"),
    path("security/recovery-codes/", recovery_codes_renew, name="recovery_codes_renew"),
    path("security/sign-out-everywhere/", signout_everywhere, name="signout_everywhere"),
    path("password/", auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("password_change_done")),
         name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
