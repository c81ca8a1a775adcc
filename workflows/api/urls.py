"""The API's URLs: one router, so that further endpoints (the caller's tasks) register here."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import views
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

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("verify/<str:token>/", views.VerifyTokenView.as_view(), name="verify_token"),
    *router.urls,
    re_path(r"^.*$", views.not_found),
]
