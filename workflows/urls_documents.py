from django.urls import path

from . import documents

app_name = "documents"

urlpatterns = [
    path("cases/<int:pk>/documents/", documents.case_documents, name="case_documents"),
    path("cases/<int:pk>/documents/archive.zip", documents.case_archive_download, name="case_archive"),
    path("cases/<int:pk>/evidence/<slug:kind>/<int:item>/", documents.case_evidence_download,
         name="case_evidence"),
    path("cases/<int:pk>/documents/<slug:kind>.html", documents.case_document_html, name="case_document_html"),
    path("cases/<int:pk>/documents/<slug:kind>.pdf", documents.case_document_pdf, name="case_document_pdf"),
    path("summaries/", documents.summaries, name="summaries"),
    path("summaries/<int:bureau>/<slug:scheme>/<int:year>.pdf", documents.summary_pdf, name="summary_pdf"),
    path("summaries/<int:bureau>/<slug:scheme>/<int:year>.xlsx", documents.summary_xlsx, name="summary_xlsx"),
    path("summaries/<int:bureau>/<slug:scheme>/<int:year>/send/", documents.summary_send, name="summary_send"),
    path("summaries/sent/<int:pk>.pdf", documents.summary_sent_pdf, name="summary_sent_pdf"),
    path("summaries/sent/<int:pk>.html", documents.summary_sent_html, name="summary_sent_html"),
]
