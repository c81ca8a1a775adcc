"""Services on certificates that the calendar drives."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .. import rules
from ..enums import CertificateStatus
from ..models import Certificate, SchemeVersion


def lapse_reason() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("The grade lapsed automatically: no recheck was declared by the expiry date.")


@transaction.atomic
def certificates_lapse_due(*, now: dt.datetime | None = None) -> int:
    """Lapse every certificate in force whose validity ended before today (local to its scheme).

    A certificate lapses at the start of the day after its expiry date unless its holder declared a recheck
    in time (status "recheck in progress"). Set-based and idempotent: running it twice lapses nothing twice.
    Returns how many certificates lapsed.
    """
    now = now or timezone.now()
    lapsed = 0
    versions = SchemeVersion.objects.filter(
        certificates__status=CertificateStatus.IN_FORCE
    ).distinct()
    for version in versions:
        today = rules.local_date(now, scheme=version.specification())
        lapsed += Certificate.objects.filter(
            scheme_version=version,
            status=CertificateStatus.IN_FORCE,
            valid_until__lt=today,
        ).update(
            status=CertificateStatus.LAPSED,
            status_changed_at=now,
            status_reason=lapse_reason(),
            updated_at=now,
        )
    return lapsed
