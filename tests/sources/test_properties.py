"""Whatever a vendor sends, a source either normalises it into valid requests or names the problem."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.sources import SourcePayloadError, registry, request_json
from chronosops.sources.builder import clip
from chronosops.sources.instants import read_instant
from tests.sources.strategies import json_values, mutated_payloads

RECEIVED = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)
# Generation speed depends on the machine's load, not on the code under test.
RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large]


def check(kind: str, body: Any) -> None:
    source = registry.get(kind)
    try:
        result = source.parse(body, headers={}, received_at=RECEIVED)
    except SourcePayloadError as error:
        problem: SourcePayloadError | None = error
    else:
        problem = None
    if problem is not None:
        assert problem.message
        assert all(isinstance(item.path, str) and item.message for item in problem.errors)
        return
    for event in result.events:
        assert event.source_type == source.source_type
        assert 1 <= len(event.source_ref) <= 512
        if event.request is not None:
            assert IngestIncidentRequest.model_validate(request_json(event.request))
        if event.action == "resolve":
            assert event.resolved_at is not None
            assert event.resolved_at.tzinfo is not None


@pytest.mark.parametrize("kind", registry.kinds())
@settings(max_examples=100, deadline=None, suppress_health_check=RELAXED)
@given(data=st.data())
def test_mutated_vendor_payloads_normalise_or_fail_with_a_named_field(
    kind: str, data: st.DataObject
) -> None:
    check(kind, data.draw(mutated_payloads(kind)))


@pytest.mark.parametrize("kind", registry.kinds())
@settings(max_examples=50, deadline=None, suppress_health_check=RELAXED)
@given(body=json_values)
def test_arbitrary_json_normalises_or_fails_with_a_named_field(kind: str, body: Any) -> None:
    check(kind, body)


@settings(max_examples=300, deadline=None, suppress_health_check=RELAXED)
@given(value=json_values)
def test_any_vendor_time_reads_as_utc_or_as_absent(value: Any) -> None:
    read = read_instant(value)
    assert read.value is None or read.value.utcoffset() is not None


@settings(max_examples=300, deadline=None, suppress_health_check=RELAXED)
@given(text=st.text(min_size=0, max_size=700), limit=st.integers(2, 600))
def test_clipping_never_exceeds_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    assert len(clipped) <= max(limit, len(text) if len(text) <= limit else limit)
    if len(text) <= limit:
        assert clipped == text
    else:
        assert clipped.endswith("…")
        assert text.startswith(clipped[:-1])
