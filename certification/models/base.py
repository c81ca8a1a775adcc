"""What every model of the domain shares: timestamps, and no hard delete."""

import functools

from django.db import models
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import get_language
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


@functools.cache
def _choice_labels(model, name: str, language: str | None) -> dict:
    # Choices are code, not data: a table per model field and language never goes out of date.
    return {key: str(label) for key, label in model._meta.get_field(name).flatchoices}


def choice_label(instance, name: str):
    """What ``instance.get_<name>_display()`` gives, read from a table made once per model field and language:
    Django's rebuilds the field's choices on every call, which a list of fifty rows with three such columns
    (a page, or an API answer) pays for a hundred and fifty times."""
    value = getattr(instance, name)
    label = _choice_labels(type(instance), name, get_language()).get(value)
    return force_str(value, strings_only=True) if label is None else label
