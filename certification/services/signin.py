"""Sign-in security (等保 2.0): who must use a second factor, failed sign-ins and lockouts written to the audit
log, unlocking by an administrator, enrolling and verifying the second factor, and API tokens.

The lockout itself is django-axes' (settings ``AXES_*``); this module records what it does and lets an
administrator undo it. The second factor is django-otp's: a TOTP device (an authenticator app) and a set of
single-use recovery codes (a static device)."""

from __future__ import annotations

import datetime as dt
import secrets
from base64 import b32encode

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..exceptions import Refusal, RuleViolation
from ..models import ApiToken, User
from ..models.security import token_digest
from .audit import audit_record, audit_record_many

TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery"
_REQUIRED = "_certification_second_factor_required"
#: Set on the user of a request by ``certification.backends.UserBackend``: whether one of its roles needs 2FA.
SECOND_FACTOR_ROLE = "in_second_factor_role"


def _refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Sign-in security (GB/T 22239)"), message=message,
                                 satisfy=satisfy))


# --- Who needs a second factor ------------------------------------------------------------------------------
def second_factor_required(user) -> bool:
    """Superusers and administrators (``is_staff``: the admin site) always; users of the roles in
    ``CERTIFICATION_2FA_ROLES`` (approvers, certificate officers); everyone with ``CERTIFICATION_2FA_ALL_ROLES``.
    The answer is kept on the user object, which lives for one request."""
    if not (user and user.is_authenticated):
        return False
    found = getattr(user, _REQUIRED, None)
    if found is None:
        in_role = getattr(user, SECOND_FACTOR_ROLE, None)  # read with the user of the request (backends.py)
        found = bool(settings.CERTIFICATION_2FA_ALL_ROLES or user.is_superuser or user.is_staff or (
            in_role if in_role is not None else user.groups.filter(name__in=settings.CERTIFICATION_2FA_ROLES).exists()))
        setattr(user, _REQUIRED, found)
    return found


# --- Failed sign-ins, lockouts, unlocking -------------------------------------------------------------------
def _address(request) -> str | None:
    if request is None:
        return None
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")


def _signin_target(username: str, address: str | None):
    """What a sign-in entry is about: the account when it exists, else axes' record of the attempts."""
    from axes.models import AccessAttempt

    user = User.objects.filter(username=username).first() if username else None
    if user is not None:
        return user
    attempt = AccessAttempt.objects.filter(username=username, ip_address=address).order_by("-attempt_time").first()
    return attempt if attempt is not None else AccessAttempt(username=username, ip_address=address)


def on_login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    """Receiver of ``user_login_failed`` (after django-axes' own, which counts the failure)."""
    username = str((credentials or {}).get("username") or "")[:150]
    address = _address(request)
    after = {"username": username, "address": address, "path": request.path if request else "",
             "locked_out": bool(getattr(request, "axes_locked_out", False))}
    with transaction.atomic():
        audit_record(actor=None, action="signin.failed", target=_signin_target(username, address), after=after)


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """Receiver of axes' ``user_locked_out``: once per lockout (when the failures reach the limit), not again
    for every attempt made while it lasts (those are recorded as failures, ``locked_out`` true)."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None and failures != settings.AXES_FAILURE_LIMIT:
        return
    username = str(username or "")[:150]
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60) if settings.AXES_COOLOFF_TIME else None
    with transaction.atomic():
        audit_record(actor=None, action="signin.locked_out", target=_signin_target(username, ip_address),
                     after={"username": username, "address": ip_address, "failures": failures,
                            "minutes": minutes, "path": request.path if request else ""})


@transaction.atomic
def signin_unlock(*, actor: User, username: str | None = None, address: str | None = None,
                  reason: str = "") -> int:
    """Lift a lockout: of an account (its failures from anywhere), an address (every failure from it), or
    both. Returns the number of attempt records removed; audited even when there was nothing to lift."""
    from axes.models import AccessAttempt
    from axes.utils import reset

    if not (username or address):
        raise ValueError("an unlock names an account, an address or both")
    target = _signin_target(username or "", address) if username else (
        AccessAttempt.objects.filter(ip_address=address).first() or AccessAttempt(ip_address=address))
    removed = 0
    if username:
        removed += reset(username=username)
    if address:
        removed += reset(ip=address)
    audit_record(actor=actor, action="signin.unlock", target=target, reason=reason,
                 after={"username": username, "address": address, "attempts_removed": removed})
    return removed


# --- The second factor --------------------------------------------------------------------------------------
def totp_secret(device: TOTPDevice) -> str:
    """The device's secret in base32, as an authenticator app takes it when typed in by hand."""
    return b32encode(device.bin_key).decode()


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


@transaction.atomic
def otp_enrol_begin(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator the user is adding (the same one until confirmed)."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one enrolment at a time per user
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).filter(name=TOTP_DEVICE_NAME).first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def recovery_codes_issue(*, user: User) -> list[str]:
    """A new set of single-use recovery codes; those issued before stop working. Call inside a transaction."""
    device, _created = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_DEVICE_NAME,
                                                          defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _n in range(settings.CERTIFICATION_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def otp_enrol_confirm(*, user: User, device: TOTPDevice, code: str) -> list[str]:
    """Confirm the authenticator with a code it shows; returns the recovery codes (shown once)."""
    device = TOTPDevice.objects.select_for_update().filter(pk=device.pk, user=user, confirmed=False).first()
    if device is None:
        raise _refuse("otp.no_enrolment", _("There is no authenticator being added."),
                      _("Start again from the page that adds one."))
    if not device.verify_token(_clean(code)):
        raise _refuse("otp.wrong_code", _("The code is not right."),
                      _("Type the six digits your authenticator app shows now."))
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.devices_for_user(user, confirmed=True).exclude(pk=device.pk).update(confirmed=False)
    codes = recovery_codes_issue(user=user)
    audit_record(actor=user, action="otp.enrol", target=user,
                 after={"device": device.name, "recovery_codes": len(codes)})
    return codes


@transaction.atomic
def recovery_codes_renew(*, actor: User) -> list[str]:
    codes = recovery_codes_issue(user=actor)
    audit_record(actor=actor, action="otp.recovery_codes_renew", target=actor, after={"recovery_codes": len(codes)})
    return codes


def _clean(code: str) -> str:
    return "".join(str(code or "").split()).lower()


def otp_verify(*, user: User, code: str):
    """The device that accepts ``code``: six digits for the authenticator, else a recovery code, which works
    once. ``None`` when none does; every outcome of a recovery code and every wrong code is audited."""
    code = _clean(code)
    with transaction.atomic():
        if code.isdigit() and len(code) == 6:
            devices = TOTPDevice.objects.devices_for_user(user, confirmed=True).select_for_update()
        else:
            devices = StaticDevice.objects.devices_for_user(user, confirmed=True).select_for_update()
        device = next((d for d in devices if d.verify_token(code)), None)
    with transaction.atomic():
        if device is None:
            audit_record(actor=user, action="otp.failed", target=user)
        elif isinstance(device, StaticDevice):
            audit_record(actor=user, action="otp.recovery_used", target=user,
                         after={"recovery_codes_left": device.token_set.count()})
    return device


# --- API tokens ---------------------------------------------------------------------------------------------
def token_max_days() -> int:
    return settings.CERTIFICATION_API_TOKEN_DAYS


@transaction.atomic
def token_create(*, user: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """A new named token for ``user``, valid ``days`` (at most ``CERTIFICATION_API_TOKEN_DAYS``). Returns the
    row and the token itself, which is not stored (only its SHA-256) and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise _refuse("token.name_missing", _("A token needs a name."),
                      _("Name it after where it is used, for example the program that calls the API."))
    if len(name) > 100:
        raise _refuse("token.name_too_long", _("A token's name has at most 100 characters."))
    days = token_max_days() if days is None else days
    if not 1 <= days <= token_max_days():
        raise _refuse("token.days", _("A token is valid for 1 to %(max)d days.") % {"max": token_max_days()})
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:8], digest=token_digest(key),
                                    created_at=now, expires_at=now + dt.timedelta(days=days))
    audit_record(actor=user, action="token.create", target=token,
                 after={"name": name, "prefix": token.prefix, "expires_at": token.expires_at})
    return token, key


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken, reason: str = "") -> ApiToken:
    """Revoke one token (a second call changes nothing)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_reason = (reason or "revoked by its owner")[:200]
        token.save(update_fields=["revoked_at", "revoked_reason"])
        audit_record(actor=actor, action="token.revoke", target=token, reason=token.revoked_reason,
                     after={"name": token.name, "prefix": token.prefix})
    return token


def tokens_revoke_all(user: User, *, reason: str, actor: User | None = None) -> int:
    """Revoke every live token of ``user`` (a password change, signing out everywhere)."""
    with transaction.atomic():
        tokens = list(ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
        if not tokens:
            return 0
        now = timezone.now()
        ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=now, revoked_reason=reason[:200])
        audit_record_many(actor=actor or user, action="token.revoke", targets=tokens, reason=reason)
    return len(tokens)


def on_password_changed(sender, user, **kwargs) -> None:
    """Receiver of ``signals.password_changed``: the API tokens of the old password die."""
    tokens_revoke_all(user, reason="password changed")


def token_authenticate(key: str) -> ApiToken | None:
    """The live token whose SHA-256 matches ``key``, with its active user; ``None`` otherwise. Marks when it
    was last used (at most once every five minutes, so a busy client does not write on every call)."""
    if not key:
        return None
    now = timezone.now()
    token = (ApiToken.objects.live(now).select_related("user")
             .filter(digest=token_digest(key), user__is_active=True).first())
    if token is not None and (token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5)):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def signout_everywhere(*, user: User) -> int:
    """End every session of ``user`` (their session hash changes) and revoke every API token."""
    User.objects.filter(pk=user.pk).update(session_epoch=models.F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    revoked = tokens_revoke_all(user, reason="signed out everywhere")
    audit_record(actor=user, action="user.signout_everywhere", target=user, after={"tokens_revoked": revoked})
    return revoked
