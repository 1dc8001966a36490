"""`serve --workers N`: a supervisor whose workers die with it and drain like a single server.

Two failures of uvicorn's own supervisor are closed here:

- kill -9 of the supervisor left its workers serving the port as orphans. Each worker now asks
  Linux to send it SIGTERM when its parent dies (``PR_SET_PDEATHSIG``); elsewhere a thread
  watches the parent's pid. Either way the worker shuts down gracefully, finishing the
  requests it holds.
- On SIGTERM the supervisor kept its copy of the listening socket open while the workers shut
  down, so the kernel went on accepting connections nobody would serve and reset them at exit:
  clients that had sent a request got no answer. The supervisor now stops listening before it
  tells the workers to stop, as the single-process server does; new clients are refused (and
  can retry elsewhere), clients already inside get their answer.

And one of its settings is raised: uvicorn kills a worker that does not answer its supervisor's
ping within ``timeout_worker_healthcheck`` (5 s) and starts another. A spawned worker answers only
once it has imported the parent's ``__main__`` (the ``chronosops`` command, ~5 s of CPU), so on
a busy or CPU-limited host no worker ever answered in time: ``serve --workers 2`` killed and
respawned both forever and never served (first seen in the compose deployment on 2 busy cores,
2026-12-07). Workers now get ``WORKER_START_SECONDS`` to answer.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from socket import socket

from uvicorn import Config
from uvicorn.supervisors.multiprocess import Multiprocess

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_SECONDS = 0.5
# How long a worker may take to answer its supervisor's ping, its start-up imports included
# (uvicorn's default is 5 s); a worker silent longer is presumed hung and replaced.
WORKER_START_SECONDS = 120


def die_with_supervisor() -> None:
    """Make this worker receive SIGTERM when the process that started it goes away."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return  # not started by a supervisor
    supervisor = parent.pid
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            _watch_parent(supervisor)
    else:
        _watch_parent(supervisor)
    if os.getppid() != supervisor:
        # The supervisor died before the request above took effect.
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(supervisor: int) -> None:
    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(PARENT_POLL_SECONDS):
            if os.getppid() != supervisor:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="chronosops-parent-watch", daemon=True).start()


class DrainingSupervisor(Multiprocess):
    """uvicorn's supervisor, which stops listening as soon as it is asked to stop."""

    def __init__(self, config: Config, sockets: list[socket]) -> None:
        super().__init__(config, sockets)

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    def _stop_listening(self) -> None:
        for listening in self.sockets:
            listening.close()


def supervise(config: Config) -> None:
    """Run ``config.workers`` worker processes on one listening socket until told to stop."""
    # Set as an attribute: older uvicorn releases (pyproject allows >=0.30) lack the argument.
    config.timeout_worker_healthcheck = max(config.timeout_worker_healthcheck, WORKER_START_SECONDS)
    listening = config.bind_socket()
    try:
        DrainingSupervisor(config, sockets=[listening]).run()
    finally:
        listening.close()
