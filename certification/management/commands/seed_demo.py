import unicodedata

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from certification.services.demo import demo_logins, demo_second_factors, demo_seed, refuse_in_production


def _width(text: str) -> int:
    """Columns a string takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(_width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, tuple("-" * w for w in widths), *rows]
    return "\n".join("  ".join(_pad(c, w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


class Command(BaseCommand):
    help = (
        "Create demo data (a Hubei-like province: bureaus, institutions, experts, certificates and one login "
        "per role) and print the logins. Idempotent; refused under the production settings."
    )

    def add_arguments(self, parser):
        parser.add_argument("--print-logins-only", action="store_true",
                            help="print the logins of existing demo data; create nothing")
        parser.add_argument("--second-factor", action="store_true",
                            help="print the authenticator secret and current code of each demo login that signs "
                                 "in with a second factor; create nothing")

    def handle(self, *args, print_logins_only=False, second_factor=False, **options):
        if second_factor:
            rows = demo_second_factors()
            if not rows:
                raise CommandError("No demo data found: run `manage.py seed_demo` first.", returncode=1)
            self.stdout.write(format_table(("username", "authenticator secret", "code now"), rows))
            return
        if print_logins_only:
            logins = demo_logins()
            if logins is None:
                raise CommandError("No demo data found: run `manage.py seed_demo` first.", returncode=1)
            self.stdout.write(self._logins_table(logins))
            return
        try:
            refuse_in_production()  # before any connection is opened
        except RuntimeError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        with transaction.atomic():
            summary = demo_seed()
        state = "Demo data created." if summary.created else "Demo data already present: nothing new created."
        self.stdout.write(state)
        self.stdout.write("")
        self.stdout.write(format_table(("rows", "count"),
                                       [(name, str(n)) for name, n in summary.counts.items()]))
        self.stdout.write("")
        self.stdout.write(self._logins_table(summary.logins))

    @staticmethod
    def _logins_table(logins) -> str:
        return format_table(("role", "username", "password", "acts for"), [tuple(row) for row in logins])
