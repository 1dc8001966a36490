"""Resolving by reference: the open incident ends, nothing is ever opened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.incidents import Resolution

START = datetime(2024, 3, 12, 8, 0, tzinfo=UTC)


async def open_incident(services: Services, ref: str) -> str:
    request = IngestIncidentRequest.model_validate(
        {"sourceType": "OPSGENIE", "sourceRef": ref, "title": "t", "timeline": {"start": START}}
    )
    outcome = await services.pipeline.ingest(request, principal=SYSTEM_PRINCIPAL)
    return outcome.response.incident_id


async def resolve(services: Services, ref: str, at: datetime) -> Resolution:
    async with services.database.unit_of_work() as session:
        return await services.incidents.resolve(
            session, source_type="OPSGENIE", source_ref=ref, at=at
        )


async def test_a_resolve_ends_the_open_incident_and_reports_the_change(services: Services) -> None:
    incident_id = await open_incident(services, "a-1")
    resolution = await resolve(services, "a-1", START + timedelta(minutes=30))
    assert resolution.outcome == "resolved"
    assert resolution.changes["end"] == {"from": None, "to": "2024-03-12T08:30:00.000Z"}
    async with services.database.unit_of_work(write=False) as session:
        stored = await services.incidents.get(session, incident_id)
    assert stored.is_resolved
    assert stored.timeline.end == stored.timeline.resolved_at == START + timedelta(minutes=30)


async def test_a_second_resolve_changes_nothing(services: Services) -> None:
    await open_incident(services, "a-1")
    await resolve(services, "a-1", START + timedelta(minutes=30))
    again = await resolve(services, "a-1", START + timedelta(hours=2))
    assert again.outcome == "already-resolved"
    assert again.incident is not None
    assert again.incident.timeline.end == START + timedelta(minutes=30)


async def test_a_resolve_for_an_unknown_reference_opens_nothing(services: Services) -> None:
    assert (await resolve(services, "nobody", START)).outcome == "unmatched"
    async with services.database.unit_of_work(write=False) as session:
        assert await services.incidents.find(session, "OPSGENIE", "nobody") is None


async def test_a_resolve_before_the_start_ends_the_incident_at_its_start(
    services: Services,
) -> None:
    await open_incident(services, "a-1")
    resolution = await resolve(services, "a-1", START - timedelta(minutes=3))
    assert resolution.clamped
    assert resolution.incident is not None
    assert resolution.incident.timeline.end == START
