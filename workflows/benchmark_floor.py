"""The floor of ``python -m benchmarks writes``: a bare Viewflow flow of the case flow's shape (a human task, a
gateway, a database timer, a function, the end) with no business at all, run on the same database.

It lives here, not in ``benchmarks/``, because Viewflow stores a flow by its place in an installed app
(``workflows/benchmark_floor.FloorFlow``) and imports it back from there when a timer fires. Nothing in the
site starts it: no URL, no page, no menu; only the benchmark does. Its processes are Viewflow's own
``Process`` rows."""

import datetime as dt

from django.http import HttpResponse
from viewflow import this
from viewflow.workflow import flow, lock

WAIT = dt.timedelta(days=1)


def _no_page(request, **kwargs):  # the floor's human task is completed by the benchmark, never through a page
    return HttpResponse(status=404)


class FloorFlow(flow.Flow):
    lock_impl = lock.SelectForUpdateLock(nowait=False)

    start = flow.StartHandle(this.start_process).Next(this.task)
    task = flow.View(_no_page).Permission(auto_create=True).Next(this.decide)
    decide = flow.If(lambda activation: True).Then(this.wait).Else(this.end)
    wait = flow.Timer(WAIT).Next(this.act)
    act = flow.Function(this.nothing).Next(this.end)
    end = flow.End()

    def start_process(self, activation):
        activation.process.save()
        return activation.process

    def nothing(self, activation):
        return None
