"""Celery beat's calendar without a broker: every entry of ``CELERY_BEAT_SCHEDULE``, run in this process on
its own schedule, for ``manage.py run_timers_loop`` (the embedded first run where Redis cannot be had).

The list of what runs is the beat schedule itself, read from the settings: a sweep added to beat runs here
too, with nothing else to keep in step. Each entry runs when its schedule says it is due since it last ran in
this loop (every minute for the timers, once a day for the daily sweeps and reminders), and once at the loop's
first round, so that a loop started after a sweep's hour still does that day's work. Every sweep is
idempotent on its own (a reminder or a lapse is recorded once under its key), so a restarted loop, or a loop
and a beat running at once, send nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass
class BeatLoop:
    """The loop's memory: when each entry of the beat schedule last ran (in this process)."""

    last_run: dict[str, dt.datetime] = field(default_factory=dict)

    @staticmethod
    def entries() -> dict[str, dict]:
        return dict(settings.CELERY_BEAT_SCHEDULE)

    def due(self, now: dt.datetime) -> list[str]:
        """The names of the entries due at ``now``, in the schedule's order."""
        names = []
        for name, entry in self.entries().items():
            last = self.last_run.get(name)
            if last is None or _is_due(entry["schedule"], last, now):
                names.append(name)
        return names

    def run_round(self, *, now: dt.datetime | None = None) -> dict[str, object]:
        """Run every entry due now, each through its Celery task called in this process; returns what each
        task returned (or the error, logged, for an entry that failed: it is tried again next round)."""
        from config.celery_app import app

        now = now or timezone.now()
        app.loader.import_default_modules()  # the tasks modules register their tasks
        results: dict[str, object] = {}
        for name in self.due(now):
            entry = self.entries()[name]
            task = app.tasks[entry["task"]]
            try:
                results[name] = task(*entry.get("args", ()), **entry.get("kwargs", {}))
            except Exception as exc:  # one failing sweep must not stop the others
                logger.exception("beat entry %s (%s) failed; it is tried again next round", name, entry["task"])
                results[name] = exc
                continue
            self.last_run[name] = now
        return results


def _is_due(schedule, last: dt.datetime, now: dt.datetime) -> bool:
    """Whether a beat schedule (a crontab, an interval or a number of seconds) has a run due at ``now`` since
    ``last``: its first run time after ``last`` is not later than ``now``. A crontab's hours are the Celery
    time zone's (the site's), as beat reads them."""
    from celery.schedules import crontab
    from celery.schedules import schedule as interval

    if isinstance(schedule, (int, float)):
        schedule = dt.timedelta(seconds=schedule)
    if isinstance(schedule, dt.timedelta):
        return last + schedule <= now
    if isinstance(schedule, crontab):
        start, delta, _now = schedule.remaining_delta(last.astimezone(schedule.tz))
        return start + delta <= now
    if isinstance(schedule, interval):
        return last + schedule.run_every <= now
    return bool(schedule.is_due(last).is_due)
