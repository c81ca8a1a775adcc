"""The authentication backend: Django's ModelBackend, whose user read for each request also answers whether
one of the user's roles needs a second factor (``services.signin.second_factor_required``), so that the
second factor's check costs no query of its own on every page."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef

from .models import User
from .services.signin import SECOND_FACTOR_ROLE


class UserBackend(ModelBackend):
    def get_user(self, user_id):
        roles = User.groups.through.objects.filter(user_id=OuterRef("pk"),
                                                   group__name__in=settings.CERTIFICATION_2FA_ROLES)
        try:
            user = User._default_manager.annotate(**{SECOND_FACTOR_ROLE: Exists(roles)}).get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
