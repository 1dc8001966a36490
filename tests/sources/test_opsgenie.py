"""Opsgenie alert webhooks: actions, P1–P5, epoch ms and ns."""

from __future__ import annotations

import pytest

from chronosops.sources import SourcePayloadError
from tests.sources.payloads import at, load, normalise, one, request_of


def test_create_opens_the_alert_with_its_tags_entity_and_team() -> None:
    event = one("opsgenie", "create")
    assert (event.action, event.source_ref) == ("trigger", "ec03dad6-62c8-4c94-b38b-d88f398e900f")
    request = event.request
    assert request is not None
    assert request.title == "ledger-db replication lag above 30 s"
    assert request.severity == "high"
    assert request.timeline.start == at("2024-03-12T08:43:01.288Z")  # createdAt, epoch ms
    assert request.description == "Replica ledger-db-2 is 47 s behind the primary."
    assert request.metadata is not None
    assert request.metadata.tags == {
        "db": "",
        "env": "prod",
        "team": "ledger",
        "service": "ledger-db",
    }
    assert (request.metadata.service, request.metadata.team) == ("ledger-db", "Ledger")
    assert (request.metadata.custom_fields or {})["details"] == {
        "replica": "ledger-db-2",
        "lag_seconds": "47",
    }


def test_close_resolves_at_updated_at_in_nanoseconds() -> None:
    event = one("opsgenie", "close")
    assert (event.action, event.resolved_at) == ("resolve", at("2024-03-12T09:22:54.669001Z"))


def test_live_actions_keep_the_alert_open_and_notes_change_nothing() -> None:
    assert one("opsgenie", "acknowledge").action == "acknowledge"
    note = one("opsgenie", "add_note")
    assert (note.action, note.request) == ("ignore", None)
    unknown = {**load("opsgenie", "create"), "action": "SomethingNew"}
    assert one("opsgenie", unknown).action == "ignore"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("P1", "critical"), ("P2", "high"), ("P3", "medium"), ("P4", "low"), ("P5", "info"), (3, "medium")],
)  # fmt: skip
def test_priorities_map_to_severities(priority: object, severity: str) -> None:
    payload = load("opsgenie", "create")
    payload["alert"]["priority"] = priority
    assert request_of("opsgenie", payload).severity == severity


def test_an_older_payload_with_a_numeric_priority_and_no_team_reads_too() -> None:
    request = request_of("opsgenie", "create_numeric_priority")
    assert request.severity == "medium"
    assert request.timeline.start == at("2015-01-05T10:03:11.104Z")
    assert request.metadata is not None
    assert request.metadata.tags is None


def test_anything_else_is_not_an_opsgenie_payload_in_plain_english() -> None:
    with pytest.raises(SourcePayloadError) as refused:
        normalise("opsgenie", {"action": "Create", "alert": 5})
    assert refused.value.message == "Not an Opsgenie payload ChronosOps recognises"
    assert refused.value.errors[0].message.startswith("is not an Opsgenie payload")
