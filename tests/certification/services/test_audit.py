import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from certification.models import AuditEntry, AuditLogIsAppendOnly, HardDeleteRefused
from certification.services.audit import audit_record, audit_verify
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_entries(regions):
    actor = UserFactory()
    institution = InstitutionFactory(region=regions["province"])
    with transaction.atomic():
        for n in range(3):
            audit_record(actor=actor, action="institution.change", target=institution,
                         before={"n": n}, after={"n": n + 1}, reason=f"第{n}次")
    return list(AuditEntry.objects.order_by("id"))


def _raw_update(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_entries_chain_each_to_the_previous(three_entries):
    first, second, third = three_entries
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    assert audit_verify().ok
    assert audit_verify().entries == 3


def test_the_verify_command_reports_an_intact_chain(three_entries, capsys):
    call_command("audit_verify")
    assert capsys.readouterr().out.strip() == "audit chain intact: 3 entries"


def test_a_changed_entry_is_found(three_entries):
    _raw_update("UPDATE certification_auditentry SET reason = %s WHERE id = %s", ["篡改", three_entries[1].pk])
    report = audit_verify()
    assert (report.ok, report.broken_at, report.problem) == (False, three_entries[1].pk, "its content was changed")
    with pytest.raises(CommandError, match=f"entry #{three_entries[1].pk}"):
        call_command("audit_verify")


def test_a_removed_entry_is_found(three_entries):
    _raw_update("DELETE FROM certification_auditentry WHERE id = %s", [three_entries[1].pk])
    report = audit_verify()
    assert (report.broken_at, report.problem) == (three_entries[2].pk, "the entry before it was changed or removed")


def test_a_removed_last_entry_is_found(three_entries):
    _raw_update("DELETE FROM certification_auditentry WHERE id = %s", [three_entries[2].pk])
    assert audit_verify().problem == "entries at the end of the log were removed"


def test_entries_cannot_be_changed_or_deleted_through_the_orm(three_entries):
    entry = three_entries[0]
    entry.reason = "changed"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(HardDeleteRefused):
        AuditEntry.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_an_entry_outside_a_transaction_is_refused(regions):
    institution = InstitutionFactory(region=regions["province"])
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=None, action="institution.change", target=institution)
    assert AuditEntry.objects.count() == 0


def test_a_rolled_back_change_leaves_no_entry(regions):
    institution = InstitutionFactory(region=regions["province"])
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit_record(actor=None, action="institution.change", target=institution)
        1 / 0  # noqa: B018
    assert AuditEntry.objects.count() == 0
    assert audit_verify().ok


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_chain(regions):
    institution = InstitutionFactory(region=regions["province"])
    errors = []

    def append(n: int) -> None:
        try:
            for i in range(5):
                with transaction.atomic():
                    audit_record(actor=None, action="concurrent", target=institution, after={"t": n, "i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = audit_verify()
    assert (report.ok, report.entries) == (True, 20)
