"""A parallel split that creates one task per item (one scoring task per panel member)."""

from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.nodes.split import SplitActivation


class SplitEachActivation(SplitActivation):
    @Activation.status.super()
    def activate(self):
        for node, condition, data_source in self.flow_task._branches:
            if condition and not condition(self):
                continue
            if data_source is None:
                self.next_tasks.append((node, None))
            else:
                self.next_tasks.extend((node, item) for item in data_source(self))
        if not self.next_tasks:
            raise FlowRuntimeError(f"No next task available for {self.flow_task.name}")


class SplitEach(flow.Split):
    """``.Each(node, data_source)``: one ``node`` task per item that ``data_source(activation)`` returns, each
    with ``task.data`` set to its item; ``.Always(node)`` as in Split. The join waits for all of them."""

    activation_class = SplitEachActivation

    def Each(self, node, data_source):  # noqa: N802 - Viewflow's node-building style
        self._activate_next.append((node, None, data_source))
        return self


class If(flow.If):
    """viewflow's ``If`` whose chart labels its two ways in the reader's language (viewflow writes "yes"/"no")."""

    def _outgoing(self):
        from django.utils.translation import gettext as _
        from viewflow.workflow.base import Edge

        yield Edge(src=self, dst=self._on_true, edge_class="cond_true", label=_("Yes"))
        yield Edge(src=self, dst=self._on_false, edge_class="cond_false", label=_("No"))
