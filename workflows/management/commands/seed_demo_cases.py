from django.core.management.base import BaseCommand

from workflows.demo import demo_cases


class Command(BaseCommand):
    help = ("Create demo cases in progress (after seed_demo), so that each demo login finds work in its inbox. "
            "Idempotent; refused under the production settings.")

    def handle(self, *args, **options):
        created = demo_cases()
        self.stdout.write("\n".join(f"created case {c}" for c in created) or "demo cases already there")
