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


class SpotCheckProcess(Process):
    """One process per spot-check round (第十二条): the round is the artifact; the process waits for the draw and
    the conclusions, and keeps a database timer on each rectification order's deadline."""

    class Meta:
        proxy = True
        verbose_name = _("spot-check process")
        verbose_name_plural = _("spot-check processes")

    @property
    def round(self):
        return self.artifact
