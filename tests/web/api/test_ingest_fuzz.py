"""Whatever a caller sends, the answer is a 2xx or a 4xx with a body naming the problem."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "sourceType",
    "sourceRef",
    "title",
    "description",
    "severity",
    "timeline",
    "metadata",
    "evidenceLite",
    "sourcePayload",
    "collectionContext",
]


@st.composite
def mutated_requests(draw: st.DrawFn) -> dict[str, Any]:
    """The Basic Request with a few fields replaced by arbitrary JSON, removed or added."""
    body: dict[str, Any] = request(sourceRef=draw(st.text(min_size=1, max_size=20)))
    for field in draw(st.lists(st.sampled_from([*FIELDS, "extraField"]), max_size=3, unique=True)):
        if draw(st.booleans()):
            body[field] = draw(json_values)
        else:
            body.pop(field, None)
    return body


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(body=mutated_requests())
async def test_mutated_requests_never_cause_a_server_error(
    client: httpx.AsyncClient, analyst: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post(INGEST, json=body, headers=analyst)
    assert response.status_code in (200, 201, 400), response.text
    if response.status_code == 400:
        assert response.json()["message"] == "Invalid request body"
        assert all(
            error["path"] is not None and error["message"] for error in response.json()["errors"]
        )
    else:
        assert response.json()["status"] in ("analyzed", "created")


@FUZZ
@given(body=json_values)
async def test_arbitrary_json_never_causes_a_server_error(
    client: httpx.AsyncClient, analyst: dict[str, str], body: Any
) -> None:
    response = await client.post(
        INGEST, content=json.dumps(body), headers={**analyst, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


@FUZZ
@given(raw=st.binary(max_size=200))
async def test_arbitrary_bytes_never_cause_a_server_error(
    client: httpx.AsyncClient, analyst: dict[str, str], raw: bytes
) -> None:
    response = await client.post(
        INGEST, content=raw, headers={**analyst, "Content-Type": "application/json"}
    )
    assert response.status_code in (200, 201, 400)


async def test_an_overlong_idempotency_key_is_a_400(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(
        INGEST, json=request(), headers={**analyst, "Idempotency-Key": "k" * 257}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "Idempotency-Key"
