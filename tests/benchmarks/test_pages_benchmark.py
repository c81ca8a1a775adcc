"""The page benchmark's seeder and measurement, at a tiny scale, inside the test database."""

import json

import pytest
from django.urls import reverse
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task

from benchmarks import pages
from certification.models import Case, Certificate, Institution, Outcome, Stage, User
from workflows.flows import CaseFlow

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db, pytest.mark.usefixtures("media")]

SCALE = 0.004  # 240 cases, 200 certificates: the demo's bureaus, institutions and experts already exceed it


def seeded_open_task(node, **filters):
    """An open task at ``node`` of a case the seeder made (declared by one of its applicants)."""
    return (Task.objects.filter(flow_task=get_task_ref(getattr(CaseFlow, node)), status__in=["NEW", "ASSIGNED"],
                                **filters)
            .filter(process__artifact_object_id__in=Case.objects.filter(
                declared_by__username__startswith="bench-").values("pk"))
            .order_by("pk").first())


def test_the_page_benchmark_seeds_what_it_asks_and_times_every_page(client):
    world = pages.build_demo()
    targets = pages.pick_targets()
    want = pages.grow(world, SCALE)

    assert Case.objects.count() == want["cases"]
    assert Institution.objects.count() >= want["institutions"]
    assert Certificate.objects.count() == want["certificates"]
    assert set(Case.objects.values_list("stage", flat=True)) == set(Stage.values)
    assert set(Case.objects.values_list("outcome", flat=True)) == set(Outcome.values)

    # the bureau's clerk finds a seeded declaration to plan in the inbox, and can open it
    clerk = User.objects.get(username="bureau")
    plan = seeded_open_task("plan", owner__isnull=True)
    case_pk = plan.process.artifact_object_id
    client.force_login(clerk)
    inbox = client.get(reverse("inbox")).content.decode()
    assert reverse("case_task", args=[case_pk, plan.pk]) in inbox
    assert client.get(reverse("case_task", args=[case_pk, plan.pk])).status_code == 200
    # the demo's expert scores a seeded case on its panel
    expert = User.objects.get(username="expert")
    score = seeded_open_task("score", owner=expert)
    client.force_login(expert)
    assert client.get(reverse("case_task", args=[score.process.artifact_object_id, score.pk])).status_code == 200

    measured = pages.measure(targets, repeat=1, warm=False)
    result = json.loads(json.dumps(pages.report(measured, measured, sizes_demo=pages.sizes(),
                                                sizes_province=pages.sizes(), seconds={"demo": 0, "province": 0})))

    roles = {name.split(" ", 1)[0] for name in result["pages"]}
    assert roles == {"applicant", "bureau_staff", "prechecker", "expert", "approver", "certificate_officer",
                     "auditor", "public"}
    assert {"bureau_staff inbox", "bureau_staff cases deep", "bureau_staff case", "bureau_staff api tasks detail",
            "expert api sheets detail", "certificate_officer certificate queue", "public verify"} <= set(
        result["pages"])
    assert result["errors"] == []
    assert all(row["province"]["p50"] > 0 for row in result["pages"].values())
    assert all(row["province"]["queries"] > 0 for row in result["pages"].values())
    assert result["floor_ms"] > 0
    assert result["sizes"]["cases"] == want["cases"]
