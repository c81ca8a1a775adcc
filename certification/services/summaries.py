"""The annual approvals summary a city bureau sends the province (DESIGN §3.6): printed from the records,
stored as PDF and HTML with the PDF's SHA-256, audited (the province's staff are told)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import documents, rules, selectors
from ..enums import BureauLevel
from ..exceptions import Refusal, RuleViolation
from ..models import Bureau, SummarySubmission
from ..permissions import require_bureau_staff
from .audit import audit_record

#: The audited action of a city bureau sending the province its annual summary (the province is told).
SUMMARY_SENT_ACTION = "annual_summary.send"


def _summary_refusal(code: str, message: str, satisfy: str = "", **params) -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Annual approvals summary"), message=message, satisfy=satisfy,
                                 params=params))


def _as_stored(value):
    """``value`` as a JSON field gives it back, so that rows just built compare with rows stored."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


@transaction.atomic(durable=True)
def summary_submit(*, actor, bureau: Bureau, scheme: str, year: int, reason: str = "",
                   now: dt.datetime | None = None) -> SummarySubmission:
    """A city bureau's staff send the province the bureau's approvals summary of ``year`` under the scheme
    ``scheme`` (a code; one the bureau runs, its current version's words and calendar): printed from the
    records as they stand, stored as PDF and HTML with the PDF's SHA-256, and audited (the province's staff
    are told). This year's summary or last year's may be sent. Sending it again is a correction: it needs a
    reason, is refused while the approvals listed have not changed (a double submit), and archives the copy
    sent before, which is kept. A refusal changes nothing."""
    now = now or timezone.now()
    bureau = Bureau.objects.select_for_update().get(pk=bureau.pk)  # one send of a bureau at a time
    require_bureau_staff(actor, bureau)
    if bureau.level != BureauLevel.CITY:
        raise _summary_refusal("summary.not_city", _("Only a city bureau sends the province an annual "
                                                     "approvals summary."))
    version = selectors.scheme_run_by(bureau, scheme)
    if version is None:
        raise _summary_refusal("summary.scheme_not_run", _("%(bureau)s does not run this scheme.")
                               % {"bureau": bureau.name}, scheme=scheme)
    spec = version.specification()
    today = rules.local_date(now, scheme=spec)
    if year not in rules.annual_summary_years_open(today):
        raise _summary_refusal("summary.year_closed", _("The summary of %(year)s cannot be sent now: a bureau "
                                                        "sends this year's summary, or last year's.") % {"year": year},
                               year=year)
    previous = SummarySubmission.objects.filter(bureau=bureau, scheme=version.scheme, year=year,
                                                archived_at__isnull=True).first()
    summary = {**documents.approvals_summary(bureau, year, scheme=spec), "made_on": documents.chinese_date(today)}
    rows = _as_stored(summary["rows"])
    reason = (reason or "").strip()
    if previous is not None:
        if previous.rows == rows:
            raise _summary_refusal(
                "summary.unchanged", _("The summary of %(year)s was sent on %(sent)s and its approvals have not "
                                       "changed since.") % {"year": year,
                                                            "sent": timezone.localtime(previous.sent_at)
                                                            .strftime("%Y-%m-%d %H:%M")},
                year=year, sent=previous.pk)
        if not reason:
            raise _summary_refusal("summary.reason_required", _("A reason is required."),
                                   _("Say what the corrected summary changes."), year=year)
    html = render_to_string("documents/annual_summary.html", summary)
    pdf = documents.html_to_pdf(html, documents.summary_pdf_record(bureau, year, scheme=spec, created=now))
    digest = hashlib.sha256(pdf).hexdigest()
    if previous is not None:
        previous.archived_at = now
        previous.save(update_fields=["archived_at", "updated_at"])
    submission = SummarySubmission(bureau=bureau, scheme=version.scheme, year=year, html=html, sha256=digest,
                                   size=len(pdf), rows=rows, reason=reason if previous is not None else "",
                                   sent_at=now, sent_by=actor)
    # The name carries the hash: a rolled-back transaction leaves at most an orphan file, never a wrong one.
    submission.file.save(f"annual_summary-{digest[:16]}.pdf", ContentFile(pdf), save=False)
    submission.save()
    audit_record(actor=actor, action=SUMMARY_SENT_ACTION, target=bureau,
                 before=({"year": year, "scheme": scheme, "sha256": previous.sha256}
                         if previous is not None else None),
                 after={"year": year, "scheme": scheme, "sha256": digest, "submission": submission.pk, "approvals": len(rows)},
                 reason=submission.reason)
    return submission
