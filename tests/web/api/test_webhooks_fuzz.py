"""No delivery, however malformed, gets a 5xx from a webhook: a 2xx, or a 4xx naming the problem."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronosops.sources import registry
from tests.fixtures.webhooks import Hooks
from tests.sources.strategies import json_values, mutated_payloads

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def assert_answered(response: Any) -> None:
    assert response.status_code in (200, 201, 202, 400), response.text
    body = response.json()
    if response.status_code == 400:
        assert body["message"]
        assert all(error["message"] for error in body["errors"])
    else:
        assert isinstance(body["events"], list)


@pytest.mark.parametrize("kind", registry.kinds())
@FUZZ
@given(data=st.data())
async def test_mutated_vendor_payloads_never_cause_a_server_error(
    kind: str, hooks: Hooks, data: st.DataObject
) -> None:
    assert_answered(await hooks.post(kind, data.draw(mutated_payloads(kind))))


@FUZZ
@given(kind=st.sampled_from(registry.kinds()), body=json_values)
async def test_arbitrary_json_never_causes_a_server_error(
    hooks: Hooks, kind: str, body: Any
) -> None:
    assert_answered(await hooks.post(kind, body))


@FUZZ
@given(kind=st.sampled_from(registry.kinds()), raw=st.binary(max_size=200))
async def test_arbitrary_bytes_never_cause_a_server_error(
    hooks: Hooks, kind: str, raw: bytes
) -> None:
    assert_answered(await hooks.post(kind, raw))
