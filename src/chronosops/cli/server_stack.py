"""The event loop and HTTP parser uvicorn serves ChronosOps with.

uvicorn's defaults, without its optional C extensions, are asyncio's pure-Python event loop and
h11, a pure-Python HTTP/1.1 parser: every request's headers and body went through Python code
that httptools parses in C, and every socket wake-up through asyncio's selector loop that
uvloop runs on libuv. Both are dependencies; a platform without a wheel for one (uvloop has
none for Windows) still serves, on the pure-Python part it lacks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec


@dataclass(frozen=True)
class ServerStack:
    loop: str
    http: str

    def arguments(self) -> list[str]:
        """As options of the `uvicorn` command."""
        return ["--loop", self.loop, "--http", self.http]


PURE_PYTHON = ServerStack(loop="asyncio", http="h11")


def installed(module: str) -> bool:
    return find_spec(module) is not None


def server_stack() -> ServerStack:
    """uvloop and httptools where they are installed, asyncio and h11 each where not."""
    return ServerStack(
        loop="uvloop" if installed("uvloop") else PURE_PYTHON.loop,
        http="httptools" if installed("httptools") else PURE_PYTHON.http,
    )


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop of `server_stack` for a process that runs its own loop (the worker):
    uvloop's where installed; None, asyncio's default, where not."""
    if server_stack().loop != "uvloop":
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = import_module("uvloop").new_event_loop
    return factory
