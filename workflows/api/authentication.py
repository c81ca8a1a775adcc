"""``Authorization: Token …`` against hashed, named, expiring API tokens (certification.models.ApiToken)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from certification.services.signin import token_authenticate


class HashedTokenAuthentication(TokenAuthentication):
    """DRF's token header, checked against the SHA-256 of live tokens: an unknown, expired or revoked token,
    or one of an inactive user, answers 401 alike."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        token = token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        return token.user, token
