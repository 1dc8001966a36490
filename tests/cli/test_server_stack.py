"""`chronosops serve` runs on uvloop and httptools, and on asyncio and h11 where they are missing."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from chronosops.cli import app
from chronosops.cli import serve as serve_module
from chronosops.cli import server_stack as module
from chronosops.cli.server_stack import PURE_PYTHON, ServerStack, event_loop_factory, server_stack
from chronosops.web import app as web_app
from tests.fixtures.app import TEST_SECRET


def test_the_c_event_loop_and_parser_are_installed_and_chosen() -> None:
    assert server_stack() == ServerStack(loop="uvloop", http="httptools")


def test_a_platform_without_uvloop_serves_on_asyncio_and_keeps_httptools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "installed", lambda name: name != "uvloop")
    assert server_stack() == ServerStack(loop="asyncio", http="httptools")


def test_without_either_it_serves_on_pure_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "installed", lambda _name: False)
    assert server_stack() == PURE_PYTHON


def test_the_stack_is_given_to_the_uvicorn_command_as_its_options() -> None:
    assert ServerStack(loop="uvloop", http="httptools").arguments() == [
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]


def test_the_worker_runs_its_jobs_on_uvloop_where_installed() -> None:
    factory = event_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()


def test_without_uvloop_the_worker_runs_on_asyncio_s_own_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "installed", lambda name: name != "uvloop")
    assert event_loop_factory() is None


def test_a_module_is_installed_when_it_can_be_found() -> None:
    assert module.installed("json")
    assert not module.installed("chronosops_no_such_module")


def test_serve_hands_the_stack_to_uvicorn(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", TEST_SECRET)
    monkeypatch.setattr(module, "installed", lambda name: name != "uvloop")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(web_app, "create_app", lambda *_args, **_kwargs: "app")
    monkeypatch.setattr(serve_module, "settle_long_running_heap", lambda: 0)
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: calls.append(options))
    result = CliRunner().invoke(app, ["serve", "--port", "8099"])
    assert result.exit_code == 0, result.output
    assert [(call["loop"], call["http"]) for call in calls] == [("asyncio", "httptools")]
