"""The backup and restore drill, as an operator runs it: ``manage.py backup`` on the live system, ``manage.py
restore`` on a new, empty database and folder (real PostgreSQL, real pg_dump and pg_restore), and then the
audit chain verifies and every stored document's SHA-256 matches. A damaged backup or a target that is not
empty is refused and nothing changes."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from certification.models import AuditEntry, IssuedDocument
from certification.services.backups import BackupError, backup_restore, backup_write, stored_files_verify
from certification.services.cases import case_issue_certificate
from certification.tasks import document_draw
from tests.worlds import at, run_case

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.usefixtures("media")]


@pytest.fixture
def certified(world):
    case = run_case(world)
    _institution, people, _experts = world
    with at(2026, 3, 25, 10, 0):
        case_issue_certificate(actor=people["officer"], case=case)
    for document in IssuedDocument.objects.filter(case=case):
        document_draw(document_id=document.pk)
    return case


@pytest.fixture
def empty_database():
    """A new, empty PostgreSQL database beside the test's, dropped afterwards; its URL."""
    db = connection.settings_dict
    name = f"{db['NAME']}_restored"
    admin = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                 password=db["PASSWORD"], dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{db['USER']}:{db['PASSWORD']}@{admin['host']}:{admin['port']}/{name}"
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*args, database_url: str, media: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": database_url,
           "DJANGO_MEDIA_ROOT": str(media), "DJANGO_DEBUG": "false"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_on_an_empty_database_and_everything_verifies(certified, tmp_path, empty_database):
    documents = {d.pk: d.sha256 for d in IssuedDocument.objects.exclude(file="")}
    entries = AuditEntry.objects.count()
    backup = tmp_path / "backup.tar"
    call_command("backup", output=str(backup))
    with tarfile.open(backup) as archive:
        manifest = json.loads(archive.extractfile("MANIFEST.json").read())
    assert manifest["engine"] == "postgresql"
    assert len([m for m in manifest["members"] if m.startswith("media/documents/")]) >= len(documents) == 7

    restored_media = tmp_path / "restored-media"
    result = manage("restore", str(backup), database_url=empty_database, media=restored_media)

    assert result.returncode == 0, result.stderr
    # the backup's own entry is written after the snapshot: the restored log has the restore's entry instead
    assert f"audit chain: intact ({entries + 1} entries)" in result.stdout
    assert f"stored documents: {len(documents)} checked, 0 problem(s)" in result.stdout
    again = manage("files_verify", database_url=empty_database, media=restored_media)
    assert (again.returncode, again.stdout.strip()) == (0, f"stored documents intact: {len(documents)} files")
    chain = manage("audit_verify", database_url=empty_database, media=restored_media)
    assert (chain.returncode, chain.stdout.strip()) == (0, f"audit chain intact: {entries + 1} entries")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_damaged_backup_is_refused_and_nothing_is_restored(certified, tmp_path, empty_database):
    backup = tmp_path / "backup.tar"
    backup_write(target=backup)
    damaged = tmp_path / "damaged.tar"
    damaged_name = None
    with tarfile.open(backup) as source, tarfile.open(damaged, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if damaged_name is None and member.name.startswith("media/documents/"):
                data = data[:-1] + b"X"  # one byte of one stored document changed
                damaged_name = member.name
            target.addfile(member, io.BytesIO(data))

    result = manage("restore", str(damaged), database_url=empty_database, media=tmp_path / "restored")

    assert result.returncode == 1
    assert result.stderr.strip() == (f"CommandError: {damaged_name} in {damaged} does not match its SHA-256: "
                                     "the backup is damaged")
    assert not (tmp_path / "restored").exists()
    tables = manage("inspectdb", database_url=empty_database, media=tmp_path / "restored")
    assert "class " not in tables.stdout  # the database is still empty


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_restore_never_overwrites_a_live_system(certified, tmp_path):
    backup = tmp_path / "backup.tar"
    backup_write(target=backup)
    entries = AuditEntry.objects.count()

    with pytest.raises(BackupError) as refused:
        backup_restore(source=backup)

    assert str(refused.value) == "the database is not empty: restore into a new, empty database"
    assert AuditEntry.objects.count() == entries


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_changed_stored_document_is_found(certified):
    document = IssuedDocument.objects.exclude(file="").order_by("id").first()
    path = Path(document.file.path)
    path.write_bytes(path.read_bytes() + b"\n")

    report = stored_files_verify()

    assert report.problems == (f"issueddocument #{document.pk} ({document.file.name}): SHA-256 does not match",)


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_the_embedded_sqlite_database_backs_up_and_restores_too(world, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite smoke run covers the embedded database's backup")
    run_case(world)
    entries = AuditEntry.objects.count()
    backup = tmp_path / "backup.tar"
    backup_write(target=backup)

    result = manage("restore", str(backup), database_url=f"sqlite:///{tmp_path / 'restored.sqlite3'}",
                    media=tmp_path / "restored-media")

    assert result.returncode == 0, result.stderr
    assert f"audit chain: intact ({entries + 1} entries)" in result.stdout
