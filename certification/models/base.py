"""What every model of the domain shares: timestamps, and no hard delete."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class HardDeleteRefused(Exception):
    """Nothing in the domain is ever deleted: records are archived, cancelled, revoked or superseded."""


class NoDeleteQuerySet(models.QuerySet):
    def delete(self):
        raise HardDeleteRefused(f"{self.model.__name__} rows are never deleted; archive them instead.")

    def active(self):
        return self.filter(archived_at__isnull=True)


class DomainModel(models.Model):
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True, editable=False)

    objects = NoDeleteQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise HardDeleteRefused(f"{type(self).__name__} rows are never deleted; archive them instead.")
