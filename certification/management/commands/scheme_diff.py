"""``manage.py scheme_diff OLD NEW``: what a new version of a scheme changes, field by field.

OLD and NEW are scheme files, or versions already loaded: ``CODE@NUMBER`` (``archives@1``) or ``CODE`` for the
current one. Rubric items, grades and other entries with a ``code`` are matched by code. Exits 1 when the two
differ (as ``diff`` does), 0 when they are the same, 2 when either cannot be read."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from certification.exceptions import SchemeError
from certification.scheme import SchemeSpec, load_scheme_file, scheme_diff


def read_spec(name: str) -> SchemeSpec:
    if Path(name).is_file():
        return load_scheme_file(name)
    from certification.models import SchemeVersion

    code, _at, number = name.partition("@")
    versions = SchemeVersion.objects.filter(scheme__code=code)
    version = (versions.filter(number=int(number)) if number.isdigit() else versions.filter(is_current=True)).first()
    if version is None:
        raise CommandError(f"{name}: neither a scheme file nor a loaded version (CODE or CODE@NUMBER)",
                           returncode=2)
    return version.specification()


class Command(BaseCommand):
    help = "Show what a new version of a scheme changes (files, or loaded versions as CODE or CODE@NUMBER)."

    def add_arguments(self, parser):
        parser.add_argument("old")
        parser.add_argument("new")

    def handle(self, *args, old, new, **options):
        try:
            before, after = read_spec(old), read_spec(new)
        except SchemeError as exc:
            raise CommandError(str(exc), returncode=2) from None
        changes = scheme_diff(before, after)
        self.stdout.write(f"--- {old} ({before.code} v{before.version})")
        self.stdout.write(f"+++ {new} ({after.code} v{after.version})")
        for change in changes:
            self.stdout.write(str(change))
        self.stdout.write(f"{len(changes)} change(s)")
        if changes:
            raise SystemExit(1)
