"""Real Celery worker processes and a private Redis for the tests that need another process: a worker that can
be killed, a Redis that can be restarted, a prefork pool that draws PDFs on every CPU. The outcome is always
read from the database."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parents[1]


def wait_until(condition, *, seconds: float, what: str, every: float = 0.1):
    """Poll ``condition`` until it holds, at most ``seconds`` (waiting for another process, no time rule)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        threading.Event().wait(every)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, without persistence: a restart loses whatever it held."""

    def __init__(self, directory: Path):
        self.port, self.directory, self.process = free_port(), directory, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        server = shutil.which("redis-server")
        if server is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, no outside input
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        wait_until(lambda: self._ping(client), seconds=10, what="redis-server")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    @staticmethod
    def _ping(client):
        try:
            return client.ping()
        except redis.ConnectionError:
            return False


class Workers:
    """Celery worker processes (``tests.worker_process``) on a broker and the test database, storing documents
    in the test's MEDIA_ROOT. ``pool`` and ``concurrency`` are Celery's own options."""

    def __init__(self, broker_url: str, directory: Path, *, pool: str = "solo", concurrency: int = 1, **env):
        db = connections["default"].settings_dict
        database_url = (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
                        f"{db['PORT'] or 5432}/{db['NAME']}")
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url,
                    "REDIS_URL": broker_url, "TEST_WORKER_MEDIA_ROOT": str(settings.MEDIA_ROOT), **env}
        self.directory, self.processes = directory, []
        self.pool, self.concurrency = pool, concurrency

    def start(self) -> subprocess.Popen:
        with (self.directory / f"worker-{len(self.processes)}.log").open("w") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed arguments, no outside input
                [sys.executable, "-m", "tests.worker_process", "worker", f"--pool={self.pool}",
                 f"--concurrency={self.concurrency}", "-Q", "celery,documents,mail,sweeps", "--loglevel=WARNING", "--without-mingle",
                 "--without-gossip", "--without-heartbeat", "-n", f"test{len(self.processes)}@%h"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.directory.glob("worker-*.log")))


def client(broker_url: str) -> Celery:
    """A Celery client of the test's own on a private broker (the suite's app points at the suite's Redis)."""
    return Celery("test-client", broker=broker_url, backend=broker_url,
                  config_source={"task_serializer": "json", "accept_content": ["json"]})
