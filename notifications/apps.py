"""In-app and e-mail notifications, their schedules and Celery tasks."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from certification.signals import audited

        from .events import on_audited
        from .language import on_login

        audited.connect(on_audited, dispatch_uid="notifications.on_audited")
        user_logged_in.connect(on_login, dispatch_uid="notifications.on_login")
