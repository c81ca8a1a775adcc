from django.core.management.base import BaseCommand, CommandError

from certification.services.backups import stored_files_verify


class Command(BaseCommand):
    help = "Check that every issued document's and sent summary's PDF is stored and matches its SHA-256."

    def handle(self, *args, **options):
        report = stored_files_verify()
        for problem in report.problems:
            self.stderr.write(problem)
        if not report.ok:
            raise CommandError(f"{len(report.problems)} of {report.checked} stored files do not verify")
        self.stdout.write(f"stored documents intact: {report.checked} files")
