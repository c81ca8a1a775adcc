"""Forms keep what was typed and say what is wrong beside the field (the walk's findings)."""

import pytest

from certification.models import Objection, Outcome, Stage
from certification.services.notices import objection_file
from certification.tasks import fire_due_timers
from tests.workflows.test_flows import clock, declare, state, to_notice
from tests.worlds import at, field_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "clock")]
__all__ = ["clock"]  # the autouse clock of the flow tests: inside the declaration window


def test_resolving_as_downgraded_without_a_grade_keeps_the_decision_and_the_reason(client, world):
    _institution, people, _experts = world
    with at(2026, 3, 1, 9, 0):
        d = declare(client, world)
        to_notice(d, world)
        objection_file(notice=d.case.notices.get(), case=d.case, name="王五", contact="13800000000",
                       grounds="库房漏水")
    with at(2026, 3, 10, 0, 1):
        fire_due_timers()
    objection = Objection.objects.get(case=d.case)
    with at(2026, 3, 11, 9, 0):
        response = d.post(people["staff"], "resolve_objections", "resolve",
                          {"objection": objection.pk, "decision": "downgraded", "reason": "部分属实，库房有渗漏"},
                          expect=200)
    page = response.content.decode()
    assert field_error(response, "resolve-grade") == ["请选择异议处理后的等级。"]
    assert 'value="downgraded" selected' in page
    assert "部分属实，库房有渗漏" in page
    assert state(d.case) == (Stage.NOTICE, Outcome.OPEN)
