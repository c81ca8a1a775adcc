import pytest
from django.core.management import call_command

from certification.models import User
from certification.services.demo import demo_seed
from workflows.demo import demo_cases
from workflows.engine import inbox

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def test_each_demo_login_finds_work_in_its_inbox_and_seeding_twice_adds_nothing(archives_version, settings,
                                                                                tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("load_scheme", verbosity=0)
    demo_seed()
    created = demo_cases()
    assert len(created) >= 2
    tasks = {name: {t.flow_task.name for t in inbox(User.objects.get(username=name))}
             for name in ("bureau", "applicant", "prechecker", "expert")}
    assert tasks["bureau"] == {"plan"} and tasks["prechecker"] == {"precheck"} and tasks["expert"] == set()
    assert tasks["applicant"] <= {"self_check"}  # only when its grade's one-year wait fits this year's window
    assert demo_cases() == []
