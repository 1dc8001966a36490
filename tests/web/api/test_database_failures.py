"""A database that fails under a real server: reads whose connection is killed are served again
once, a second loss is a 503 with Retry-After, the client's keep-alive connection stays usable
throughout, and a write on a database that does not answer is a 503, never a 500."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy
from sqlalchemy import text

from chronosops.config import Settings
from chronosops.storage.database import APPLICATION_NAME, sync_url
from tests.fixtures.app import ClientFactory
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import request
from tests.fixtures.live_server import LiveServer, live_server
from tests.fixtures.silent_server import hung_database_url, silent_server

postgres_only = pytest.mark.skipif(not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL")


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as running:
        yield running


@pytest.fixture
def admin_db(database_url: str) -> Iterator[sqlalchemy.Engine]:
    engine = sqlalchemy.create_engine(sync_url(database_url), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@dataclass
class KeepAlive:
    """One HTTP/1.1 connection, used for every request of a test."""

    server: LiveServer
    headers: dict[str, str]
    connection: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        host, port = self.server.url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)

    def get(self, path: str) -> tuple[int, dict[str, str], dict[str, object]]:
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        body = json.loads(response.read())
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    @property
    def socket_id(self) -> int:
        assert self.connection.sock is not None, "the server closed the connection"
        return id(self.connection.sock)


@pytest.fixture
def keep_alive(server: LiveServer, viewer: dict[str, str]) -> Iterator[KeepAlive]:
    client = KeepAlive(server, {**viewer, "Connection": "keep-alive"})
    yield client
    client.connection.close()


def _server_backends(admin_db: sqlalchemy.Engine, *, waiting_on_lock: bool = False) -> set[int]:
    # Test workers share one PostgreSQL server, each with its own database: only this
    # worker's server may be touched, or another worker's test loses its connections.
    query = (
        "SELECT pid FROM pg_stat_activity"
        " WHERE application_name = :name AND datname = current_database()"
    )
    if waiting_on_lock:
        query += " AND wait_event_type = 'Lock'"
    with admin_db.connect() as connection:
        rows = connection.execute(text(query), {"name": APPLICATION_NAME})
        return {row[0] for row in rows}


def _terminate(admin_db: sqlalchemy.Engine, pids: set[int]) -> None:
    with admin_db.connect() as connection:
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def _wait_for_lock_waiter(
    admin_db: sqlalchemy.Engine, *, other_than: set[int], seconds: float = 10
) -> int | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = _server_backends(admin_db, waiting_on_lock=True) - other_than
        if found:
            return found.pop()
        time.sleep(0.02)
    return None


@pytest.mark.slow
@postgres_only
def test_a_read_after_the_servers_connections_were_terminated_answers_on_the_same_connection(
    keep_alive: KeepAlive, admin_db: sqlalchemy.Engine
) -> None:
    assert keep_alive.get("/v1/incidents")[0] == 200
    socket_before = keep_alive.socket_id
    backends = _server_backends(admin_db)
    assert backends, "the server holds pooled connections"
    _terminate(admin_db, backends)
    status, _, _ = keep_alive.get("/v1/incidents")
    assert status == 200
    assert keep_alive.socket_id == socket_before


@pytest.mark.slow
@postgres_only
def test_a_read_whose_connection_is_killed_mid_query_is_served_again_once(
    keep_alive: KeepAlive, admin_db: sqlalchemy.Engine, database_url: str
) -> None:
    locker = sqlalchemy.create_engine(sync_url(database_url))
    outcome: list[tuple[int, dict[str, str], dict[str, object]]] = []
    try:
        with locker.connect() as lock:
            lock.execute(text("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE"))
            reader = threading.Thread(
                target=lambda: outcome.append(keep_alive.get("/v1/incidents"))
            )
            reader.start()
            first = _wait_for_lock_waiter(admin_db, other_than=set())
            assert first is not None, "the server's query never waited on the lock"
            _terminate(admin_db, {first})
            retried = _wait_for_lock_waiter(admin_db, other_than={first})
            lock.rollback()
            reader.join(timeout=20)
    finally:
        locker.dispose()
    assert retried is not None, f"the read was not run again: {outcome}"
    status, _, body = outcome[0]
    assert status == 200, body
    assert body["items"] == []


@pytest.mark.slow
@postgres_only
def test_a_read_that_loses_its_connection_twice_is_a_503_with_retry_after_and_keep_alive(
    keep_alive: KeepAlive, admin_db: sqlalchemy.Engine, database_url: str
) -> None:
    assert keep_alive.get("/v1/incidents")[0] == 200
    socket_before = keep_alive.socket_id
    locker = sqlalchemy.create_engine(sync_url(database_url))
    outcome: list[tuple[int, dict[str, str], dict[str, object]]] = []
    try:
        with locker.connect() as lock:
            lock.execute(text("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE"))
            reader = threading.Thread(
                target=lambda: outcome.append(keep_alive.get("/v1/incidents"))
            )
            reader.start()
            first = _wait_for_lock_waiter(admin_db, other_than=set())
            assert first is not None, "the server's query never waited on the lock"
            _terminate(admin_db, {first})
            second = _wait_for_lock_waiter(admin_db, other_than={first}, seconds=3)
            if second is not None:
                _terminate(admin_db, {second})
            reader.join(timeout=20)
            lock.rollback()
    finally:
        locker.dispose()
    status, headers, body = outcome[0]
    assert status == 503, body
    assert body["code"] == "database-unavailable"
    assert "connection was lost" in str(body["message"])
    assert int(headers["retry-after"]) >= 1
    assert keep_alive.get("/v1/incidents")[0] == 200
    assert keep_alive.socket_id == socket_before


async def test_an_ingest_on_a_database_that_never_answers_is_a_503_not_a_500(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    with silent_server() as port:
        client, _ = await client_with(
            database_url=hung_database_url(port), database_connect_timeout_seconds=1
        )
        async with asyncio.timeout(20):
            response = await client.post("/v1/incidents/ingest", json=request(), headers=analyst)
    assert response.status_code == 503
    assert response.json()["code"] == "database-unavailable"
    assert int(response.headers["retry-after"]) >= 1
