"""Import institutions, experts, experts' past employments or the paper register of certificates from an .xlsx
sheet, as a named bureau staff member (for certificates, a certificate officer) does on the web page."""

import zipfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from certification.exceptions import RuleViolation
from certification.models import Bureau, User
from certification.services.spreadsheets import KINDS, import_dispatch, scans_from_zip


class Command(BaseCommand):
    help = ("Import institutions, experts, experts' past employments or certificates already held from an .xlsx "
            "file (the columns of the downloadable template).")

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file", type=Path)
        parser.add_argument("--bureau", required=True, help="the bureau's region division code")
        parser.add_argument("--user", required=True, help="the username of a staff member of the bureau")
        parser.add_argument("--good-rows-only", action="store_true",
                            help="import the good rows and report the bad ones (default: all or nothing)")
        parser.add_argument("--dry-run", action="store_true",
                            help="check every row and print the report; store nothing")
        parser.add_argument("--accept-expiry", default="", metavar="REASON",
                            help="certificates: accept expiry dates off the scheme's rule, for this reason")
        parser.add_argument("--scans", type=Path, help="certificates: a .zip of the scans the sheet names")
        parser.add_argument("--language", default="zh-hans", choices=["zh-hans", "en"])

    def handle(self, *args, kind, file, bureau, user, good_rows_only, language, dry_run, accept_expiry, scans,
               **options):
        translation.activate(language)
        actor = User.objects.filter(username=user, is_active=True).first()
        if actor is None:
            raise CommandError(f"no active user {user!r}")
        target = Bureau.objects.filter(region__code=bureau).first()
        if target is None:
            raise CommandError(f"no bureau over the region {bureau!r}")
        if not file.is_file():
            raise CommandError(f"no file {file}")
        try:
            archive = scans_from_zip(scans.open("rb")) if scans else {}
            with file.open("rb") as content:
                report = import_dispatch(kind)(actor=actor, bureau=target, content=content,
                                               good_rows_only=good_rows_only, source=file.name, dry_run=dry_run,
                                               expiry_reason=accept_expiry, scans=archive)
        except (RuleViolation, zipfile.BadZipFile) as violation:
            raise CommandError(str(violation)) from None
        for error in report.errors:
            self.stderr.write(f"{error.row}\t{error.column}\t{error.header}\t{error.message}")
        for note in report.notes:
            self.stdout.write(f"{note.row}\t{note.column}\t{note.header}\t{note.message}")
        self.stdout.write(f"{report.rows}\t{report.imported}"
                          + (f"\tdry-run\t{report.ready}" if report.dry_run else "")
                          + (f"\tbatch\t{report.batch}" if report.batch else ""))
        if report.errors and not report.imported and not dry_run:
            raise CommandError(f"{len(report.bad_rows)} bad row(s); nothing imported")
