from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificationConfig(AppConfig):
    name = "certification"
    verbose_name = _("Graded certification")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_login_failed

        # ``tasks``: the Celery tasks are registered in every process, the web's too, as services send them by
        # their registered name (Celery's autodiscovery runs only in its own command line: worker, beat).
        from . import checks, signals, tasks  # noqa: F401
        from .services.signin import on_locked_out, on_login_failed, on_password_changed

        # Failed sign-ins and lockouts go to the audit log (after django-axes, listed before us, has counted them).
        user_login_failed.connect(on_login_failed, dispatch_uid="certification.signin.on_login_failed")
        user_locked_out.connect(on_locked_out, dispatch_uid="certification.signin.on_locked_out")
        signals.password_changed.connect(on_password_changed, dispatch_uid="certification.signin.password_changed")
