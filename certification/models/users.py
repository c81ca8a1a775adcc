from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import HardDeleteRefused


class User(AbstractUser):
    """A person who signs in: applicant staff, bureau staff, experts, approvers, officers, auditors."""

    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    language = models.CharField(
        _("language"), max_length=10, default="zh-hans", choices=[("zh-hans", "简体中文"), ("en", "English")]
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    def delete(self, *args, **kwargs):
        raise HardDeleteRefused("Users are never deleted; deactivate them instead.")
