"""Freezing documents: render, store and freeze (with the PDF's SHA-256), and the case file as one archive.

A frozen document is stored once, as the PDF and the HTML it was printed from; freezing it again returns the
stored one, so a later template change never alters an issued document. The approval basis and the
confirmation letter are frozen inside the approval's transaction; the certificate right after the
transaction that issues it commits (so that the year's serial lock is not held while a PDF is drawn), and,
should that fail, on its first download.

This module imports no other service but the audit log's: the services that issue certificates
(``cases``, ``certificates``, ``issuing``) call it, never the other way round.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import zipfile

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import documents
from ..models import Case, Certificate, DocumentKind, IssuedDocument, LetterSerial
from ..selectors import action_label, case_timeline
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


def case_frozen_documents(case: Case) -> dict[str, IssuedDocument]:
    """The case's issued documents by kind (its certificate's too, once issued)."""
    return {d.kind: d for d in IssuedDocument.objects.filter(case=case).order_by("id")}


def case_archive(case: Case) -> bytes:
    """The whole case file as one .zip for the bureau's records: every document (the frozen copy where there
    is one, else printed from the records as they stand), the certificate, the applicant's uploads, the
    timeline, and a manifest with each file's SHA-256."""
    frozen = case_frozen_documents(case)
    files: list[tuple[str, bytes, str]] = []  # (name in the archive, content, how it was made)
    for kind in documents.CASE_DOCUMENTS:
        document = frozen.get(kind)
        if document is not None:
            with document.file.open("rb") as handle:
                files.append((f"documents/{kind}.pdf", handle.read(), f"issued {document.issued_at:%Y-%m-%d}"))
        elif documents.case_document_available(kind, case):
            _template, html, _context = documents.case_document_render(kind, case)
            files.append((f"documents/{kind}.pdf", documents.html_to_pdf(html), "printed from the records"))
    certificate = frozen.get("certificate")
    if certificate is not None:
        with certificate.file.open("rb") as handle:
            files.append(("documents/certificate.pdf", handle.read(), f"issued {certificate.issued_at:%Y-%m-%d}"))
    elif (issued := case.certificate) is not None:  # issued, its PDF not stored yet
        files.append(("documents/certificate.pdf", documents.certificate_pdf(issued), "printed from the records"))
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
    return os.path.splitext(name)[1].lower()
