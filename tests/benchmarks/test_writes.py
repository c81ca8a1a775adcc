"""``benchmarks.writes.measure`` in a database already set up: three cases taken from declaration to
certificate through the case actions, and the floors measured beside them."""

import json

import pytest

from benchmarks.writes import measure
from certification.models import Case, IssuedDocument

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def test_measure_takes_its_cases_to_their_certificates_and_reports_positive_numbers():
    result = json.loads(json.dumps(measure(cases=3)))

    certified = Case.objects.filter(outcome="certified", certificate__isnull=False)
    assert certified.count() == 3 and result["certified"] == 3
    assert IssuedDocument.objects.filter(case__in=certified, certificate__isnull=True).count() == 3 * 6
    assert result["drawings_sent"] == 3 * 7  # six documents at approval and the certificate, each case
    numbers = {k: v for k, v in result.items() if isinstance(v, int | float)}
    assert {"cases_per_second", "seconds_per_transition", "queries_per_transition", "transition_ratio",
            "approval_seconds", "floor_page_seconds", "approval_ratio"} <= set(numbers)
    assert all(v > 0 for v in numbers.values()), numbers
