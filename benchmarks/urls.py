"""The site's URLs plus the benchmark's floor: a signed-in page that renders the base template and nothing
else. Used only by ``benchmarks.pages`` (``override_settings(ROOT_URLCONF="benchmarks.urls")``)."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("__floor__/", login_required(TemplateView.as_view(template_name="base.html")), name="bench_floor"),
    path("", include("config.urls")),
]
