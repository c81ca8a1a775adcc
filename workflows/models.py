"""The process of a case, as Viewflow keeps it: a proxy of Viewflow's process whose artifact is the case."""

from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Process


class CaseProcess(Process):
    """One process per case (promotion or recheck). The case itself is the artifact; its stage and outcome are
    the domain's, the process holds who must act next and the timers."""

    class Meta:
        proxy = True
        verbose_name = _("case process")
        verbose_name_plural = _("case processes")

    @property
    def case(self):
        return self.artifact
