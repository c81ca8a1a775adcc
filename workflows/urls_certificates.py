from django.urls import path

from . import certificates, oversight, signing

app_name = "certificates"

urlpatterns = [
    path("certificates/", oversight.certificate_list, name="list"),
    path("certificates/queue/", certificates.queue, name="queue"),
    path("certificates/batches/<int:pk>/", certificates.batch, name="batch"),
    path("certificates/<int:pk>/", certificates.detail, name="detail"),
    path("certificates/<int:pk>/certificate.pdf", certificates.pdf, name="pdf"),
    path("certificates/<int:pk>/scan", certificates.scan, name="scan"),
    path("certificates/<int:pk>/credential.json", signing.certificate_credential, name="credential"),
    path("certificates/<int:pk>/transition/", certificates.transition, name="transition"),
]
