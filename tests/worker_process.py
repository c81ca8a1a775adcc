"""A real Celery worker run as its own process (``python -m tests.worker_process worker ...``, started by
``tests.processes.Workers``): a test can SIGKILL it, or run a prefork pool on every CPU. Driven by the
environment:

- ``TEST_WORKER_MEDIA_ROOT``: where documents are stored (the test's directory);
- ``FAULTS_RENDER_MARKER``: the first worker to draw a PDF creates this file and then blocks there until it is
  killed; once the file exists, PDFs are drawn as usual (the worker started after the kill);
- ``FAULTS_VISIBILITY_TIMEOUT``: the Redis visibility timeout, short, so that an unacknowledged message of a
  killed worker is redelivered within seconds (production keeps an hour, above the task time limit);
- the task ``tests.faults.hold`` creates ``<dir>/holding`` and waits until ``<dir>/release`` exists, so that
  a test can keep the worker busy while work queues up.
"""

import os
import sys
import threading
import time
from pathlib import Path

import django

django.setup()

from django.conf import settings  # noqa: E402

from certification import documents  # noqa: E402
from config.celery_app import app  # noqa: E402

if os.environ.get("TEST_WORKER_MEDIA_ROOT"):
    settings.MEDIA_ROOT = os.environ["TEST_WORKER_MEDIA_ROOT"]

_html_to_pdf = documents.html_to_pdf


def html_to_pdf(html: str, *args, **kwargs) -> bytes:
    marker = os.environ.get("FAULTS_RENDER_MARKER")
    if marker and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        threading.Event().wait(120)  # drawing "forever": the test kills this process here
    return _html_to_pdf(html, *args, **kwargs)


documents.html_to_pdf = html_to_pdf

if os.environ.get("FAULTS_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "visibility_timeout": float(os.environ["FAULTS_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


@app.task(name="tests.faults.hold")
def hold(*, directory: str) -> str:
    Path(directory, "holding").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not Path(directory, "release").exists() and time.monotonic() < deadline:
        threading.Event().wait(0.05)
    return "released"


if __name__ == "__main__":
    app.worker_main(argv=sys.argv[1:])
