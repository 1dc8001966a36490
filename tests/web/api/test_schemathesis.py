"""No request the OpenAPI document allows — or nearly allows — is a server error.

Schemathesis generates requests from ``/openapi.json`` (valid ones and near misses) and sends
them to the real app, over HTTP, on the suite's database (SQLite, or PostgreSQL when
CHRONOSOPS_TEST_DATABASE_URL is set), with an admin token. The stateful phase chains calls
through the links it infers (an ingest's ``incidentId`` into the reads of that incident), so it
reaches what a single request cannot. Bounded: a few examples per operation, well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.schemas import OpenApiSchema

from chronosops.auth import Role
from chronosops.bootstrap import build_services
from tests.fixtures.app import ALL_ROLES, make_settings
from tests.fixtures.live_server import LiveServer, live_server

# Tens of seconds on a busy machine: handed out first (tests/conftest.py).
pytestmark = pytest.mark.long

BOUNDED = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    with live_server(make_settings(database_url)) as running:
        yield running


@pytest.fixture
def admin_headers(server: LiveServer) -> dict[str, str]:
    issuer = build_services(server.settings).issuer
    assert issuer is not None
    token = issuer.mint(subject="schemathesis", roles=list(ALL_ROLES), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_schema(server: LiveServer) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def test_no_single_request_is_a_server_error(
    api_schema: OpenApiSchema, admin_headers: dict[str, str]
) -> None:
    """Every operation, with valid and with near-miss input; all failures are listed at once."""
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @BOUNDED
        def send(case: Any) -> None:
            case.call_and_validate(headers=admin_headers, checks=[not_a_server_error])

        try:
            send()
        except Exception as failure:  # noqa: BLE001 — collected, then reported together
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)


def test_no_sequence_of_requests_is_a_server_error(
    api_schema: OpenApiSchema, admin_headers: dict[str, str]
) -> None:
    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": admin_headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=[not_a_server_error])

    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_the_admin_token_is_accepted(server: LiveServer, admin_headers: dict[str, str]) -> None:
    """Guards the two tests above: with a refused token they would see only 401s."""
    response = httpx.get(f"{server.url}/v1/auth/whoami", headers=admin_headers)
    assert response.status_code == 200
    assert Role.ADMIN.value in response.json()["user"]["roles"]
