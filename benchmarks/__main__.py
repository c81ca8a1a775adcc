"""``python -m benchmarks NAME``: run one benchmark and print its JSON object."""

import importlib
import json
import os
import sys

AVAILABLE = ("scoring", "certificate_pdf", "sweeps", "pages", "writes", "import_register")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in AVAILABLE:
        print(f"usage: python -m benchmarks {{{'|'.join(AVAILABLE)}}}", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    module = importlib.import_module(f"benchmarks.{argv[0]}")
    print(json.dumps(module.run(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
