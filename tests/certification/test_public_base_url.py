"""The certificate's QR code names the site's configured public address, and the deploy check refuses a
production without an https one (the walk found every QR code naming 127.0.0.1:8000)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from certification.checks import public_base_url_check


@pytest.mark.parametrize(("value", "errors"), [
    ("", ["certification.E001"]),
    ("http://dangan.example.gov.cn", ["certification.E002"]),
    ("https://", ["certification.E002"]),
    ("https://dangan.example.gov.cn", []),
])
def test_the_deploy_check_wants_an_https_public_address(value, errors):
    with override_settings(CERTIFICATION_PUBLIC_BASE_URL=value):
        assert [e.id for e in public_base_url_check(None)] == errors


def test_manage_check_deploy_fails_without_the_public_address():
    with override_settings(CERTIFICATION_PUBLIC_BASE_URL=""), pytest.raises(SystemCheckError, match="E001"):
        call_command("check", "--deploy", "--tag", "certification")


def test_the_run_command_sets_the_public_address_of_its_run():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "scripts" / "run.sh").read_text()
    assert 'export CERTIFICATION_PUBLIC_BASE_URL=${CERTIFICATION_PUBLIC_BASE_URL:-${URL%/}}' in script
