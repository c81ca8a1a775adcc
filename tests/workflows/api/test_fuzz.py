"""Schemathesis against the OpenAPI schema, as each role and as the public: no answer is a 5xx, and every
answer (status, content type, body) conforms to the schema. A bounded number of examples per operation."""

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import ROLES, api_key

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql, pytest.mark.fuzz]

EXAMPLES_PER_OPERATION = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def keep_the_test_connection():
    """The WSGI handler closes the database connection after each request; the test's transaction must stay
    open (Django's own test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.parametrize("role", [*ROLES, None])
def test_no_answer_is_a_server_error_and_every_answer_fits_the_schema(world, role, keep_the_test_connection):
    cache.clear()
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    headers = {}
    if role is not None:
        headers["Authorization"] = f"Token {api_key(world['users'][role])}"
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        call()
