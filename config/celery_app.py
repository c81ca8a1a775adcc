"""The Celery application: Redis broker, settings read from Django's ``CELERY_*`` names."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("certification")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
