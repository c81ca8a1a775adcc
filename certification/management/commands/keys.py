"""``manage.py keys create|rotate|list|export``: the bureaus' signing keys (README, "Signed certificates and
credentials"). Every create and rotation is audited (by ``--user``, else as the system)."""

import json

from django.core.management.base import BaseCommand, CommandError

from certification.models import Bureau, User
from certification.services import signing


class Command(BaseCommand):
    help = "Create, rotate, list or export the bureaus' signing keys."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "rotate", "list", "export"])
        parser.add_argument("--bureau", action="append", default=[],
                            help="a bureau's division code (repeatable); create and rotate: required unless --all")
        parser.add_argument("--all", action="store_true", help="every bureau")
        parser.add_argument("--user", help="the username recorded in the audit log as having done it")
        parser.add_argument("--reason", default="", help="why the key is rotated (audited)")

    def _bureaus(self, codes, every):
        if every:
            return list(Bureau.objects.select_related("region").order_by("region__code"))
        bureaus = []
        for code in codes:
            bureau = signing.bureau_by_code(code)
            if bureau is None:
                raise CommandError(f"no bureau with the division code {code!r}")
            bureaus.append(bureau)
        return bureaus

    def handle(self, *args, action, bureau, all, user, reason, **options):  # noqa: A002 - the option's name
        actor = None
        if user:
            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {user!r}")
        bureaus = self._bureaus(bureau, all)
        if action in ("create", "rotate") and not bureaus:
            raise CommandError("name the bureaus: --bureau CODE (repeatable) or --all")
        if action == "create":
            for one in bureaus:
                key = signing.signing_key_create(actor=actor, bureau=one)
                self.stdout.write(f"{one.region.code} {one.name}: {key.kid}")
        elif action == "rotate":
            for one in bureaus:
                key = signing.signing_key_rotate(actor=actor, bureau=one, reason=reason)
                self.stdout.write(f"{one.region.code} {one.name}: now signs with {key.kid}")
        elif action == "list":
            keys = signing.signing_keys_list()
            if bureaus:
                keys = keys.filter(bureau__in=bureaus)
            for key in keys:
                state = f"retired {key.retired_at:%Y-%m-%d %H:%M}" if key.retired_at else "current"
                self.stdout.write(f"{key.bureau.region.code}\t{key.kid}\t{key.valid_from:%Y-%m-%d %H:%M}\t{state}\t"
                                  f"{key.fingerprint[:16]}\t{key.bureau.name}")
        else:
            keys = signing.signing_keys_list()
            if bureaus:
                keys = keys.filter(bureau__in=bureaus)
            self.stdout.write(json.dumps({"keys": [signing.signing_key_export(k) for k in keys]},
                                         ensure_ascii=False, indent=2))
