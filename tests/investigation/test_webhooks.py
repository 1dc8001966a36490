"""How a delivery is named and answered: delivery ids, status codes (decided at the web edge),
the summary line."""

from __future__ import annotations

from datetime import UTC, datetime

from chronosops.investigation.webhooks import (
    EventResult,
    Outcome,
    delivery_id_of,
    summarise,
)
from chronosops.sources import SourceEvent, registry
from chronosops.web.api.webhooks import delivery_status


def result(outcome: Outcome) -> EventResult:
    event = SourceEvent(
        action="resolve",
        source_type="GRAFANA",
        source_ref="r",
        summary="s",
        resolved_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    return EventResult(event=event, outcome=outcome, message="")


def test_the_vendors_delivery_header_comes_first_then_the_generic_ones() -> None:
    pagerduty = registry.get("pagerduty")
    assert delivery_id_of(pagerduty, {"X-Webhook-Id": "wh-1", "Idempotency-Key": "k"}) == "wh-1"
    assert delivery_id_of(registry.get("grafana"), {"Idempotency-Key": " k-7 "}) == "k-7"
    assert delivery_id_of(registry.get("grafana"), {"X-Webhook-Id": "   "}) is None


def test_an_over_long_delivery_id_is_hashed_to_a_bounded_key() -> None:
    found = delivery_id_of(registry.get("grafana"), {"X-Webhook-Id": "x" * 1000})
    assert found is not None
    assert found.startswith("sha256:")
    assert len(found) == 71


def test_created_wins_then_matched_then_untouched() -> None:
    assert delivery_status([result("unmatched"), result("created")]) == 201
    assert delivery_status([result("unmatched"), result("resolved")]) == 200
    assert delivery_status([result("unmatched"), result("recorded")]) == 202
    assert delivery_status([]) == 202


def test_the_summary_counts_each_outcome() -> None:
    assert summarise([result("created"), result("created"), result("unmatched")]) == (
        "2 incident(s) created; 1 for an unknown reference (recorded, nothing created)"
    )
    assert summarise([]).startswith("Nothing to do")
