"""Response headers a security assessor checks (等保 2.0): a strict Content-Security-Policy on every page,
``no-store`` on signed-in pages and the API, and no browsable API in production."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.config.test_settings import GOOD_ENV, ROOT
from tests.factories import UserFactory
from tests.worlds import run_case

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in header.split(";"))


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "stored"), [("/", True), ("/notices/", True), ("/verify/", True),
                                              ("/accounts/login/", False)])  # Django's login is never cached
def test_every_public_page_carries_the_strict_policy(client, path, stored):
    response = client.get(path)

    assert response.status_code == 200
    assert policy(response) == STRICT
    assert ("no-store" not in response.headers.get("Cache-Control", "")) is stored


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["home", "inbox", "case_list", "notifications:inbox"])
def test_a_signed_in_page_carries_the_strict_policy_and_is_never_stored(client, name):
    client.force_login(UserFactory())

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert policy(response) == STRICT
    assert set(response.headers["Cache-Control"].replace(" ", "").split(",")) >= {"no-store", "private"}


@pytest.mark.django_db
def test_the_api_is_never_stored_even_when_it_refuses(client):
    refused = client.get("/api/v1/cases/")
    client.force_login(UserFactory())
    listed = client.get("/api/v1/cases/")

    assert (refused.status_code, listed.status_code) == (401, 200)
    for response in (refused, listed):
        assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.django_db
def test_the_api_documentation_loads_only_our_files_and_no_inline_script(client):
    client.force_login(UserFactory())
    page = client.get(reverse("api:docs")).content.decode()

    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith(("/static/", "/api/v1/docs/")) for s in sources), sources
    assert re.findall(r"<script>", page) == []
    script = client.get(reverse("api:docs") + "?script=")
    assert (script.status_code, script["Content-Type"].split(";")[0]) == (200, "application/javascript")


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_a_documents_own_html_is_sandboxed_with_only_its_style_sheet(client, world):
    case = run_case(world)
    _institution, people, _experts = world
    client.force_login(people["staff"])

    response = client.get(reverse("documents:case_document_html", args=[case.pk, "notice_result"]))

    assert response.status_code == 200
    assert policy(response) == {"default-src": "'none'", "style-src": "'unsafe-inline'", "img-src": "data:",
                                "sandbox": ""}


TEMPLATES = Path(ROOT) / "templates"


def test_no_page_template_has_an_inline_script_style_or_event_handler():
    """The policy forbids them, so none may be written (a document's template is printed, not browsed)."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        if path.relative_to(TEMPLATES).parts[0] in ("documents",):
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"<style\b", r"\sstyle=\"", r"\son[a-z]+=\""):
            found += [f"{path.relative_to(TEMPLATES)}: {m}" for m in re.findall(pattern, text)]
    assert found == []


def test_production_serves_the_api_as_json_only():
    clean = {k: v for k, v in os.environ.items() if k not in GOOD_ENV}
    code = ("import django, json; django.setup(); from django.conf import settings; "
            "print(json.dumps(settings.REST_FRAMEWORK['DEFAULT_RENDERER_CLASSES']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **GOOD_ENV},  # noqa: S603
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["rest_framework.renderers.JSONRenderer"]
