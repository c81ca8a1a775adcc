from django.core.management.base import BaseCommand, CommandError

from certification.services.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exits 1 and names the first entry that does not fit."

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            where = f"entry #{report.broken_at}" if report.broken_at else "the end of the log"
            raise CommandError(f"audit chain broken at {where}: {report.problem} "
                               f"({report.entries} entries verified before it)")
        self.stdout.write(f"audit chain intact: {report.entries} entries")
