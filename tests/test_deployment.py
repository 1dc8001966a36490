"""The production-like deployment (compose.yaml, Dockerfile) names what the app needs.

Docker is not run here; the files are read. compose.yaml must run the API (several processes),
the worker, a migration step, PostgreSQL and Redis, with Prometheus and Alertmanager behind the
``monitoring`` profile; every setting it passes must be one the app reads, and the app must
accept them. The Prometheus and Alertmanager configurations are checked by promtool and amtool.
The Dockerfile installs the package from pyproject.toml under the same constraints as
``make install``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import yaml

from chronosops.config import Settings
from tests.fixtures.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
# "${NAME:?message}" or "${NAME:-default}": what compose substitutes from the shell.
SUBSTITUTION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::(?P<op>[?-])(?P<default>[^}]*))?\}")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def substitute(value: str, shell: dict[str, str]) -> str:
    """``value`` as compose reads it from a shell with ``shell`` exported (and nothing else)."""

    def one(match: re.Match[str]) -> str:
        if match["name"] in shell:
            return shell[match["name"]]
        assert match["op"] == "-", f"compose refuses to start without {match['name']}"
        return match["default"]

    return SUBSTITUTION.sub(one, value)


def environment_of(service: dict[str, Any], shell: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment", {})
    return {name: substitute(str(value), shell) for name, value in raw.items()}


def test_compose_runs_the_api_the_worker_postgresql_and_redis_with_monitoring_optional() -> None:
    services = compose()["services"]
    assert {"api", "worker", "migrate", "postgres", "redis"} <= set(services)
    assert services["api"]["command"][:2] == ["chronosops", "serve"]
    assert "--workers" in services["api"]["command"]
    assert services["worker"]["command"] == ["chronosops", "worker"]
    assert services["migrate"]["command"] == ["chronosops", "db", "upgrade"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "redis" in services[name]["depends_on"]
    # The public images unless the shell names others (deploy/no-hub's stand-ins, a mirror).
    assert substitute(services["postgres"]["image"], {}) == "postgres:16"
    assert substitute(services["redis"]["image"], {}) == "redis:7"
    assert substitute(services["postgres"]["image"], {"POSTGRES_IMAGE": "x/pg:15"}) == "x/pg:15"
    # Redis only holds copies and counters: it may evict rather than refuse writes.
    redis = services["redis"]["command"]
    assert redis[redis.index("--maxmemory-policy") + 1] == "volatile-lru"
    for name in ("prometheus", "alertmanager"):
        assert services[name]["profiles"] == ["monitoring"]
    assert not {name for name, s in services.items() if "profiles" in s} - {
        "prometheus",
        "alertmanager",
    }


@pytest.mark.parametrize("name", ["api", "worker", "migrate"])
def test_every_setting_compose_passes_is_read_and_accepted_by_the_app(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose()["services"]
    env = environment_of(services[name], {"CHRONOSOPS_JWT_SECRET": secrets.token_hex(32)})
    read = {f"CHRONOSOPS_{field.upper()}" for field in Settings.model_fields}
    assert set(env) <= read
    for key in [key for key in os.environ if key.startswith("CHRONOSOPS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    # PostgreSQL and Redis are the compose services of those names, with the postgres user.
    database = urlsplit(settings.database_url)
    assert (database.scheme, database.hostname) == ("postgresql+psycopg", "postgres")
    assert database.username == services["postgres"]["environment"]["POSTGRES_USER"]
    assert database.path.lstrip("/") == services["postgres"]["environment"]["POSTGRES_DB"]
    assert settings.redis_url is not None
    assert urlsplit(settings.redis_url).hostname == "redis"
    assert not settings.is_sqlite


def test_the_jwt_secret_comes_from_the_shell_and_is_never_written_in_the_file() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "CHRONOSOPS_JWT_SECRET: ${CHRONOSOPS_JWT_SECRET:?" in text


def test_prometheus_scrapes_the_api_and_alertmanager_posts_to_its_webhook(
    tmp_path: Path,
) -> None:
    configs = compose()["configs"]
    token = secrets.token_hex(32)
    shell = {"CHRONOSOPS_WEBHOOK_ALERTMANAGER_TOKEN": token}
    prometheus_yml = substitute(configs["prometheus"]["content"], shell)
    alertmanager_yml = substitute(configs["alertmanager"]["content"], shell)
    prometheus = yaml.safe_load(prometheus_yml)
    alertmanager = yaml.safe_load(alertmanager_yml)
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["api:8080"]
    hook = alertmanager["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == "http://api:8080/v1/webhooks/alertmanager"
    # Alertmanager sends the token the API is given: without it the API answers 404 (switched off).
    assert hook["http_config"]["authorization"]["credentials"] == token
    api = compose()["services"]["api"]
    assert (
        environment_of(api, {**shell, "CHRONOSOPS_JWT_SECRET": token})[
            "CHRONOSOPS_WEBHOOK_ALERTMANAGER_TOKEN"
        ]
        == token
    )
    assert api["ports"] == ["8080:8080"]
    for tool, args, content in (
        ("promtool", ["check", "config"], prometheus_yml),
        ("amtool", ["check-config"], alertmanager_yml),
        # Unset, the monitoring profile still starts (the API refuses the deliveries).
        ("amtool", ["check-config"], substitute(configs["alertmanager"]["content"], {})),
    ):
        executable = shutil.which(tool)
        assert executable is not None, f"{tool} is installed with prometheus/alertmanager"
        path = tmp_path / f"{tool}-{secrets.token_hex(4)}.yml"
        path.write_text(content)
        checked = subprocess.run(
            [executable, *args, str(path)], capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dockerfile_installs_the_package_from_pyproject_under_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(.+?) \S+$", dockerfile, flags=re.MULTILINE)
    sources = {item for line in copied for item in line.split()}
    # pyproject names README.md as the readme; the build needs it beside the sources.
    assert {"pyproject.toml", "constraints.txt", "README.md", "src"} <= sources
    assert re.search(r"pip install [^\n]*-c constraints\.txt \.(\s|$)", dockerfile)
    # The dependencies are installed in a layer before the sources are copied, so a change to
    # src/ does not download them again.
    dependencies = re.search(
        r"pip install [^\n]*-c constraints\.txt -r dependencies\.txt", dockerfile
    )
    assert dependencies is not None
    assert dependencies.start() < dockerfile.index("COPY src ./src")
    assert 'CMD ["chronosops", "serve"]' in dockerfile
    # Both stages start from PYTHON_IMAGE, the public image unless compose passes another.
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE) == ["${PYTHON_IMAGE}"] * 2
    build = compose()["services"]["api"]["build"]
    assert substitute(build["args"]["PYTHON_IMAGE"], {}) == "python:3.11-slim"
    assert "CHRONOSOPS_PORT=8080" in dockerfile
    assert "CHRONOSOPS_HOST=0.0.0.0" in dockerfile
    read = {f"CHRONOSOPS_{field.upper()}" for field in Settings.model_fields}
    assert set(re.findall(r"CHRONOSOPS_[A-Z_]+", dockerfile)) <= read


def test_redis_starts_with_the_command_compose_gives_it() -> None:
    executable = shutil.which("redis-server")
    assert executable is not None, "redis-server is installed here"
    command = compose()["services"]["redis"]["command"]
    assert command[0] == "redis-server"
    port = free_port()
    server = subprocess.Popen(
        [executable, *command[1:], "--port", str(port), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-lru"}
                assert client.config_get("maxmemory") == {"maxmemory": str(256 * 1024 * 1024)}
                break
            except redis.exceptions.ConnectionError:
                assert server.poll() is None, "redis-server refused the arguments"
                assert time.monotonic() < deadline
                time.sleep(0.05)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
