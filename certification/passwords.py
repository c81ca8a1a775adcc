"""Password rules of GB/T 22239-2019 (等保 2.0, identification and authentication), beside Django's own
length, similarity, common-password and all-digits validators (settings.AUTH_PASSWORD_VALIDATORS)."""

from __future__ import annotations

import string

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CLASSES = (
    ("upper", lambda c: c in string.ascii_uppercase),
    ("lower", lambda c: c in string.ascii_lowercase),
    ("digit", lambda c: c in string.digits),
    ("symbol", lambda c: not c.isalnum() and not c.isspace()),
)


def character_classes(password: str) -> set[str]:
    return {name for name, test in CLASSES if any(test(c) for c in password)}


class ComplexityValidator:
    """At least ``min_classes`` of the four kinds of character: upper case, lower case, digits, symbols."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password, user=None):
        if len(character_classes(password)) < self.min_classes:
            raise ValidationError(self.get_error_message(), code="password_too_simple")

    def get_error_message(self) -> str:
        return _("The password must mix at least %(n)d of these: capital letters, small letters, digits "
                 "and symbols.") % {"n": self.min_classes}

    def get_help_text(self) -> str:
        return self.get_error_message()


class HistoryValidator:
    """A new password may not be the current one or any of the ``remember`` before it. Each password set is
    remembered (its hash only) by ``password_changed``, which Django calls when a user is saved with it."""

    def __init__(self, remember: int = 5):
        self.remember = remember

    def _recent(self, user):
        from .models import PasswordHistory

        return PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[: self.remember]

    def validate(self, password, user=None):
        if user is None or user.pk is None or not self.remember:
            return
        hashes = [user.password, *self._recent(user)] if user.password else list(self._recent(user))
        if any(check_password(password, stored) for stored in hashes if stored):
            raise ValidationError(self.get_error_message(), code="password_reused")

    def password_changed(self, password, user=None):
        if user is None or user.pk is None or not self.remember:
            return
        from .models import PasswordHistory

        PasswordHistory.objects.create(user=user, password=user.password)
        keep = list(PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[: self.remember])
        PasswordHistory.objects.filter(user=user).exclude(pk__in=keep).delete()  # older ones are not needed

    def get_error_message(self) -> str:
        return _("The password may not be the same as any of your last %(n)d passwords.") % {"n": self.remember}

    def get_help_text(self) -> str:
        return self.get_error_message()
