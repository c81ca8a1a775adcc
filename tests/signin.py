"""Signing in with the second factor in tests.

Privileged users (approvers, certificate officers, administrators) need a verified second factor before any
page. Tests of other features sign in with ``client.force_login``, which skips the sign-in form: the autouse
fixture in ``tests/conftest.py`` makes that also verify the second factor (with a confirmed authenticator it
creates), exactly as if the user had typed a code. The tests of the second factor itself sign in through the
forms and type codes computed with ``totp_now``."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from certification.services.signin import second_factor_required

_original_force_login = Client.force_login


def authenticator_for(user) -> TOTPDevice:
    """The user's confirmed authenticator (created if there is none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def totp_now(device: TOTPDevice) -> str:
    """The code the authenticator app shows at this moment (the clock as time-machine sets it)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


def mark_verified(client: Client, user) -> None:
    """Record in the client's session that ``user`` verified their authenticator."""
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
    session.save()


def force_login_verified(self: Client, user, backend=None) -> None:
    _original_force_login(self, user, backend)
    if second_factor_required(type(user).objects.get(pk=user.pk)):
        mark_verified(self, user)
