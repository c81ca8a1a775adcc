from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = _("Workflows")

    def ready(self):
        # Build the flow at start-up, so that its nodes' permissions are known to migrations and checks.
        from .flows import CaseFlow

        CaseFlow.instance  # noqa: B018
        # the tasks that move a case, registered in every process (the web's sends them by name)
        from . import tasks  # noqa: F401
