from django.core.management.base import BaseCommand, CommandError

from certification.exceptions import RuleViolation, SchemeError
from certification.scheme import load_scheme_file, shipped_scheme_files
from certification.services.schemes import scheme_load


class Command(BaseCommand):
    help = "Validate and load scheme files (YAML or JSON). Without arguments, loads every shipped scheme."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="scheme files; default: the shipped schemes")
        parser.add_argument("--check", action="store_true", help="validate only, store nothing")

    def handle(self, *args, paths=(), check=False, **options):
        files = paths or [str(p) for p in shipped_scheme_files()]
        failed = False
        for path in files:
            try:
                spec = load_scheme_file(path)
            except SchemeError as exc:
                failed = True
                self.stderr.write(self.style.ERROR(str(exc)))
                continue
            if check:
                self.stdout.write(f"{path}: valid ({spec.code} v{spec.version})")
                continue
            try:
                result = scheme_load(spec=spec, source=str(path).rsplit("/", 1)[-1])
            except RuleViolation as exc:
                failed = True
                self.stderr.write(self.style.ERROR(f"{path}: {exc}"))
                continue
            state = "loaded" if result.created else "already loaded"
            self.stdout.write(f"{spec.code} v{spec.version}: {state}")
        if failed:
            raise CommandError("some scheme files were not loaded")
