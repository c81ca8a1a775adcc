"""Filing (备案): the approval of a recheck assessed below the bureau the scheme names files the case with that
bureau (第九条; DESIGN §3.3, §4 stage 8). The filing is a record the bureau lists and exports, written in the
approval's transaction with its audit entry (``case.file``), which tells the bureau's staff."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import documents
from ..models import Case, DocumentKind, Filing, IssuedDocument
from .audit import audit_record

#: What is filed: the five documents of the approval basis and the confirmation letter, as frozen at approval.
FILED_KINDS = (*documents.BASIS_DOCUMENTS, DocumentKind.CONFIRMATION_LETTER)


def filed_documents(case: Case) -> list[dict]:
    """The case's frozen approval documents, as a filing records them (in the order they were frozen)."""
    frozen = (IssuedDocument.objects.filter(case=case, certificate__isnull=True, kind__in=FILED_KINDS)
              .order_by("issued_at", "id").values("id", "kind", "number", "content_sha256"))
    return [{"id": d["id"], "kind": d["kind"], "number": d["number"], "sha256": d["content_sha256"]} for d in frozen]


def case_file_within(*, actor, case: Case) -> Filing | None:
    """File an approved case with its filing bureau, inside the approval's transaction (after its documents
    are frozen): the filing record and its audit entry, once. A case the scheme does not file returns None;
    a case already filed returns its filing unchanged."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a case is filed inside the transaction that approves it")
    if case.filing_bureau_id is None:
        return None
    existing = Filing.objects.filter(case=case).first()
    if existing is not None:
        return existing
    filing = Filing.objects.create(case=case, bureau_id=case.filing_bureau_id, filed_at=timezone.now(),
                                   filed_by=actor if actor is not None and actor.pk else None,
                                   documents=filed_documents(case))
    audit_record(actor=actor, action="case.file", target=case, after={
        "filed_with": case.filing_bureau_id, "filing": filing.pk,
        "documents": [d["kind"] for d in filing.documents]})
    return filing


def document_names(filing: Filing) -> list[str]:
    """The names of the documents filed, in the reader's language."""
    labels = dict(DocumentKind.choices)
    return [str(labels.get(d.get("kind"), d.get("kind"))) + (f" {d['number']}" if d.get("number") else "")
            for d in filing.documents]


def filings_workbook(filings) -> bytes:
    """A bureau's filings as .xlsx (already narrowed to what the user may read), newest first."""
    from .spreadsheets import table_workbook

    headers = [_("Filed at"), _("Filed with"), _("Reference"), _("Applicant"), _("Credit code"), _("Grade"),
               _("Approved by"), _("Approved at"), _("Filed by"), _("Documents filed")]
    rows = ([timezone.localtime(f.filed_at).strftime("%Y-%m-%d %H:%M"), f.bureau.name, f.case.reference,
             f.case.institution.name, f.case.institution.uscc, f.case.grade.name, f.case.bureau.name,
             timezone.localtime(f.case.approval_decided_at).strftime("%Y-%m-%d %H:%M")
             if f.case.approval_decided_at else "", str(f.filed_by or ""), "; ".join(document_names(f))]
            for f in filings.select_related("bureau", "case__institution", "case__grade", "case__bureau",
                                            "filed_by").order_by("-filed_at", "-id"))
    return table_workbook(title=str(_("Filings")), headers=headers, rows=rows)
