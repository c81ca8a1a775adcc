"""Keep the calendar without a broker: run Celery beat's schedule (the due timers, the deadline sweeps, the
daily reminders and lapses, the e-mail outbox) from a loop, each entry on its own schedule.

For the embedded first run where Redis cannot be had; a real deployment runs Celery beat instead. What runs
is ``CELERY_BEAT_SCHEDULE`` itself (see :mod:`certification.beat_fallback`).
"""

import time

from django.core.management.base import BaseCommand

from certification.beat_fallback import BeatLoop


class Command(BaseCommand):
    help = ("Run Celery beat's schedule in this process every INTERVAL seconds: due timers, deadline sweeps, daily "
            "reminders and lapses (fallback when Celery beat cannot run).")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=60)
        parser.add_argument("--once", action="store_true", help="run one round and stop")

    def handle(self, *args, interval=60, once=False, **options):
        loop = BeatLoop()
        while True:
            results = loop.run_round()
            self.stdout.write("; ".join(f"{name}: {result}" for name, result in results.items()) or "nothing due")
            if once:
                return
            time.sleep(interval)
