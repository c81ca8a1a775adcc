"""Backup and restore: the database and the uploaded and issued files, together, in one archive (等保 2.0,
数据备份恢复).

A backup is one ``.tar`` file holding ``database.dump`` (``pg_dump`` custom format on PostgreSQL, an online copy
of the database file on SQLite), every file under ``MEDIA_ROOT`` in ``media/``, and ``MANIFEST.json`` naming
each member with its SHA-256, the database engine and the moment it was made. Both halves are read while the
site may be running: the database is dumped first (one consistent snapshot), the files after, so every file the
snapshot names is there (files are written before the rows naming them commit, and never deleted).

A restore checks every member against the manifest before it touches anything, and restores only into an
empty database and an empty ``MEDIA_ROOT``: it never overwrites a live system. After restoring it verifies
the audit chain and every stored document's SHA-256 (:func:`stored_files_verify`), the drill an operator runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from .audit import audit_record, audit_verify

FORMAT = "graded-certification-backup/1"


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why, and nothing was changed."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _media_root() -> Path:
    storage = settings.STORAGES["default"]["BACKEND"]
    if storage != "django.core.files.storage.FileSystemStorage":
        raise BackupError(f"the files are on {storage}, not on this host's disk: back the bucket up with its own "
                          "versioning or replication, and this database with pg_dump")
    return Path(settings.MEDIA_ROOT)


def _pg_env(db: dict) -> tuple[dict, list[str]]:
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    args = ["-h", str(db.get("HOST") or "127.0.0.1"), "-p", str(db.get("PORT") or 5432),
            "-U", str(db.get("USER") or ""), "-d", str(db["NAME"])]
    return env, args


def _dump_database() -> tuple[str, bytes]:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env, args = _pg_env(db)
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise BackupError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
        result = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", *args],  # noqa: S603
                                env=env, capture_output=True, check=False)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.decode(errors='replace').strip()}")
        return "postgresql", result.stdout
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with tempfile.TemporaryDirectory() as folder:
            copy = sqlite3.connect(Path(folder) / "copy.sqlite3")
            connection.connection.backup(copy)  # SQLite's online backup: a consistent copy while in use
            copy.close()
            return "sqlite", (Path(folder) / "copy.sqlite3").read_bytes()
    raise BackupError(f"no backup for the {connection.vendor} database")


def backup_write(*, target: Path) -> dict:
    """Write a backup of the database and the files to ``target`` (a new ``.tar``); return its manifest. The
    backup is recorded in the audit log with its SHA-256."""
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists already: a backup never overwrites a file")
    media = _media_root()
    engine, dump = _dump_database()
    members: dict[str, str] = {"database.dump": _sha256(dump)}
    with tarfile.open(target, "w") as archive:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(timezone.now().timestamp())
            archive.addfile(info, io.BytesIO(data))

        add("database.dump", dump)
        for path in sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else ():
            data = path.read_bytes()
            name = "media/" + path.relative_to(media).as_posix()
            members[name] = _sha256(data)
            add(name, data)
        manifest = {"format": FORMAT, "engine": engine, "made_at": timezone.now().isoformat(),
                    "members": members}
        add("MANIFEST.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    _record("system.backup", {"file": target.name, "sha256": _sha256(target.read_bytes()), "engine": engine,
                               "files": len(members) - 1})
    return manifest


def _record(action: str, after: dict) -> None:
    """A backup or restore is an act on the whole system: its entry's target is the audit log's head."""
    from ..models import AuditHead

    with transaction.atomic():
        head, _created = AuditHead.objects.get_or_create(id=1)
        audit_record(actor=None, action=action, target=head, after=after)


def _read_checked(source: Path) -> tuple[dict, dict[str, bytes]]:
    try:
        with tarfile.open(source, "r") as archive:
            contents = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{source} is not a readable backup: {exc}") from None
    try:
        manifest = json.loads(contents.pop("MANIFEST.json"))
    except (KeyError, ValueError):
        raise BackupError(f"{source} has no manifest: it is not a backup of this system") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of another format ({manifest.get('format')!r})")
    expected = manifest["members"]
    if set(contents) != set(expected):
        raise BackupError(f"{source} does not hold what its manifest lists: "
                          f"{sorted(set(contents) ^ set(expected))}")
    for name, data in contents.items():
        if name.startswith("/") or ".." in Path(name).parts:
            raise BackupError(f"{source} names a file outside the backup: {name}")
        if _sha256(data) != expected[name]:
            raise BackupError(f"{name} in {source} does not match its SHA-256: the backup is damaged")
    return manifest, contents


def _database_is_empty() -> bool:
    return not connection.introspection.table_names()


def _restore_database(engine: str, dump: bytes) -> None:
    db = connection.settings_dict
    if engine != connection.vendor:
        raise BackupError(f"this backup holds a {engine} database; the configured database is {connection.vendor}")
    if engine == "postgresql":
        env, args = _pg_env(db)
        pg_restore = shutil.which("pg_restore")
        if pg_restore is None:
            raise BackupError("pg_restore is not installed (Debian: apt-get install postgresql-client)")
        connections.close_all()
        result = subprocess.run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",  # noqa: S603
                                 "--single-transaction", *args], input=dump, env=env, capture_output=True,
                                check=False)
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.decode(errors='replace').strip()}")
        return
    connection.ensure_connection()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "restore.sqlite3"
        path.write_bytes(dump)
        source = sqlite3.connect(path)
        source.backup(connection.connection)
        source.close()


def backup_restore(*, source: Path) -> dict:
    """Restore a backup into the configured, empty database and empty ``MEDIA_ROOT``; return its manifest.
    Checks everything first; refuses, changing nothing, if the backup is damaged or the target is not empty."""
    source = Path(source)
    manifest, contents = _read_checked(source)
    media = _media_root()
    if not _database_is_empty():
        raise BackupError("the database is not empty: restore into a new, empty database")
    if media.exists() and any(media.iterdir()):
        raise BackupError(f"{media} is not empty: restore into a new, empty folder")
    _restore_database(manifest["engine"], contents.pop("database.dump"))
    for name, data in contents.items():
        path = media / name.removeprefix("media/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    _record("system.restore", {"file": source.name, "made_at": manifest["made_at"], "files": len(contents)})
    return manifest


@dataclass(frozen=True)
class FilesReport:
    checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def stored_files_verify() -> FilesReport:
    """Every issued document's and sent summary's stored PDF is there and matches the SHA-256 recorded when it
    was stored."""
    from ..models import IssuedDocument, SummarySubmission

    checked, problems = 0, []
    rows = [*IssuedDocument.objects.exclude(file="").only("id", "file", "sha256"),
            *SummarySubmission.objects.exclude(file="").only("id", "file", "sha256")]
    for row in rows:
        checked += 1
        label = f"{row._meta.model_name} #{row.pk} ({row.file.name})"
        try:
            with row.file.open("rb") as handle:
                digest = _sha256(handle.read())
        except OSError:
            problems.append(f"{label}: missing")
            continue
        if digest != row.sha256:
            problems.append(f"{label}: SHA-256 does not match")
    return FilesReport(checked, tuple(problems))


def restore_drill_report() -> tuple[bool, str]:
    """The checks after a restore: the audit chain and every stored file."""
    chain, files = audit_verify(), stored_files_verify()
    lines = [f"audit chain: {'intact' if chain.ok else 'BROKEN: ' + chain.problem} ({chain.entries} entries)",
             f"stored documents: {files.checked} checked, {len(files.problems)} problem(s)", *files.problems]
    return chain.ok and files.ok, "\n".join(lines)


def default_backup_name(now: dt.datetime | None = None) -> str:
    now = timezone.localtime(now or timezone.now())
    return f"backup-{now:%Y%m%d-%H%M%S}.tar"
