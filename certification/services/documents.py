"""Issuing documents: render, store and freeze (with the PDF's SHA-256), and the batch issue of certificates.

A frozen document is stored once, as the PDF and the HTML it was printed from; freezing it again returns the
stored one, so a later template change never alters an issued document. The approval basis and the
confirmation letter are frozen inside the approval's transaction; the certificate right after the
transaction that issues it commits (so that the year's serial lock is not held while a PDF is drawn), and,
should that fail, on its first download.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import documents, rules
from ..enums import BureauLevel
from ..exceptions import Refusal, RuleViolation
from ..models import (
    AuditEntry,
    Bureau,
    Case,
    Certificate,
    DocumentKind,
    IssueBatch,
    IssueBatchItem,
    IssuedDocument,
    LetterSerial,
    Outcome,
    SummarySubmission,
)
from ..permissions import require_bureau_staff
from .audit import audit_record

logger = logging.getLogger(__name__)


def _store(*, actor, kind: str, template: str, html: str, case: Case | None = None,
           certificate: Certificate | None = None, number: str = "") -> IssuedDocument:
    pdf = documents.html_to_pdf(html)
    digest = hashlib.sha256(pdf).hexdigest()
    document = IssuedDocument(kind=kind, case=case, certificate=certificate, number=number, html=html,
                              sha256=digest, size=len(pdf), template=template, issued_at=timezone.now(),
                              issued_by=actor if actor is not None and actor.pk else None)
    # The name carries the hash: a rolled-back transaction leaves at most an orphan file, never a wrong one.
    document.file.save(f"{kind}-{digest[:16]}.pdf", ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:  # frozen meanwhile by a concurrent call: the first one stands
        return _frozen(kind=kind, case=case, certificate=certificate)
    audit_record(actor=actor, action="document.issue", target=certificate or case, after={
        "kind": kind, "document": document.pk, "number": number, "sha256": digest, "template": template})
    return document


def _frozen(*, kind: str, case: Case | None = None, certificate: Certificate | None = None):
    query = IssuedDocument.objects.filter(kind=kind)
    if certificate is not None:
        return query.filter(certificate=certificate).first()
    return query.filter(case=case, certificate__isnull=True).first()


def document_freeze(*, actor, case: Case, kind: str, number: str = "") -> IssuedDocument:
    """Render the case's document ``kind`` as its records stand and store it; a document already frozen is
    returned as stored. Runs inside the caller's transaction (the approval's)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document_freeze runs inside the caller's transaction")
    existing = _frozen(kind=kind, case=case)
    if existing is not None:
        return existing
    extra = {"number": number} if kind == DocumentKind.CONFIRMATION_LETTER else {}
    template, html, _context = documents.case_document_render(kind, case, **extra)
    return _store(actor=actor, kind=kind, template=template, html=html, case=case, number=number)


def letter_next_number(*, bureau, year: int) -> str:
    """The bureau's next letter number of ``year``, gapless, under a row lock: 鄂档函〔2026〕3号."""
    try:
        with transaction.atomic():
            LetterSerial.objects.get_or_create(bureau=bureau, year=year)
    except IntegrityError:
        pass
    serial = LetterSerial.objects.select_for_update().get(bureau=bureau, year=year)
    serial.last += 1
    serial.save(update_fields=["last"])
    return f"{bureau.name}函〔{year}〕{serial.last}号"


def documents_freeze_approval(*, actor, case: Case) -> list[IssuedDocument]:
    """At approval: freeze the five documents of the basis and issue the confirmation letter (附件5)."""
    frozen = [document_freeze(actor=actor, case=case, kind=kind) for kind in documents.BASIS_DOCUMENTS]
    if _frozen(kind=DocumentKind.CONFIRMATION_LETTER, case=case) is None:
        number = letter_next_number(bureau=case.bureau, year=timezone.localdate().year)
        frozen.append(document_freeze(actor=actor, case=case, kind=DocumentKind.CONFIRMATION_LETTER,
                                      number=number))
    return frozen


@transaction.atomic(durable=True)
def certificate_document_freeze(*, actor, certificate: Certificate, case: Case | None = None) -> IssuedDocument:
    """Store the certificate's PDF (idempotent: a certificate already stored is returned as stored)."""
    certificate = Certificate.objects.select_related("institution", "grade", "issued_by").get(pk=certificate.pk)
    existing = _frozen(kind=DocumentKind.CERTIFICATE, certificate=certificate)
    if existing is not None:
        return existing
    html = documents.certificate_html(certificate)
    return _store(actor=actor, kind=DocumentKind.CERTIFICATE, template="documents/certificate.html", html=html,
                  case=case, certificate=certificate, number=certificate.number)


def certificate_freeze_on_commit(*, actor, certificate: Certificate, case: Case | None = None) -> None:
    """Freeze the certificate once the issuing transaction has committed. A failure is logged, not raised:
    the certificate is issued, and its first download freezes it."""
    def freeze():
        try:
            certificate_document_freeze(actor=actor, certificate=certificate, case=case)
        except Exception:
            logger.exception("could not store the PDF of certificate %s; its first download will", certificate.pk)

    transaction.on_commit(freeze)


# --- Batch issue ----------------------------------------------------------------------------------------

def _refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Certificates"), message=message, satisfy=satisfy))


@transaction.atomic(durable=True)
def issue_batch_start(*, actor, case_ids: list[int]) -> IssueBatch:
    """Start issuing the certificates of the chosen cases of the officer's queue: one Celery task each,
    sent once the batch is stored. A case not in the officer's queue refuses the whole batch."""
    from ..tasks import issue_batch_item
    from .cases import certificate_queue

    ids = sorted({int(pk) for pk in case_ids})
    if not ids:
        raise _refuse("batch.empty", _("Choose at least one case."))
    cases = list(certificate_queue(actor).filter(pk__in=ids).select_for_update(of=("self",)))
    if len(cases) != len(ids):
        raise _refuse("batch.not_in_queue", _("Some chosen cases are not waiting in your queue: they may have "
                                              "been issued meanwhile."), _("Reload the queue and choose again."))
    batch = IssueBatch.objects.create(created_by=actor)
    items = IssueBatchItem.objects.bulk_create(IssueBatchItem(batch=batch, case=case) for case in cases)
    audit_record(actor=actor, action="certificate.batch_start", target=batch,
                 after={"cases": [c.pk for c in cases]})
    item_ids = [item.pk for item in items]
    transaction.on_commit(lambda: [issue_batch_item.delay(item_id=pk) for pk in item_ids])
    return batch


def _certificate_of(case: Case) -> Certificate | None:
    """The certificate issued for ``case`` (its 'case.certified' audit entry names it)."""
    entry = (AuditEntry.objects.filter(target_type="certification.case", target_id=str(case.pk),
                                       action="case.certified").order_by("-id").first())
    return None if entry is None else Certificate.objects.filter(number=(entry.after or {}).get("certificate")).first()


def _certified_meanwhile(item_id: int, *, actor, case: Case) -> IssueBatchItem:
    """The item of a case certified before this run (a redelivered task, or one issued one by one): record
    its certificate, and store the certificate's PDF should the run that issued it have stopped before (a
    worker killed while drawing it). Storing is idempotent; a failure is logged: the first download stores it."""
    certificate = _certificate_of(case)
    if certificate is not None:
        try:
            certificate_document_freeze(actor=actor, certificate=certificate, case=case)
        except Exception:
            logger.exception("could not store the PDF of certificate %s; its first download will", certificate.pk)
    return _finish(item_id, certificate=certificate)


@transaction.atomic
def _finish(item_id: int, *, certificate: Certificate | None = None, error: str = "") -> IssueBatchItem:
    item = IssueBatchItem.objects.select_for_update().get(pk=item_id)
    if item.status != IssueBatchItem.Status.PENDING:
        return item
    item.status = IssueBatchItem.Status.FAILED if error else IssueBatchItem.Status.ISSUED
    item.certificate, item.error, item.finished_at = certificate, error, timezone.now()
    item.save(update_fields=["status", "certificate", "error", "finished_at", "updated_at"])
    return item


def issue_batch_item_run(*, item_id: int) -> IssueBatchItem:
    """Issue one case's certificate for its batch. Idempotent: an item already finished is left alone, and a
    case already certified is not issued twice (the item records its certificate). A refusal is recorded as
    the item's failure; the other items go on."""
    from .cases import case_issue_certificate

    item = IssueBatchItem.objects.select_related("batch__created_by", "case").get(pk=item_id)
    if item.status != IssueBatchItem.Status.PENDING:
        return item
    case = item.case
    if case.outcome == Outcome.CERTIFIED:
        return _certified_meanwhile(item_id, actor=item.batch.created_by, case=case)
    try:
        certificate = case_issue_certificate(actor=item.batch.created_by, case=case)
    except RuleViolation as exc:
        case = Case.objects.get(pk=case.pk)
        if case.outcome == Outcome.CERTIFIED:  # issued meanwhile (a redelivered task, or one by one)
            return _certified_meanwhile(item_id, actor=item.batch.created_by, case=case)
        return _finish(item_id, error=str(exc))
    except Exception as exc:
        logger.exception("issuing the certificate of case %s failed", case.pk)
        return _finish(item_id, error=_("Unexpected error: %(error)s") % {"error": type(exc).__name__})
    return _finish(item_id, certificate=certificate)


def issue_batch_progress(batch: IssueBatch) -> dict:
    """Done, failed and total of a batch (counted by the database, one query however large the batch), and
    each failure with its reason. The items themselves are ``batch.items``, for the page to show a page at
    a time."""
    Status = IssueBatchItem.Status
    counts = batch.items.aggregate(total=Count("id"), issued=Count("id", filter=Q(status=Status.ISSUED)),
                                   failed=Count("id", filter=Q(status=Status.FAILED)))
    total, issued, failed = counts["total"], counts["issued"], counts["failed"]
    done = issued + failed
    failures = list(batch.items.filter(status=Status.FAILED).select_related("case__institution").order_by("id"))
    return {"total": total, "issued": issued, "failed": failed, "pending": total - done, "done": done,
            "finished": done == total, "failures": failures,
            "percent": 100 if not total else (100 * done) // total}


# --- The annual approvals summary sent to the province (DESIGN §3.6) -----------------------------------

#: The audited action of a city bureau sending the province its annual summary (the province is told).
SUMMARY_SENT_ACTION = "annual_summary.send"


def _summary_refusal(code: str, message: str, satisfy: str = "", **params) -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Annual approvals summary"), message=message, satisfy=satisfy,
                                 params=params))


def _as_stored(value):
    """``value`` as a JSON field gives it back, so that rows just built compare with rows stored."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


@transaction.atomic(durable=True)
def summary_submit(*, actor, bureau: Bureau, year: int, reason: str = "",
                   now: dt.datetime | None = None) -> SummarySubmission:
    """A city bureau's staff send the province the bureau's approvals summary of ``year``: printed from the
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
    today = rules.local_date(now)
    if year not in rules.annual_summary_years_open(today):
        raise _summary_refusal("summary.year_closed", _("The summary of %(year)s cannot be sent now: a bureau "
                                                        "sends this year's summary, or last year's.") % {"year": year},
                               year=year)
    previous = SummarySubmission.objects.filter(bureau=bureau, year=year, archived_at__isnull=True).first()
    summary = {**documents.approvals_summary(bureau, year), "made_on": documents.chinese_date(today)}
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
    pdf = documents.html_to_pdf(html)
    digest = hashlib.sha256(pdf).hexdigest()
    if previous is not None:
        previous.archived_at = now
        previous.save(update_fields=["archived_at", "updated_at"])
    submission = SummarySubmission(bureau=bureau, year=year, html=html, sha256=digest, size=len(pdf), rows=rows,
                                   reason=reason if previous is not None else "", sent_at=now, sent_by=actor)
    # The name carries the hash: a rolled-back transaction leaves at most an orphan file, never a wrong one.
    submission.file.save(f"annual_summary-{digest[:16]}.pdf", ContentFile(pdf), save=False)
    submission.save()
    audit_record(actor=actor, action=SUMMARY_SENT_ACTION, target=bureau,
                 before={"year": year, "sha256": previous.sha256} if previous is not None else None,
                 after={"year": year, "sha256": digest, "submission": submission.pk, "approvals": len(rows)},
                 reason=submission.reason)
    return submission


def case_frozen_documents(case: Case) -> dict[str, IssuedDocument]:
    """The case's issued documents by kind (its certificate's too, once issued)."""
    return {d.kind: d for d in IssuedDocument.objects.filter(case=case).order_by("id")}


def case_archive(case: Case) -> bytes:
    """The whole case file as one .zip for the bureau's records: every document (the frozen copy where there
    is one, else printed from the records as they stand), the certificate, the applicant's uploads, the
    timeline, and a manifest with each file's SHA-256."""
    import csv
    import io
    import zipfile

    from .. import documents as docs
    from ..selectors import action_label, case_timeline

    frozen = case_frozen_documents(case)
    files: list[tuple[str, bytes, str]] = []  # (name in the archive, content, how it was made)
    for kind in docs.CASE_DOCUMENTS:
        document = frozen.get(kind)
        if document is not None:
            with document.file.open("rb") as handle:
                files.append((f"documents/{kind}.pdf", handle.read(), f"issued {document.issued_at:%Y-%m-%d}"))
        elif docs.case_document_available(kind, case):
            _template, html, _context = docs.case_document_render(kind, case)
            files.append((f"documents/{kind}.pdf", docs.html_to_pdf(html), "printed from the records"))
    certificate = frozen.get("certificate")
    if certificate is not None:
        with certificate.file.open("rb") as handle:
            files.append(("documents/certificate.pdf", handle.read(), f"issued {certificate.issued_at:%Y-%m-%d}"))
    elif (issued := _certificate_of(case)) is not None:  # issued, its PDF not stored yet
        files.append(("documents/certificate.pdf", docs.certificate_pdf(issued), "printed from the records"))
    uploads = [("uploads/report" + _suffix(case.report.name), case.report)] if case.report else []
    uploads += [(f"uploads/{row.code}" + _suffix(row.evidence.name), row.evidence)
                for row in case.prerequisites.order_by("code") if row.evidence]
    for name, field in uploads:
        with field.open("rb") as handle:
            files.append((name, handle.read(), "uploaded by the applicant"))
    timeline = io.StringIO()
    writer = csv.writer(timeline)
    writer.writerow(["at", "who", "action", "reason"])
    for entry in case_timeline(case):
        writer.writerow([timezone.localtime(entry.at).isoformat(timespec="minutes"),
                         entry.actor.get_username() if entry.actor else "system", action_label(entry.action),
                         entry.reason])
    files.append(("timeline.csv", timeline.getvalue().encode("utf-8-sig"), "from the audit log"))
    manifest = "\n".join(f"{hashlib.sha256(content).hexdigest()}  {name}  ({how})" for name, content, how in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, _how in files:
            archive.writestr(f"{case.reference}/{name}", content)
        archive.writestr(f"{case.reference}/SHA256SUMS.txt", manifest + "\n")
    return buffer.getvalue()


def _suffix(name: str) -> str:
    import os

    return os.path.splitext(name)[1].lower()
