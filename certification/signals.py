from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _ensure_roles(sender, app_config=None, **kwargs) -> None:
    if app_config is not None and app_config.label == "certification":
        from .permissions import ensure_roles

        ensure_roles()
