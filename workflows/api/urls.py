"""The API's URLs: one router, so that further endpoints (the caller's tasks) register here."""

from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from . import oversight, views
from .tasks import TaskViewSet

router = DefaultRouter()
router.register("institutions", views.InstitutionViewSet, basename="institution")
router.register("cases", views.CaseViewSet, basename="case")
router.register("sheets", views.ScoreSheetViewSet, basename="sheet")
router.register("notices", views.NoticeViewSet, basename="notice")
router.register("objections", views.ObjectionViewSet, basename="objection")
router.register("certificates", views.CertificateViewSet, basename="certificate")
router.register("filings", views.FilingViewSet, basename="filing")
router.register("tasks", TaskViewSet, basename="task")
router.register("panel-seats", views.PanelSeatViewSet, basename="panel-seat")
router.register("auth/tokens", views.ApiTokenViewSet, basename="api_token")
router.register("register-batches", views.RegisterBatchViewSet, basename="register_batch")
router.register("oversight/rounds", oversight.RoundViewSet, basename="oversight-round")
router.register("oversight/draws", oversight.DrawViewSet, basename="oversight-draw")
router.register("oversight/findings", oversight.FindingViewSet, basename="oversight-finding")
router.register("oversight/orders", oversight.OrderViewSet, basename="oversight-order")
router.register("oversight/suspensions", oversight.SuspensionViewSet, basename="oversight-suspension")

app_name = "api"
urlpatterns = [
    path("schema/", views.SchemaView.as_view(), name="schema"),
    # Swagger UI from our static files; its start-up script is a separate request (no inline script), and
    # Swagger UI sets inline styles on the elements it draws, so this page alone allows them.
    path("docs/", csp_update({"style-src": "'unsafe-inline'"})(
        SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("imports/", views.ImportView.as_view(), name="import"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("statistics/dashboard/", oversight.DashboardView.as_view(), name="statistics_dashboard"),
    path("verify/<str:token>/", views.VerifyTokenView.as_view(), name="verify_token"),
    *router.urls,
    # Any other path, a newline in it too ("." alone would not match one, and Django's HTML 404 would answer).
    re_path(r"^[\s\S]*$", views.not_found),
]
