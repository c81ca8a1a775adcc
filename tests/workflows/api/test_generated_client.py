"""A platform team's day: a Python client generated from /api/v1/schema/ by openapi-python-client (a pinned,
test-only dependency), used as generated against a running server — sign in, list and filter cases, complete a
task, file an objection, verify a certificate. Nothing of the client is written by hand."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from certification.models import Stage
from tests.worlds import staff_of
from workflows.engine import case_start_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]

PACKAGE = "platform_client"


@pytest.fixture
def generated(tmp_path):
    """The client, generated from the schema into a temporary package and imported."""
    schema = tmp_path / "schema.yaml"
    schema.write_bytes(APIClient().get("/api/v1/schema/").content)
    bin_dir = Path(sys.executable).parent  # the generator formats its output with ruff, installed beside it
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(bin_dir / "openapi-python-client"), "generate", "--path", str(schema),  # noqa: S603
                             "--meta", "none", "--output-path", str(tmp_path / PACKAGE)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # every operation was generated
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_a_generated_client_signs_in_lists_acts_objects_and_verifies(generated, live_server, make_case, bureaus,
                                                                    archives_version):
    from certification.models import Notice
    from tests.factories import CertificateFactory

    case, _applicant = make_case()
    case_start_process(case)
    make_case("县水利局")
    staff = staff_of(bureaus["county"], username="clerk")
    certificate = CertificateFactory(institution=case.institution, scheme_version=archives_version,
                                     issued_by=bureaus["province"], approved_by=bureaus["county"])
    client_module = generated("client")
    models = generated("models")

    # sign in: a token for the password (a wrong one is a typed 401 error)
    token_create = generated("api.auth.auth_token_create")
    public = client_module.Client(base_url=live_server.url, raise_on_unexpected_status=True)
    wrong = token_create.sync_detailed(client=public, body=models.TokenObtainRequest(username="clerk",
                                                                                      password="wrong"))
    assert (wrong.status_code, wrong.parsed.code) == (401, "authentication_failed")
    token = token_create.sync(client=public, body=models.TokenObtainRequest(
        username="clerk", password="pw-for-tests", name="platform")).token
    api = client_module.AuthenticatedClient(base_url=live_server.url, token=token, prefix="Token",
                                            raise_on_unexpected_status=True)
    assert staff.api_tokens.count() == 1

    # list and filter the cases
    cases_list = generated("api.cases.cases_list")
    everything = cases_list.sync(client=api)
    assert len(everything.results) == 2
    declared = cases_list.sync(client=api, stage=models.CasesListStage.DECLARED, institution=case.institution_id)
    assert [c.id for c in declared.results] == [case.pk]
    assert declared.results[0].stage_display

    # complete the case's task with its typed action
    tasks = generated("api.tasks.tasks_list").sync(client=api, case=case.pk).results
    assert [t.node for t in tasks] == ["plan"]
    result = generated("api.tasks.tasks_complete_create").sync(client=api, id=tasks[0].id, body=models.TaskActionPlan(
        action=models.TaskActionPlanAction.PLAN,
        data=models.TaskActionPlanData(decision=models.TaskActionPlanDataDecision.INCLUDE)))
    assert (result.done, result.stage) == (True, models.CaseStageEnum.PLANNED)
    case.refresh_from_db()
    assert case.stage == Stage.PLANNED

    # file an objection to a case on an open notice (no sign-in)
    from django.utils import timezone
    notice = Notice.objects.create(bureau=bureaus["county"], title="公示", published_at=timezone.now(),
                                   closes_at=timezone.now() + timezone.timedelta(days=7))
    notice.cases.set([case])
    receipt = generated("api.notices.notices_objections_create").sync(
        client=public, id=notice.pk, body=models.ObjectionFileRequest(case=case.pk, name="张三",
                                                                      contact="13800000000", grounds="材料不实"))
    assert receipt.receipt
    assert case.objections.get().name == "张三"

    # verify a certificate by its number (no sign-in)
    shown = generated("api.verify.verify_by_number").sync(client=public, number=certificate.number)
    assert (shown.number, shown.holder) == (certificate.number, case.institution.name)
