"""Signed checkpoints: deleting the chain's last events, an incident's last events, or rewriting
events and recomputing every hash no longer verifies as intact."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, update

from chronosops.audit.schemas import hash_input
from chronosops.auth import Role
from chronosops.bootstrap import Services, metadata
from chronosops.core.canonical import content_hash
from tests.fixtures.app import ClientFactory, bearer

KEY = "4f6c1d0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
OTHER_KEY = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3"

events_table = metadata.tables["audit_event"]
checkpoints_table = metadata.tables["audit_checkpoint"]

Keyed = tuple[httpx.AsyncClient, Services, dict[str, str]]


@pytest.fixture
async def keyed(client_with: ClientFactory) -> Keyed:
    """A server with a checkpoint key that signs only on demand, so tests place checkpoints."""
    client, services = await client_with(
        audit_checkpoint_key=KEY,
        audit_checkpoint_every_events=0,
        audit_checkpoint_interval_minutes=0,
    )
    return client, services, _admin(services)


def _token(services: Services, role: Role) -> dict[str, str]:
    assert services.issuer is not None
    return bearer(services.issuer.mint(subject="someone", roles=[role], ttl=timedelta(hours=1)))


def _admin(services: Services) -> dict[str, str]:
    return _token(services, Role.ADMIN)


async def record(services: Services, *incident_ids: str | None) -> None:
    """One event per id (None: an event about no incident), in one transaction each."""
    for number, incident_id in enumerate(incident_ids):
        async with services.database.unit_of_work() as session:
            await services.audit.record(
                session,
                event_type="INCIDENT_UPDATED",
                entity_type="INCIDENT",
                entity_id=incident_id or f"entity-{number}",
                payload={"n": number},
                incident_id=incident_id,
            )


async def checkpoint(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/v1/audit/checkpoints", headers=admin)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def verify_chain(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/audit/verify", headers=admin)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def verify_incident(services: Services, incident_id: str) -> dict[str, Any]:
    """The service behind ``GET /v1/incidents/{id}/verify`` (these events have no incident row)."""
    async with services.database.unit_of_work(write=False) as session:
        result = await services.audit.verify_incident(session, incident_id)
    return result.model_dump(mode="json")


async def rewrite_from(services: Services, seq: int, change: dict[str, Any]) -> None:
    """What someone with write access to the database can do: change the event at ``seq`` and
    recompute every hash and link after it, so the chain is consistent with itself again."""
    async with services.database.unit_of_work() as session:
        await session.execute(
            update(events_table).where(events_table.c.seq == seq).values(payload=change)
        )
        rows = (await session.execute(select(events_table).order_by(events_table.c.seq))).all()
        previous = "GENESIS"
        incident_previous: dict[str, str] = {}
        for row in rows:
            values = row._asdict()
            values["prev_hash"] = previous
            if values["incident_id"] is not None:
                values["incident_prev_hash"] = incident_previous.get(
                    values["incident_id"], "GENESIS"
                )
            digest = content_hash(
                hash_input(**{k: v for k, v in values.items() if k not in ("id", "hash")})
            )
            await session.execute(
                update(events_table)
                .where(events_table.c.id == values["id"])
                .values(
                    prev_hash=values["prev_hash"],
                    incident_prev_hash=values["incident_prev_hash"],
                    hash=digest,
                )
            )
            previous = digest
            if values["incident_id"] is not None:
                incident_previous[values["incident_id"]] = digest


async def delete_events(services: Services, *seqs: int) -> None:
    async with services.database.unit_of_work() as session:
        await session.execute(delete(events_table).where(events_table.c.seq.in_(seqs)))


async def test_a_checkpoint_signs_the_head_and_an_intact_chain_matches_it(keyed: Keyed) -> None:
    client, services, admin = keyed
    await record(services, "inc-a", None, "inc-a")
    signed = await checkpoint(client, admin)
    assert (signed["seq"], len(signed["signature"]), len(signed["keyId"])) == (3, 64, 16)
    result = await verify_chain(client, admin)
    assert (result["ok"], result["checkpointStatus"]) == (True, "MATCHED")
    assert result["checkpoint"]["seq"] == 3
    assert result["checkpoint"]["hash"] == result["headHash"]


async def test_deleting_the_last_events_of_the_chain_fails_verification(keyed: Keyed) -> None:
    client, services, admin = keyed
    await record(services, "inc-a", "inc-b", "inc-a", None, "inc-b")
    await checkpoint(client, admin)
    await delete_events(services, 4, 5)
    result = await verify_chain(client, admin)
    assert result["ok"] is False
    assert result["checkpointStatus"] == "FAILED"
    assert result["verifiedCount"] == 3
    failure = result["firstFailure"]
    assert failure["seq"] == 5
    assert failure["eventId"] is None
    assert "the last 2 events were deleted" in failure["reason"]


async def test_rewriting_an_event_and_recomputing_every_hash_fails_verification(
    keyed: Keyed,
) -> None:
    client, services, admin = keyed
    await record(services, "inc-a", "inc-b", "inc-a", "inc-b")
    await checkpoint(client, admin)
    await rewrite_from(services, 2, {"n": "rewritten"})
    result = await verify_chain(client, admin)
    assert result["ok"] is False
    assert result["verifiedCount"] == 4  # every link is consistent: only the checkpoint tells
    assert "rewritten and their hashes recomputed" in result["firstFailure"]["reason"]
    rewritten = await verify_incident(services, "inc-b")
    assert rewritten["ok"] is False
    assert rewritten["checkpointStatus"] == "FAILED"
    assert "the incident's events were rewritten" in rewritten["firstFailure"]["reason"]


async def test_deleting_an_incidents_last_event_fails_that_incidents_verification(
    keyed: Keyed,
) -> None:
    client, services, admin = keyed
    await record(services, "inc-a", "inc-b", "inc-a", "inc-b")
    await checkpoint(client, admin)
    # inc-a's last event sits in the middle of the chain; its own sub-chain stays consistent.
    await delete_events(services, 3)
    result = await verify_incident(services, "inc-a")
    assert result["ok"] is False
    assert result["verifiedCount"] == result["totalEvents"] == 1
    assert result["checkpointedIncidentSeq"] == 2
    assert "the incident has 1 events but" in result["firstFailure"]["reason"]
    assert "events were deleted" in result["firstFailure"]["reason"]


async def test_an_incident_checkpointed_earlier_keeps_its_signed_head(keyed: Keyed) -> None:
    """Later checkpoints list only incidents with new events; older heads still count."""
    client, services, admin = keyed
    await record(services, "inc-a", "inc-a")
    await checkpoint(client, admin)
    await record(services, "inc-b")
    await checkpoint(client, admin)
    await delete_events(services, 2)
    result = await verify_incident(services, "inc-a")
    assert result["ok"] is False
    assert result["checkpointedIncidentSeq"] == 2


async def test_an_altered_checkpoint_is_refused_as_forged(keyed: Keyed) -> None:
    client, services, admin = keyed
    await record(services, "inc-a", "inc-a", "inc-a")
    await checkpoint(client, admin)
    await delete_events(services, 3)
    async with services.database.unit_of_work() as session:
        head = await session.execute(select(events_table.c.hash).where(events_table.c.seq == 2))
        await session.execute(update(checkpoints_table).values(seq=2, hash=head.scalar_one()))
    result = await verify_chain(client, admin)
    assert result["ok"] is False
    assert "invalid signature" in result["firstFailure"]["reason"]


async def test_deleting_checkpoints_with_the_events_shows_as_a_missing_checkpoint(
    client_with: ClientFactory,
) -> None:
    client, services = await client_with(
        audit_checkpoint_key=KEY,
        audit_checkpoint_every_events=3,
        audit_checkpoint_interval_minutes=0,
    )
    admin = _admin(services)
    await record(services, *["inc-a"] * 7)
    async with services.database.unit_of_work() as session:
        seqs = (await session.scalars(select(checkpoints_table.c.seq))).all()
    assert sorted(seqs) == [3, 6]  # one every 3 events, written by the appends themselves
    assert (await verify_chain(client, admin))["checkpointStatus"] == "MATCHED"
    async with services.database.unit_of_work() as session:
        await session.execute(delete(checkpoints_table).where(checkpoints_table.c.seq == 6))
    result = await verify_chain(client, admin)
    assert result["ok"] is False
    assert "a checkpoint was due at seq 6" in result["firstFailure"]["reason"]


async def test_units_sharing_a_commit_are_checkpointed_where_due_and_verify(
    client_with: ClientFactory,
) -> None:
    """On SQLite the seven units share group commits whose events are linked in one pass: the
    checkpoints due inside a group are still written at their seq."""
    client, services = await client_with(
        audit_checkpoint_key=KEY,
        audit_checkpoint_every_events=3,
        audit_checkpoint_interval_minutes=0,
    )
    await asyncio.gather(*(record(services, "inc-a") for _ in range(7)))
    async with services.database.unit_of_work() as session:
        seqs = (await session.scalars(select(checkpoints_table.c.seq))).all()
    assert sorted(seqs) == [3, 6]
    result = await verify_chain(client, _admin(services))
    assert (result["ok"], result["checkpointStatus"]) == (True, "MATCHED")
    assert (await verify_incident(services, "inc-a"))["checkpointStatus"] == "MATCHED"


async def test_the_first_append_of_a_process_writes_a_checkpoint_when_an_interval_is_set(
    client_with: ClientFactory,
) -> None:
    _client, services = await client_with(
        audit_checkpoint_key=KEY,
        audit_checkpoint_every_events=0,
        audit_checkpoint_interval_minutes=60,
    )
    await record(services, "inc-a", "inc-a", "inc-a")
    async with services.database.unit_of_work() as session:
        seqs = (await session.scalars(select(checkpoints_table.c.seq))).all()
    assert list(seqs) == [1]  # the next is due an hour later


async def test_tampering_after_the_last_checkpoint_is_not_detected(keyed: Keyed) -> None:
    """The documented limit: events appended since the latest checkpoint are unprotected."""
    client, services, admin = keyed
    await record(services, "inc-a", "inc-a")
    await checkpoint(client, admin)
    await record(services, "inc-a", "inc-a")
    await delete_events(services, 4)
    assert (await verify_chain(client, admin))["ok"] is True


async def test_a_rotated_key_fails_until_the_head_is_signed_again(
    keyed: Keyed, client_with: ClientFactory
) -> None:
    client, services, admin = keyed
    await record(services, "inc-a", "inc-a")
    await checkpoint(client, admin)
    rotated, rotated_services = await client_with(
        audit_checkpoint_key=OTHER_KEY,
        audit_checkpoint_every_events=0,
        audit_checkpoint_interval_minutes=0,
    )
    rotated_admin = _admin(rotated_services)
    result = await verify_chain(rotated, rotated_admin)
    assert result["ok"] is False
    assert "signed by another key" in result["firstFailure"]["reason"]
    assert (await checkpoint(rotated, rotated_admin))["seq"] == 2
    assert (await verify_chain(rotated, rotated_admin))["checkpointStatus"] == "MATCHED"
    assert (await verify_incident(rotated_services, "inc-a"))["checkpointStatus"] == ("MATCHED")


async def test_signing_the_same_head_twice_keeps_one_checkpoint(keyed: Keyed) -> None:
    client, services, admin = keyed
    await record(services, "inc-a")
    first = await checkpoint(client, admin)
    assert await checkpoint(client, admin) == first
    async with services.database.unit_of_work() as session:
        count = await session.scalar(select(func.count()).select_from(checkpoints_table))
    assert count == 1


async def test_without_a_key_verification_says_checkpoints_are_not_checked(
    client: httpx.AsyncClient, admin: dict[str, str], services: Services
) -> None:
    await record(services, "inc-a")
    result = await verify_chain(client, admin)
    assert (result["ok"], result["checkpointStatus"], result["checkpoint"]) == (
        True,
        "NO_KEY",
        None,
    )
    response = await client.post("/v1/audit/checkpoints", headers=admin)
    assert response.status_code == 404
    assert "CHRONOSOPS_AUDIT_CHECKPOINT_KEY" in response.json()["message"]


async def test_an_empty_chain_has_no_head_to_sign(keyed: Keyed) -> None:
    client, _services, admin = keyed
    response = await client.post("/v1/audit/checkpoints", headers=admin)
    assert response.status_code == 409


async def test_only_admins_sign_checkpoints(keyed: Keyed) -> None:
    client, services, _admin_headers = keyed
    await record(services, "inc-a")
    response = await client.post("/v1/audit/checkpoints", headers=_token(services, Role.ANALYST))
    assert response.status_code == 403
