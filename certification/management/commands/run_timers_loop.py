"""Keep the calendar without a broker: fire due timers and the daily sweeps from a loop.

For the embedded first run where Redis cannot be had; a real deployment runs Celery beat instead.
"""

import time

from django.core.management.base import BaseCommand

from certification.tasks import (
    close_due_notices,
    fire_due_timers,
    lapse_expired_certificates,
    withdraw_missed_rectifications,
)


class Command(BaseCommand):
    help = "Fire due timers and the sweeps every INTERVAL seconds (fallback when Celery beat cannot run)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=60)
        parser.add_argument("--once", action="store_true", help="run one round and stop")

    def handle(self, *args, interval=60, once=False, **options):
        while True:
            fired = fire_due_timers()
            closed = close_due_notices()
            withdrawn = withdraw_missed_rectifications()
            lapsed = lapse_expired_certificates()
            self.stdout.write(f"timers fired: {fired}; notices closed: {closed}; cases withdrawn: {withdrawn}; "
                              f"certificates lapsed: {lapsed}")
            if once:
                return
            time.sleep(interval)
