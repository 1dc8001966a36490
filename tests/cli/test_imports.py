"""``chronosops import google-cloud-status``: a whole feed in, once, from a file or a URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from chronosops.cli import app
from chronosops.storage.database import sync_url
from tests.fixtures.app import TEST_SECRET
from tests.sources.payloads import HERE, load

runner = CliRunner()
FEED = HERE / "google-cloud-status" / "feed.json"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("CHRONOSOPS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("COLUMNS", "200")
    return database_url


def stored(database_url: str) -> dict[str, tuple[str, bool]]:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT source_ref, status, end_at IS NOT NULL FROM incident")
        ).all()
    engine.dispose()
    return {ref: (status, bool(ended)) for ref, status, ended in rows}


class FeedServer(BaseHTTPRequestHandler):
    """Serves the recorded feed, as status.cloud.google.com serves incidents.json."""

    def do_GET(self) -> None:
        if self.path != "/incidents.json":
            self.send_error(404)
            return
        body = FEED.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def feed_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_feed_file_is_imported_once_however_often_it_is_run(env: str) -> None:
    first = runner.invoke(app, ["import", "google-cloud-status", str(FEED)])
    assert first.exit_code == 0, first.output
    assert "Imported 3 entries" in first.stdout
    assert "3 created" in first.stdout
    assert stored(env) == {
        "rZvZvSKVdDHyWh4dZJ8D": ("analyzed", False),
        "TEST_INCIDENT_01": ("analyzed", True),
        "mLBHeCxhRia17anXCSX1": ("analyzed", True),
    }
    again = runner.invoke(app, ["import", "google-cloud-status", str(FEED)])
    assert again.exit_code == 0, again.output
    assert "3 unchanged" in again.stdout
    assert len(stored(env)) == 3


def test_an_entry_that_has_since_ended_gets_its_end_on_the_next_import(
    env: str, tmp_path: Path
) -> None:
    feed = load("google-cloud-status", "feed")
    runner.invoke(app, ["import", "google-cloud-status", str(FEED)])
    feed[0]["end"] = "2024-03-12T10:02:00+00:00"
    later = tmp_path / "incidents.json"
    later.write_text(json.dumps(feed))
    result = runner.invoke(app, ["import", "google-cloud-status", str(later)])
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.stdout
    assert "2 unchanged" in result.stdout
    assert stored(env)["rZvZvSKVdDHyWh4dZJ8D"] == ("analyzed", True)


def test_the_feed_is_fetched_from_a_url_and_limited_to_its_first_entries(
    env: str, feed_url: str
) -> None:
    result = runner.invoke(
        app, ["import", "google-cloud-status", f"{feed_url}/incidents.json", "--limit", "2"]
    )
    assert result.exit_code == 0, result.output
    assert set(stored(env)) == {"rZvZvSKVdDHyWh4dZJ8D", "TEST_INCIDENT_01"}


@pytest.mark.parametrize(
    ("where", "content", "message"),
    [
        ("missing", None, "no such file"),
        ("file", b"{not json", "not valid JSON"),
        ("file", b'{"hello": "world"}', "Not a Google Cloud status feed payload"),
        ("file", b'[{"external_desc": "a\\u0000b"}]', "NUL character"),
        ("url", None, "HTTP 404"),
    ],
)
def test_what_cannot_be_imported_is_refused_with_the_reason_and_nothing_stored(
    env: str, tmp_path: Path, feed_url: str, where: str, content: bytes | None, message: str
) -> None:
    location = str(tmp_path / "absent.json")
    if where == "file":
        path = tmp_path / "feed.json"
        path.write_bytes(content or b"")
        location = str(path)
    elif where == "url":
        location = f"{feed_url}/nothing-here.json"
    result = runner.invoke(app, ["import", "google-cloud-status", location])
    assert result.exit_code == 2
    assert message in result.output
    assert stored(env) == {}
