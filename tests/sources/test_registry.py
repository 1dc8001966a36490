"""Every registered source honours the contract on every payload file it ships with."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from chronosops.config import Settings, webhook_setting
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.sources import UnknownSourceError, registry, request_json
from chronosops.sources.base import Source
from tests.fixtures.import_graph import vendor_leaf_violations
from tests.sources.payloads import every, load

RECEIVED = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)
SHARED = {"base", "builder", "fields", "instants", "alert_groups", "registry"}


def test_the_registry_lists_the_eight_vendors_by_kind() -> None:
    assert registry.kinds() == [
        "pagerduty",
        "datadog",
        "newrelic",
        "google-cloud-monitoring",
        "google-cloud-status",
        "alertmanager",
        "grafana",
        "opsgenie",
    ]


def test_an_unknown_kind_is_a_not_found_error_naming_the_known_ones() -> None:
    with pytest.raises(UnknownSourceError, match="known sources: pagerduty, datadog"):
        registry.get("splunk")


def test_a_source_must_have_a_slug_kind_and_shapes() -> None:
    with pytest.raises(TypeError, match="lowercase slug"):
        type("Bad", (Source,), {"kind": "Bad Kind", "shapes": ("x",)})
    with pytest.raises(TypeError, match="shapes"):
        type("NoShapes", (Source,), {"kind": "no-shapes", "shapes": ()})


@pytest.mark.parametrize("kind", registry.kinds())
def test_every_source_has_a_documented_setting_and_is_off_without_it(kind: str) -> None:
    field = webhook_setting(kind, "TOKEN").removeprefix("CHRONOSOPS_").lower()
    assert field in Settings.model_fields
    assert kind not in Settings().webhooks.tokens


@pytest.mark.parametrize(("kind", "name"), every())
def test_every_payload_file_normalises_into_valid_storable_requests(kind: str, name: str) -> None:
    source = registry.get(kind)
    payload = load(kind, name)
    untouched = copy.deepcopy(payload)
    first = source.parse(payload, headers={}, received_at=RECEIVED)
    again = source.parse(payload, headers={}, received_at=RECEIVED)
    assert payload == untouched, "parse must not change its input"
    assert first == again, "parse is a pure function of its input"
    assert first.shape in {shape.name for shape in source.shapes}
    for event in first.events:
        assert event.source_type == source.source_type
        assert 1 <= len(event.source_ref) <= 512
        event.to_json()
        if event.request is not None:
            wire = json.loads(json.dumps(request_json(event.request)))
            # what the generic ingest API accepts back, unchanged (times render to the ms)
            assert request_json(IngestIncidentRequest.model_validate(wire)) == wire


@pytest.mark.parametrize("kind", registry.kinds())
def test_every_shape_of_every_source_has_a_payload_file(kind: str) -> None:
    source = registry.get(kind)
    seen = {
        source.parse(load(kind, name), headers={}, received_at=RECEIVED).shape
        for payload_kind, name in every()
        if payload_kind == kind
    }
    assert seen == {shape.name for shape in source.shapes}


def test_vendor_modules_are_leaves_reached_only_through_the_registry() -> None:
    assert vendor_leaf_violations("chronosops.sources", SHARED) == []
