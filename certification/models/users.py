from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from .base import HardDeleteRefused


class User(AbstractUser):
    """A person who signs in: applicant staff, bureau staff, experts, approvers, officers, auditors."""

    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    language = models.CharField(
        _("language"), max_length=10, default="zh-hans", choices=[("zh-hans", "简体中文"), ("en", "English")]
    )

    # Raised by "sign out everywhere": every session signed in before it no longer matches (get_session_auth_hash).
    session_epoch = models.PositiveIntegerField(_("session generation"), default=0, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    def get_full_name(self) -> str:
        """The person's name as printed on pages and documents: the full name, else Django's first and last
        names; never the user name (which is a login, not a name)."""
        return self.full_name.strip() or super().get_full_name()

    def get_session_auth_hash(self):
        """Django's (the password's hash) plus the session generation: a session checks it on each request, so
        changing the password or signing out everywhere ends every other session."""
        return salted_hmac("certification.User.get_session_auth_hash", f"{self.password}:{self.session_epoch}",
                           algorithm="sha256").hexdigest()

    def save(self, *args, **kwargs):
        password_changed = self._password is not None and self.pk is not None
        super().save(*args, **kwargs)
        if password_changed:  # a new password: every API token of the old one dies (README, Sign-in security)
            from ..signals import password_changed as changed

            changed.send(sender=type(self), user=self)

    def delete(self, *args, **kwargs):
        raise HardDeleteRefused("Users are never deleted; deactivate them instead.")
