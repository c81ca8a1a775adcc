"""Against a real Celery worker on Redis: reminders exactly once, e-mail only after commit, and faults."""

import datetime as dt
import socket
import threading
from unittest import mock

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import connections, transaction
from django.utils import timezone

from certification.services.certificates import certificates_lapse_due
from config.celery_app import app
from notifications.kinds import Kind
from notifications.models import EmailState, Notification, Occurrence
from notifications.sweeps import recheck_reminders_send
from notifications.tasks import send_pending_email, send_recheck_reminders

pytestmark = [pytest.mark.worker, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        yield


@pytest.fixture
def due_certificate(holder, make_certificate):
    """A certificate whose 90-day recheck reminder is due today."""
    institution, user = holder
    return make_certificate(institution, timezone.localdate() + dt.timedelta(days=90)), user


def test_a_sweep_run_twice_by_a_real_worker_reminds_and_mails_once(worker, due_certificate):
    certificate, user = due_certificate

    first = send_recheck_reminders.delay().get(timeout=30)
    second = send_recheck_reminders.delay().get(timeout=30)
    send_pending_email.delay().get(timeout=30)

    assert (first, second) == (1, 0)
    assert Notification.objects.filter(recipient=user, kind=Kind.RECHECK_REMINDER).count() == 1
    assert Notification.objects.get(recipient=user).email_state == EmailState.SENT
    assert [m.to for m in mail.outbox] == [["holder@example.org"]]


def test_two_sweeps_at_once_record_and_notify_once(due_certificate):
    certificate, user = due_certificate
    barrier, results = threading.Barrier(2), []

    def sweep():
        try:
            barrier.wait(timeout=10)
            results.append(recheck_reminders_send())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [0, 1]
    assert Occurrence.objects.filter(kind=Kind.RECHECK_REMINDER).count() == 1
    assert Notification.objects.filter(recipient=user).count() == 1


def test_a_rolled_back_lapse_writes_and_sends_nothing(holder, make_certificate):
    institution, _user = holder
    make_certificate(institution, timezone.localdate() - dt.timedelta(days=2))

    with mock.patch.object(send_pending_email, "delay") as enqueue:
        with pytest.raises(RuntimeError), transaction.atomic():
            assert certificates_lapse_due() == 1
            assert Notification.objects.count() == 1  # written inside the transaction...
            raise RuntimeError("the change fails after the lapse")
        rolled_back = enqueue.call_count
        certificates_lapse_due()
        committed = enqueue.call_count

    assert rolled_back == 0  # ...and nothing was enqueued for what did not happen
    assert committed == 1
    assert Notification.objects.filter(kind=Kind.CERTIFICATE_LAPSED).count() == 1


def test_a_committed_change_is_mailed_by_the_worker_after_commit(worker, holder, make_certificate):
    institution, _user = holder
    make_certificate(institution, timezone.localdate() - dt.timedelta(days=2))

    certificates_lapse_due()  # its on_commit enqueues the e-mail; the worker sends it

    notification = Notification.objects.get(kind=Kind.CERTIFICATE_LAPSED)
    for _ in range(300):
        notification.refresh_from_db()
        if notification.email_state == EmailState.SENT:
            break
        threading.Event().wait(0.1)
    assert notification.email_state == EmailState.SENT
    assert len(mail.outbox) == 1


@app.task(name="tests.notifications.always_fails")
def always_fails():
    raise ValueError("this task always fails")


@pytest.mark.faults
def test_a_task_that_always_fails_does_not_block_the_queue_and_is_reported(worker, due_certificate, caplog):
    failing = always_fails.delay()
    sweep = send_recheck_reminders.delay()

    assert sweep.get(timeout=30) == 1
    with pytest.raises(ValueError, match="always fails"):
        failing.get(timeout=30)
    assert failing.state == "FAILURE"
    assert any("always fails" in record.getMessage() or (record.exc_text or "").find("always fails") >= 0
               for record in caplog.records if record.levelname == "ERROR")


class Proxy:
    """A TCP proxy to PostgreSQL that the test can cut (new connections are closed at once) and restore."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.cut = threading.Event()
        self.refused = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            if self.cut.is_set():
                self.refused += 1
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.stopped = True
        self.server.close()


@pytest.mark.faults
def test_the_database_unreachable_for_a_moment_the_task_retries_with_backoff_and_succeeds(worker, due_certificate):
    certificate, user = due_certificate
    settings_dict = connections["default"].settings_dict
    proxy = Proxy(int(settings_dict.get("PORT") or 5432))
    original = settings_dict["PORT"]
    settings_dict["PORT"] = str(proxy.port)  # new connections (the worker's) go through the proxy
    try:
        proxy.cut.set()
        result = send_recheck_reminders.delay()
        for _ in range(300):  # until the worker has failed to connect at least once
            if proxy.refused:
                break
            threading.Event().wait(0.1)
        proxy.cut.clear()
        reminded = result.get(timeout=60)
    finally:
        settings_dict["PORT"] = original
        proxy.close()

    assert proxy.refused >= 1
    assert reminded == 1
    assert Notification.objects.filter(recipient=user, kind=Kind.RECHECK_REMINDER).count() == 1
