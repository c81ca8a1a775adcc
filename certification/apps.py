from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificationConfig(AppConfig):
    name = "certification"
    verbose_name = _("Graded certification")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # ``tasks``: the Celery tasks are registered in every process, the web's too, as services send them by
        # their registered name (Celery's autodiscovery runs only in its own command line: worker, beat).
        from . import signals, tasks  # noqa: F401
