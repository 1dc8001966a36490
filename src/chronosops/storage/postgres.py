"""PostgreSQL's write path: fewer round trips per transaction.

Each statement sent through SQLAlchemy waits for its answer before the next one goes, and
costs the event loop a wake-up and the ORM/Core its per-statement work. On PostgreSQL this
module cuts both:

- **Checkout without a ping.** Instead of the pool's pre-ping (a ``SELECT 1`` round trip on
  every checkout), a pooled connection is checked by looking at its socket: an idle connection
  has nothing to read, so a readable socket means the server sent something unasked (the
  ``FATAL`` of a terminated backend, a restart's end of file) and the connection is replaced.
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine


def socket_says_gone(driver_connection: Any) -> bool:
    """Whether an idle psycopg connection is broken, known without a round trip.

    An idle connection's socket has nothing to read; anything there was sent unasked: the error
    a terminated backend leaves, or the end of file of a server that went away.
    """
    pgconn = driver_connection.pgconn
    if driver_connection.closed or pgconn.status != 0:  # 0: CONNECTION_OK
        return True
    try:
        fd = pgconn.socket
    except Exception:  # noqa: BLE001 — no socket left: as broken as it gets
        return True
    readable, _, failed = select.select([fd], [], [fd], 0)
    return bool(readable or failed)


def check_connections_on_checkout(engine: AsyncEngine) -> None:
    """Replace a pooled connection the server has dropped before it is handed out.

    A dropped connection usually means the server restarted or an operator ended every
    backend: the pool's other idle connections are replaced too (as a failed pre-ping does).
    """

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if socket_says_gone(dbapi_connection.driver_connection):
            raise InvalidatePoolError("the server closed this pooled connection")
