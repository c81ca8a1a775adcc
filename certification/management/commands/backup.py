from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from certification.services.backups import BackupError, backup_write, default_backup_name


class Command(BaseCommand):
    help = ("Back up the database and the uploaded and issued files together, into one .tar file with a "
            "manifest of SHA-256 sums (restore it with manage.py restore).")

    def add_arguments(self, parser):
        parser.add_argument("--output", help="the backup file to write (default: backup-<date>-<time>.tar here)")

    def handle(self, *args, **options):
        target = Path(options["output"] or default_backup_name())
        try:
            manifest = backup_write(target=target)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"backup written: {target} ({manifest['engine']} database, "
                          f"{len(manifest['members']) - 1} files)")
