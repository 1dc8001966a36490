"""Registering a reference that a read just before found unstored: the unique key decides."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.incidents import Registration

START = datetime(2024, 3, 12, 8, 0, tzinfo=UTC)


def alert(ref: str, start: datetime = START, **timeline: datetime) -> IngestIncidentRequest:
    return IngestIncidentRequest.model_validate(
        {
            "sourceType": "OPSGENIE",
            "sourceRef": ref,
            "title": "t",
            "timeline": {"start": start, **timeline},
        }
    )


async def register_unseen(services: Services, request: IngestIncidentRequest) -> Registration:
    async with services.database.unit_of_work() as session:
        return await services.incidents.register(
            session, request, by="test", incident_id=services.incidents.new_id(), unseen=True
        )


async def test_an_unseen_reference_opens_its_first_occurrence(services: Services) -> None:
    registration = await register_unseen(services, alert("a-1"))
    assert registration.created
    assert registration.incident.occurrence == 1


async def test_a_reference_stored_since_the_read_is_matched_not_opened_twice(
    services: Services,
) -> None:
    first = await services.pipeline.ingest(alert("a-1"), principal=SYSTEM_PRINCIPAL)
    registration = await register_unseen(services, alert("a-1"))
    assert not registration.created
    assert registration.incident.id == first.response.incident_id


async def test_a_reference_whose_incident_ended_since_the_read_opens_the_next_occurrence(
    services: Services,
) -> None:
    await services.pipeline.ingest(
        alert("a-1", end=START + timedelta(minutes=5)), principal=SYSTEM_PRINCIPAL
    )
    registration = await register_unseen(services, alert("a-1", START + timedelta(hours=1)))
    assert registration.created
    assert registration.incident.occurrence == 2


async def test_an_ingest_of_a_reference_whose_incident_ended_opens_its_next_occurrence(
    services: Services,
) -> None:
    # On PostgreSQL the ingest sends its first occurrence's insert with the reference's
    # state; the first occurrence's slot is taken, so the next one is opened as before.
    first = await services.pipeline.ingest(
        alert("a-1", end=START + timedelta(minutes=5)), principal=SYSTEM_PRINCIPAL
    )
    again = await services.pipeline.ingest(
        alert("a-1", START + timedelta(hours=1)), principal=SYSTEM_PRINCIPAL
    )
    assert again.created
    assert again.response.incident_id != first.response.incident_id
    async with services.database.unit_of_work(write=False) as session:
        stored = await services.incidents.get(session, again.response.incident_id)
    assert stored.occurrence == 2


async def test_of_concurrent_first_alerts_of_one_reference_one_opens_and_the_rest_match_it(
    services: Services,
) -> None:
    outcomes = await asyncio.gather(
        *(services.pipeline.ingest(alert("a-1"), principal=SYSTEM_PRINCIPAL) for _ in range(6))
    )
    assert sorted(outcome.created for outcome in outcomes) == [False] * 5 + [True]
    assert len({outcome.response.incident_id for outcome in outcomes}) == 1


async def test_a_new_incident_read_when_first_asked_is_the_incident_as_stored(
    services: Services,
) -> None:
    request = IngestIncidentRequest.model_validate(
        {
            "sourceType": "CUSTOM",
            "sourceRef": "a-lazy",
            "title": "t",
            "severity": "high",
            "timeline": {"start": START, "detectedAt": START + timedelta(minutes=1)},
            "metadata": {"service": "api", "environment": "prod", "tags": {"team": "core"}},
        }
    )
    registration = await register_unseen(services, request)
    assert registration.created
    assert registration.row.id == registration.incident.id
    async with services.database.unit_of_work(write=False) as session:
        stored = await services.incidents.get(session, registration.row.id)
    assert registration.incident == stored
    assert registration.incident is registration.incident  # built once


async def test_a_matched_incident_is_read_as_it_was_when_registered(services: Services) -> None:
    await services.pipeline.ingest(alert("a-2"), principal=SYSTEM_PRINCIPAL)
    later_end = START + timedelta(minutes=9)
    async with services.database.unit_of_work() as session:
        registration = await services.incidents.register(
            session, alert("a-2", end=later_end), by="test"
        )
        registration.row.title = "changed after registering"
    assert not registration.created
    assert registration.changes["end"]["to"] == "2024-03-12T08:09:00.000Z"
    assert registration.incident.title == "t"
    assert registration.incident.timeline.end == later_end
