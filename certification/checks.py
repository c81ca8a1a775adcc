"""System checks of the deployment (``manage.py check --deploy``)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register


@register("certification", deploy=True)
def public_base_url_check(app_configs, **kwargs):
    """The certificate's QR code and the e-mails' links name the site by CERTIFICATION_PUBLIC_BASE_URL: in
    production it is set, and https."""
    value = getattr(settings, "CERTIFICATION_PUBLIC_BASE_URL", "") or ""
    parts = urlsplit(value)
    if not value:
        return [Error("CERTIFICATION_PUBLIC_BASE_URL is not set: certificates' QR codes would name no host.",
                      hint="Set it to the site's public address, e.g. https://dangan.example.gov.cn",
                      id="certification.E001")]
    if parts.scheme != "https" or not parts.netloc:
        return [Error(f"CERTIFICATION_PUBLIC_BASE_URL ({value}) is not an https address.",
                      hint="Certificates are verified over https: set it to https://<the site's host>",
                      id="certification.E002")]
    return []
