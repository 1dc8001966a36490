"""On PostgreSQL the server links and hashes an appended event (after the chain's lock, with
the COMMIT): the hash it computes is the one verification computes, whatever the payload."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.audit import service as audit_service
from chronosops.audit.repository import AuditRepository
from chronosops.audit.schemas import GENESIS
from chronosops.audit.tables import AuditEvent
from chronosops.bootstrap import Services
from tests.fixtures.database import on_postgres
from tests.fixtures.psycopg_sends import record_sends

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL (PostgreSQL)"
)

columns = AuditEvent.__table__.columns

PAYLOADS: list[dict[str, Any]] = [
    {"title": "plain"},
    {"title": "quotes ' and \" and \\ backslashes", "n": -3, "ok": True, "none": None},
    {"title": "unicode: é 漢字 🚀", "tab": "a\tb", "nested": {"z": [1, 2.5, {"a": "b"}]}},
    # Floats json writes unlike RFC 8785: the rfc8785 encoder writes the text.
    {"small": 5e-05, "smaller": 1.5e-07, "whole": 3.0},
    {"keys sorted": {"b": 1, "a": 2, "é": 3, "A": 4}},
]


async def record(audit: AuditLog, session: Any, incident_id: str | None, payload: Any) -> None:
    await audit.record(
        session,
        event_type=EventType.INCIDENT_UPDATED,
        entity_type=EntityType.INCIDENT,
        entity_id=incident_id or "none",
        incident_id=incident_id,
        actor="tester",
        payload=payload,
    )


async def stored_events(services: Services, incident_id: str | None = None) -> list[Any]:
    """The stored events (chain order, or the incident's), read apart from their session."""
    async with services.database.unit_of_work(write=False) as session:
        repository = AuditRepository(session)
        rows = (
            await repository.for_incident(incident_id)
            if incident_id is not None
            else await repository.in_chain_order(services.audit.chain_id, after_seq=0, limit=1000)
        )
        return [SimpleNamespace(**{c.key: getattr(row, c.key) for c in columns}) for row in rows]


async def test_events_the_server_links_hash_as_verification_does_from_an_empty_chain(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends = record_sends(monkeypatch)
    async with services.database.unit_of_work() as session:
        for n, payload in enumerate(PAYLOADS):
            await record(services.audit, session, "incident-a" if n % 2 else None, payload)
    # The lock, the events and the COMMIT in one send: no head read by the client.
    assert [part.split()[0] for part in sends[-1]] == ["BEGIN", "SELECT"] + ["INSERT"] * len(
        PAYLOADS
    ) + ["COMMIT"]
    events = await stored_events(services)
    assert [event.seq for event in events] == list(range(1, len(PAYLOADS) + 1))
    assert events[0].prev_hash == GENESIS
    assert [event.prev_hash for event in events[1:]] == [event.hash for event in events[:-1]]
    assert [event.hash for event in events] == [audit_service.event_hash(event) for event in events]
    incident = await stored_events(services, "incident-a")
    assert [event.incident_seq for event in incident] == [1, 2]
    assert incident[0].incident_prev_hash == GENESIS
    assert incident[1].incident_prev_hash == incident[0].hash
    async with services.database.unit_of_work(write=False) as session:
        assert (await services.audit.verify_chain(session)).ok
        assert (await services.audit.verify_incident(session, "incident-a")).ok


async def test_events_of_concurrent_units_link_in_commit_order_and_verify(
    services: Services,
) -> None:
    async def one(n: int) -> None:
        async with services.database.unit_of_work() as session:
            await record(services.audit, session, f"incident-{n % 3}", {"n": n})
            await record(services.audit, session, None, {"n": n, "second": True})

    await asyncio.gather(*(one(n) for n in range(12)))
    events = await stored_events(services)
    assert [event.seq for event in events] == list(range(1, 25))
    async with services.database.unit_of_work(write=False) as session:
        assert (await services.audit.verify_chain(session)).ok
        for n in range(3):
            assert (await services.audit.verify_incident(session, f"incident-{n}")).ok


async def test_a_payload_holding_a_stand_ins_text_is_linked_by_the_client_and_verifies(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await record(services.audit, session, "incident-a", {"title": "first"})
    crafted = {"title": audit_service._PREV_STAND_IN, "n": audit_service._SEQ_STAND_IN}
    assert (
        audit_service._linked_by_server(
            {
                "chain_id": services.audit.chain_id,
                "incident_id": "incident-a",
                "event_type": "x",
                "entity_type": "y",
                "entity_id": "z",
                "entity_ref": None,
                "actor": None,
                "occurred_at": services.audit.clock.now(),
                "payload": crafted,
            },
            "some-id",
        )
        is None
    )
    async with services.database.unit_of_work() as session:
        await record(services.audit, session, "incident-a", crafted)
    events = await stored_events(services, "incident-a")
    assert [event.incident_seq for event in events] == [1, 2]
    assert events[1].payload == crafted
    async with services.database.unit_of_work(write=False) as session:
        assert (await services.audit.verify_chain(session)).ok
        assert (await services.audit.verify_incident(session, "incident-a")).ok


async def test_a_unit_that_fails_after_its_events_leaves_the_chain_as_it_was(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await record(services.audit, session, None, {"n": 1})

    async def failing() -> None:
        async with services.database.unit_of_work() as session:
            await record(services.audit, session, None, {"n": 2})
            raise RuntimeError("the block fails")

    with pytest.raises(RuntimeError):
        await failing()
    async with services.database.unit_of_work() as session:
        await record(services.audit, session, None, {"n": 3})
    events = await stored_events(services)
    assert [(event.seq, event.payload["n"]) for event in events] == [(1, 1), (2, 3)]
    async with services.database.unit_of_work(write=False) as session:
        assert (await services.audit.verify_chain(session)).ok


def test_no_stand_ins_text_holds_or_overlaps_another_so_each_is_found_apart() -> None:
    texts = list(audit_service._LINK_OF)
    for a in texts:
        for b in texts:
            assert a == b or a not in b
            assert not any(a[-n:] == b[:n] for n in range(1, min(len(a), len(b))))


@pytest.mark.parametrize(
    "payload",
    ["plain", "chronosops:chain-prev:5f0d", "7777777777777001", "x7777777777777002y", ""],
)
def test_an_events_text_is_cut_at_its_links_as_one_scan_for_them_all_would(payload: str) -> None:
    import re

    scan = re.compile("|".join(re.escape(value) for value in audit_service._LINK_OF))
    stand_ins = list(audit_service._LINK_OF)
    text = f'{{"a":"{stand_ins[3]}","b":{stand_ins[2]},"p":"{payload}","c":"{stand_ins[1]}","d":{stand_ins[0]}}}'
    found = audit_service._cut_at_stand_ins(text)
    links = tuple(audit_service._LINK_OF[value] for value in scan.findall(text))
    if len(set(links)) < len(links):  # a stand-in twice: left to the client
        assert found is None
    else:
        assert found == (links, scan.split(text))
