from django.db.models.signals import post_migrate
from django.dispatch import Signal, receiver

#: Sent inside the transaction of a change, once its audit entries are appended. Every state change, score,
#: reopening and decision is audited, so this is the one place where others (notifications) learn what
#: happened. Arguments: ``entries`` (list of AuditEntry, saved) and ``targets`` (the changed objects, same order).
#: A receiver that must act only once the change is committed uses ``transaction.on_commit``.
audited = Signal()

#: Sent by ``User.save`` once a user is saved with a new password (not when it is created). Argument: ``user``.
#: ``services.signin`` revokes the user's API tokens on it (wired in ``apps.py``).
password_changed = Signal()


@receiver(post_migrate)
def _ensure_roles(sender, app_config=None, **kwargs) -> None:
    if app_config is not None and app_config.label == "certification":
        from .permissions import ensure_roles

        ensure_roles()
