"""Every task of the project has a queue by kind, every queue is declared (a worker without -Q consumes them
all), and the scripts' workers consume every queue."""

import re
from pathlib import Path

from django.conf import settings

from config.celery_app import app
from config.db_router import ReplicaRouter, read_replica

ROOT = Path(__file__).resolve().parents[2]
QUEUES = {"celery", "documents", "mail", "sweeps"}


def _project_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.startswith(("certification.", "notifications."))}


def test_every_task_is_routed_to_a_declared_queue():
    declared = {q.name for q in settings.CELERY_TASK_QUEUES}
    assert declared == QUEUES
    routes = settings.CELERY_TASK_ROUTES
    assert set(routes) == _project_tasks()
    assert {r["queue"] for r in routes.values()} <= declared
    assert routes["certification.issue_batch_item"]["queue"] == "documents"
    assert routes["notifications.send_pending_email"]["queue"] == "mail"
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {routes[name]["queue"] for name in beat - {"notifications.send_pending_email"}} == {"sweeps"}


def test_a_message_goes_to_its_one_queue():
    """Each queue has its own routing key: with a shared key, every queue bound to it would get a copy."""
    queues = list(app.amqp.queues.values())
    assert len({q.routing_key for q in queues}) == len(queues)
    for name, route in settings.CELERY_TASK_ROUTES.items():
        routed = app.amqp.router.route({}, name)["queue"]
        assert (routed.name, routed.routing_key) == (route["queue"], route["queue"])


def test_the_scripts_workers_consume_every_queue():
    for path in ("scripts/run.sh", "tests/processes.py", "benchmarks/load/run.sh"):
        found = re.findall(r"-Q\"?,? \"?([a-z,]+)", (ROOT / path).read_text())
        assert found and all(set(q.split(",")) == QUEUES for q in found), (path, found)


def test_without_a_replica_everything_reads_and_writes_the_primary():
    assert "replica" not in settings.DATABASES
    assert read_replica() == "default"
    router = ReplicaRouter()
    assert router.db_for_read(None) is None and router.db_for_write(None) == "default"
    assert router.allow_migrate("default", "certification") and not router.allow_migrate("replica", "certification")
