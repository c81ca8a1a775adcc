"""The bureaus' signing keys (README, "Signed certificates and credentials").

A key signs for its bureau from ``valid_from`` until it is retired by a rotation (``retired_at``); it is never
deleted, and stays published (JWKS, DID document) with its period, so that what it signed still verifies. The
private key is stored encrypted under the key-encryption key from the environment (``SIGNING_KEY_ENCRYPTION_KEY``).
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import DomainModel
from .organisations import Bureau


class SigningKey(DomainModel):
    bureau = models.ForeignKey(Bureau, models.PROTECT, related_name="signing_keys", verbose_name=_("bureau"))
    kid = models.CharField(_("key id"), max_length=80, unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=10, default="ES256")
    public_jwk = models.JSONField(_("public key (JWK)"))
    fingerprint = models.CharField(_("SHA-256 of the public key"), max_length=64, unique=True)
    private_key = models.TextField(_("private key, encrypted"))
    certificate_pem = models.TextField(_("signing certificate (PEM)"))
    tsa_certificate_pem = models.TextField(_("time-stamping certificate (PEM)"))
    valid_from = models.DateTimeField(_("signs from"))
    valid_until = models.DateTimeField(_("certificate valid until"))
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")
        ordering = ["bureau", "-valid_from", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bureau"], condition=Q(retired_at__isnull=True),
                                    name="one_current_signing_key_per_bureau"),
        ]

    def __str__(self) -> str:
        return self.kid
