from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from certification.services.backups import BackupError, backup_restore, restore_drill_report


class Command(BaseCommand):
    help = ("Restore a backup made by manage.py backup into the configured database and MEDIA_ROOT, both "
            "empty; then verify the audit chain and every stored document's SHA-256 (exits 1 if one fails).")

    def add_arguments(self, parser):
        parser.add_argument("backup", help="the .tar file written by manage.py backup")

    def handle(self, *args, **options):
        try:
            manifest = backup_restore(source=Path(options["backup"]))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored the backup of {manifest['made_at']}")
        ok, report = restore_drill_report()
        self.stdout.write(report)
        if not ok:
            raise CommandError("the restored system does not verify")
