"""Freezing documents: the data in the transaction that issues them, the PDF drawn afterwards by a task.

A document is frozen once, inside the transaction that issues it (the approval's, the certificate's): the HTML
rendered from the records as they stand, its SHA-256 (``content_sha256``), its number and template, and the
audit entry ``document.issue`` with that hash. Rendering HTML is cheap; drawing the PDF (WeasyPrint, about half a
second a page) is not, so it is left to a Celery task sent once the transaction commits
(``DOCUMENT_DRAW_TASK``, one task per document), which draws the PDF from the stored HTML after checking it still
matches its hash, stores the file and its own SHA-256, and records ``document.draw``. Freezing again returns the
stored document, so a later template change never alters an issued document.

A download serves the stored PDF only once it is drawn and both hashes still hold (:func:`document_pdf`). A
document not drawn yet is "being prepared" for ``DOCUMENT_DRAW_GRACE`` after it was issued (the worker's
turn); after that the download draws it itself, through the same idempotent function as the task, so that a
late or stopped worker never leaves anyone without the document. A document whose HTML no longer matches its
hash is never drawn nor served.

A drawn PDF is signed before it is stored (PAdES, ``services/signing.py``): a certificate by its issuing bureau,
every other document by the case's bureau, which approved it. The stored SHA-256 is the signed PDF's, the file
served; the HTML's hash is unchanged.

This module imports no other service but the audit log's and the signatures': the services that issue
certificates (``cases``, ``certificates``, ``issuing``) call it, never the other way round.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import zipfile

from celery import current_app
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import documents
from ..models import Case, Certificate, DocumentKind, IssuedDocument, LetterSerial
from ..selectors import action_label, case_timeline
from .audit import audit_record
from .signing import certificate_qr_token, pdf_sign_for

logger = logging.getLogger(__name__)

DOCUMENT_DRAW_TASK = "certification.document_draw"
# How long after issuing a document a download waits for the worker's PDF (HTTP 202, "being prepared") before
# drawing it itself. The worker draws a case's six documents in a few seconds when it is not busy.
DOCUMENT_DRAW_GRACE = dt.timedelta(seconds=30)


class DocumentNotReady(Exception):
    """The document's PDF is being drawn by the worker: ask again in a moment."""


class DocumentIntegrityError(Exception):
    """The stored HTML or PDF no longer matches its recorded SHA-256: the document is not drawn nor served."""


def content_hash(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def _store(*, actor, kind: str, template: str, html: str, case: Case | None = None,
           certificate: Certificate | None = None, number: str = "") -> IssuedDocument:
    """Store the document's data (no PDF yet) and its audit entry; send the task that draws its PDF once the
    caller's transaction commits."""
    digest = content_hash(html)
    document = IssuedDocument(kind=kind, case=case, certificate=certificate, number=number, html=html,
                              content_sha256=digest, template=template, issued_at=timezone.now(),
                              issued_by=actor if actor is not None and actor.pk else None)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:  # frozen meanwhile by a concurrent call: the first one stands
        return _frozen(kind=kind, case=case, certificate=certificate)
    audit_record(actor=actor, action="document.issue", target=certificate or case, after={
        "kind": kind, "document": document.pk, "number": number, "content_sha256": digest, "template": template})
    pk = document.pk
    transaction.on_commit(lambda: document_draw_send(document_id=pk))
    return document


def document_draw_send(*, document_id: int) -> None:
    """Send the drawing task. Through the app's registry, ``delay`` draws in place under
    ``CELERY_TASK_ALWAYS_EAGER``. A broker that cannot be reached is logged, not raised: the document is
    frozen, and its first download draws it."""
    try:
        current_app.tasks[DOCUMENT_DRAW_TASK].delay(document_id=document_id)
    except Exception:
        logger.exception("could not send the drawing of document %s; its first download will draw it", document_id)


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


def letter_next_number(*, bureau, year: int, scheme) -> str:
    """The bureau's next letter number of ``year``, gapless, under a row lock, in the format the scheme's file
    declares (``documents.letter_number``, e.g. ``{bureau}函〔{year}〕{serial}号``). A bureau's letters are one
    series a year, whatever the scheme."""
    try:
        with transaction.atomic():
            LetterSerial.objects.get_or_create(bureau=bureau, year=year)
    except IntegrityError:
        pass
    serial = LetterSerial.objects.select_for_update().get(bureau=bureau, year=year)
    serial.last += 1
    serial.save(update_fields=["last"])
    return scheme.documents.letter_number_for(bureau.name, year, serial.last)


def documents_freeze_approval(*, actor, case: Case) -> list[IssuedDocument]:
    """At approval: freeze the five documents of the basis and issue the confirmation letter (附件5). Their
    PDFs are drawn after the approval commits; the six read the case's records once. A scheme without a public
    notice has no notice result to freeze: its case rests on the other four."""
    spec = case.scheme_version.specification()
    kinds = [kind for kind in documents.BASIS_DOCUMENTS if kind != "notice_result" or spec.stages.notice]
    with documents.shared_reads(case):
        frozen = [document_freeze(actor=actor, case=case, kind=kind) for kind in kinds]
        if _frozen(kind=DocumentKind.CONFIRMATION_LETTER, case=case) is None:
            number = letter_next_number(bureau=case.bureau, year=timezone.localdate().year,
                                        scheme=case.scheme_version.specification())
            frozen.append(document_freeze(actor=actor, case=case, kind=DocumentKind.CONFIRMATION_LETTER,
                                          number=number))
    return frozen


def certificate_document_freeze_within(*, actor, certificate: Certificate,
                                       case: Case | None = None) -> IssuedDocument:
    """Freeze the certificate's document inside the transaction that issues it (idempotent: a certificate
    already frozen is returned as stored); its PDF is drawn after the transaction commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("certificate_document_freeze_within runs inside the caller's transaction")
    existing = _frozen(kind=DocumentKind.CERTIFICATE, certificate=certificate)
    if existing is not None:
        return existing
    certificate = Certificate.objects.select_related("institution", "grade", "issued_by").get(pk=certificate.pk)
    html = documents.certificate_html(certificate, qr_token=certificate_qr_token(certificate))
    return _store(actor=actor, kind=DocumentKind.CERTIFICATE, template="documents/certificate.html", html=html,
                  case=case, certificate=certificate, number=certificate.number)


@transaction.atomic(durable=True)
def certificate_document_freeze(*, actor, certificate: Certificate, case: Case | None = None) -> IssuedDocument:
    """:func:`certificate_document_freeze_within` as an entry point of its own (a certificate issued before
    its documents were frozen with it)."""
    return certificate_document_freeze_within(actor=actor, certificate=certificate, case=case)


# --- Drawing the PDF --------------------------------------------------------------------------------------------
def document_pdf_record(document: IssuedDocument) -> documents.PdfRecord:
    """The archival metadata of a frozen document: a certificate's is the province's, issued when it was; any
    other document's is its case's bureau's, issued when it was frozen."""
    if document.certificate_id is not None:
        certificate = Certificate.objects.select_related("issued_by", "scheme_version").get(
            pk=document.certificate_id)
        return documents.certificate_pdf_record(certificate, created=document.issued_at)
    case = Case.objects.select_related("bureau", "scheme_version").get(pk=document.case_id)
    return documents.case_pdf_record(case, created=document.issued_at)


def document_sign(document: IssuedDocument, pdf: bytes) -> bytes:
    """Sign a frozen document's drawn PDF: a certificate by its issuing bureau over the seal area, any other by the
    case's bureau (the approving bureau of the letter and the approval basis)."""
    certificate = None
    if document.certificate_id is not None:
        certificate = Certificate.objects.select_related("issued_by__region").get(pk=document.certificate_id)
        bureau = certificate.issued_by
    else:
        # the bureau's line up to its province (whose key time-stamps), read with the case
        bureau = Case.objects.select_related("bureau__region", "bureau__parent__parent__parent").get(
            pk=document.case_id).bureau
    reason = {DocumentKind.CERTIFICATE: "证书签发", DocumentKind.CONFIRMATION_LETTER: "确认函"}.get(
        document.kind, "审批依据")
    return pdf_sign_for(pdf, bureau=bureau, reason=reason, certificate=certificate)


def document_draw(*, document_id: int) -> IssuedDocument:
    """Draw the document's PDF from its stored HTML, sign it, and store it with its SHA-256 and size. Idempotent and safe
    to run twice at once: the PDF is drawn outside any lock, then stored under the row's lock only if no other
    run stored one meanwhile (the loser's file is removed). Raises :class:`DocumentIntegrityError`, and stores
    nothing, if the HTML no longer matches the hash it was frozen with."""
    document = IssuedDocument.objects.get(pk=document_id)
    if document.is_drawn:
        return document
    html = document.html
    if content_hash(html) != document.content_sha256:
        logger.error("document %s: its HTML no longer matches its SHA-256; not drawn", document_id)
        raise DocumentIntegrityError(document_id)
    pdf = document_sign(document, documents.html_to_pdf(html, document_pdf_record(document)))
    digest = hashlib.sha256(pdf).hexdigest()
    # The name carries the hash: a run that loses the race below leaves no file, and a crash at most an orphan.
    storage = document.file.storage
    name = storage.save(document.file.field.generate_filename(document, f"{document.kind}-{digest[:16]}.pdf"),
                        ContentFile(pdf))
    stored = False
    try:
        with transaction.atomic(durable=True):
            document = IssuedDocument.objects.select_for_update().get(pk=document_id)
            if document.is_drawn:
                return document
            if document.html != html or content_hash(document.html) != document.content_sha256:
                logger.error("document %s: its HTML changed while it was drawn; not stored", document_id)
                raise DocumentIntegrityError(document_id)
            document.file.name, document.sha256, document.size = name, digest, len(pdf)
            document.drawn_at = timezone.now()
            document.save(update_fields=["file", "sha256", "size", "drawn_at", "updated_at"])
            audit_record(actor=None, action="document.draw", target=document, after={
                "kind": document.kind, "content_sha256": document.content_sha256, "sha256": digest,
                "size": len(pdf)})
            stored = True
    finally:
        if not stored:
            storage.delete(name)
    return document


def _verified(document: IssuedDocument) -> bytes:
    if content_hash(document.html) != document.content_sha256:
        logger.error("document %s: its HTML no longer matches its SHA-256; not served", document.pk)
        raise DocumentIntegrityError(document.pk)
    with document.file.open("rb") as handle:
        pdf = handle.read()
    if hashlib.sha256(pdf).hexdigest() != document.sha256:
        logger.error("document %s: its PDF no longer matches its SHA-256; not served", document.pk)
        raise DocumentIntegrityError(document.pk)
    return pdf


def document_pdf(document: IssuedDocument, *, now: dt.datetime | None = None) -> bytes:
    """The document's stored PDF, checked against both its hashes. Not drawn yet: within
    ``DOCUMENT_DRAW_GRACE`` of its issue raises :class:`DocumentNotReady` (the worker is drawing it); later,
    draws it now (the worker is late or down). Raises :class:`DocumentIntegrityError` on a hash mismatch."""
    if not document.is_drawn:
        if content_hash(document.html) != document.content_sha256:
            raise DocumentIntegrityError(document.pk)
        if (now or timezone.now()) - document.issued_at < DOCUMENT_DRAW_GRACE:
            raise DocumentNotReady(document.pk)
        logger.warning("document %s was not drawn by a worker in time; drawn on its download", document.pk)
        document_draw(document_id=document.pk)
        document.refresh_from_db()  # the caller's instance, with its file and hash
    return _verified(document)


def document_html(document: IssuedDocument) -> str:
    """The HTML a frozen document is printed from, checked against its hash."""
    if content_hash(document.html) != document.content_sha256:
        logger.error("document %s: its HTML no longer matches its SHA-256; not served", document.pk)
        raise DocumentIntegrityError(document.pk)
    return document.html


def case_frozen_documents(case: Case) -> dict[str, IssuedDocument]:
    """The case's issued documents by kind (its certificate's too, once issued)."""
    return {d.kind: d for d in IssuedDocument.objects.filter(case=case).order_by("id")}


def case_archive(case: Case) -> bytes:
    """The whole case file as one .zip for the bureau's records: every document (the frozen copy where there
    is one, else printed from the records as they stand), the certificate, the applicant's uploads, the
    timeline, and a manifest with each file's SHA-256. A frozen document is taken as :func:`document_pdf`
    serves it: :class:`DocumentNotReady` or :class:`DocumentIntegrityError` stop the whole archive."""
    frozen = case_frozen_documents(case)
    files: list[tuple[str, bytes, str]] = []  # (name in the archive, content, how it was made)
    for kind in documents.CASE_DOCUMENTS:
        document = frozen.get(kind)
        if document is not None:
            files.append((f"documents/{kind}.pdf", document_pdf(document), f"issued {document.issued_at:%Y-%m-%d}"))
        elif documents.case_document_available(kind, case):
            _template, html, _context = documents.case_document_render(kind, case)
            files.append((f"documents/{kind}.pdf", documents.html_to_pdf(html, documents.case_pdf_record(case)),
                          "printed from the records"))
    certificate = frozen.get("certificate")
    if certificate is not None:
        files.append(("documents/certificate.pdf", document_pdf(certificate),
                      f"issued {certificate.issued_at:%Y-%m-%d}"))
    elif (issued := case.certificate) is not None:  # issued, its PDF not stored yet
        files.append(("documents/certificate.pdf", documents.certificate_pdf(issued), "printed from the records"))
    uploads = [("uploads/report" + _suffix(case.report.name), case.report)] if case.report else []
    uploads += [(f"uploads/{row.code}" + _suffix(row.evidence.name), row.evidence)
                for row in case.prerequisites.order_by("code") if row.evidence]
    for name, field in uploads:
        with field.open("rb") as handle:
            files.append((name, handle.read(), "uploaded by the applicant"))
    for precheck in case.prechecks.exclude(attachment="").select_related("delegated_to").order_by("round"):
        with precheck.attachment.open("rb") as handle:
            files.append((f"uploads/precheck-{precheck.round}-written-result" + _suffix(precheck.attachment.name),
                          handle.read(), f"written pre-check result of {precheck.delegated_to}"))
    timeline = io.StringIO()
    writer = csv.writer(timeline)
    writer.writerow(["at", "who", "action", "reason"])
    for entry in case_timeline(case):
        writer.writerow([timezone.localtime(entry.at).isoformat(timespec="minutes"),
                         entry.actor.get_username() if entry.actor else "system", action_label(entry.action),
                         entry.reason])
    files.append(("timeline.csv", timeline.getvalue().encode("utf-8-sig"), "from the audit log"))
    manifest = "\n".join(f"{hashlib.sha256(content).hexdigest()}  {name}  ({_file_format(name, content)}; {how})"
                         for name, content, how in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, _how in files:
            archive.writestr(f"{case.reference}/{name}", content)
        archive.writestr(f"{case.reference}/SHA256SUMS.txt", manifest + "\n")
    return buffer.getvalue()


def _file_format(name: str, content: bytes) -> str:
    """The format the manifest names for a file: a PDF's own declaration (PDF/A-2b, or the plain PDF version of a
    document drawn before the documents were archival), else the kind of file its name says."""
    if content.startswith(b"%PDF-"):
        return documents.pdf_format(content)
    return {".csv": "CSV, UTF-8", ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".ofd": "OFD"}.get(
        _suffix(name), (_suffix(name).lstrip(".").upper() or "binary"))


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()
