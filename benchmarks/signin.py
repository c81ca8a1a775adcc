"""Signing in for the benchmarks: ``force_login`` skips every form, so a privileged user (who signs in with a
second factor, README "Sign-in security") is also recorded as verified, with an authenticator of their own,
as typing its code would do."""


def force_login(client, user) -> None:
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from certification.services.signin import second_factor_required

    client.force_login(user)
    if second_factor_required(user):
        device = (TOTPDevice.objects.filter(user=user, confirmed=True).first()
                  or TOTPDevice.objects.create(user=user, name="benchmark", confirmed=True))
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
