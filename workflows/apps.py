from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = _("Workflows")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        # Build the flow at start-up, so that its nodes' permissions are known to migrations and checks.
        from .flows import CaseFlow

        CaseFlow.instance  # noqa: B018
        # the tasks that move a case, registered in every process (the web's sends them by name)
        from . import tasks  # noqa: F401
        from .security import stamp_session

        # Sign-in security: when a session began (workflows.security.SessionPolicyMiddleware)
        user_logged_in.connect(stamp_session, dispatch_uid="workflows.security.stamp_session")
