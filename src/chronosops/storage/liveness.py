"""Whether the process that holds a claim is still alive, known at once rather than after a timeout.

A process is named ``host:pid:token`` (the token differs on every start). On PostgreSQL each
process holds an advisory lock keyed by its name on a connection of its own for as long as it
lives; when it dies, even by ``kill -9``, the server drops the connection and the lock with it,
so another process that can take that lock knows the holder is gone. On SQLite every process
shares one host, so a holder on this host whose pid is gone is dead.

What cannot be known at once (another host on SQLite, a holder that never took its lock) is
reported alive, and the caller's timeout decides.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

HOST = socket.gethostname()[:64]


def process_name() -> str:
    """This process on its claims and jobs: host, pid and a token that differs on every start."""
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def lock_key(name: str) -> int:
    """The advisory lock key of a process name (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Liveness:
    def __init__(self, *, name: str, database_url: str | None) -> None:
        self.name = name
        # The libpq URL to hold this process's lock on (None on SQLite).
        self._url = database_url
        self._connection: Any = None
        self._started = asyncio.Lock()

    async def ensure_started(self) -> None:
        """Take this process's lock (once): from then on, its claims are known alive."""
        if self._url is None or self._connection is not None:
            return
        async with self._started:
            if self._connection is None:
                self._connection = await asyncio.to_thread(self._hold)

    def _hold(self) -> Any:
        import psycopg

        assert self._url is not None
        connection = psycopg.connect(self._url, autocommit=True)
        connection.execute("SELECT pg_advisory_lock(%s)", (lock_key(self.name),))
        return connection

    async def is_dead(self, session: AsyncSession, holder: str | None) -> bool:
        """True when ``holder`` is known to be gone (its claims may be taken over now)."""
        if holder is None or holder == self.name:
            return False
        if self._url is not None:
            # A transaction-level try: if it succeeds nobody holds the lock, and it is released
            # again when the caller's transaction ends.
            taken = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(holder)}
            )
            return bool(taken)
        host, _, rest = holder.partition(":")
        pid = rest.partition(":")[0]
        if host != HOST or not pid.isdigit():
            return False
        return not _pid_alive(int(pid))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
