from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from certification.admin import audit_every_admin
from workflows import signing as published
from workflows.public import verify
from workflows.security import urlpatterns as security_urls
from workflows.views import CaseDetailView, CaseListView, HomeView

audit_every_admin()  # every app's admin has registered its models by now: each change there is audited

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("cases/", CaseListView.as_view(), name="case_list"),
    path("cases/<int:pk>/", CaseDetailView.as_view(), name="case_detail"),
    path("", include("workflows.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include(security_urls)),
    path("verify/", verify, name="verify"),
    path("verify/<str:token>", verify, name="verify_token"),  # the QR code's URL
    path(".well-known/jwks.json", published.jwks, name="jwks"),
    path(".well-known/did.json", published.site_did, name="site_did"),
    path("bureaus/<str:code>/did.json", published.bureau_did, name="bureau_did"),
    path("credentials/status/<str:code>/<int:number>", published.status_list, name="status_list"),
    path("credentials/<str:token>", published.credential, name="credential"),
    path("", include("workflows.urls_documents")),
    path("", include("workflows.urls_certificates")),
    path("api/v1/", include("workflows.api.urls")),
    path("notices/", include("workflows.public_notices")),
    path("spreadsheets/", include("workflows.spreadsheets")),
    path("filings/", include("workflows.filings")),
    path("oversight/", include("workflows.oversight")),
    path("notifications/", include("notifications.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
