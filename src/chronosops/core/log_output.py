"""Where the service's structured logs go and how they read: stderr, JSON lines in production,
readable lines on a terminal.

Kept apart from the composition root (`chronosops.bootstrap`) so that a CLI command can set up
its logs without importing the whole application (start-up time: docs/benchmarks.md, cli28).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"], log_format: Literal["json", "console"]
) -> None:
    """Structured logs on stderr at ``level`` (`CHRONOSOPS_LOG_LEVEL`), as ``log_format``
    (`CHRONOSOPS_LOG_FORMAT`)."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
