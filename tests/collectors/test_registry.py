"""The registry builds every backend, and the example in docs/collectors.md really works."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from chronosops.bootstrap import build_collectors
from chronosops.collectors import registry
from chronosops.config import ConfigurationError, Settings, load_collectors_file
from chronosops.core.clock import FrozenClock
from tests.collectors.scripted import NOW
from tests.fixtures.import_graph import vendor_leaf_violations

DOC = Path(__file__).parents[2] / "docs" / "collectors.md"
DOC_ENV = {
    "PROMETHEUS_TOKEN": "prom-token",
    "LOKI_USER": "123456",
    "LOKI_TOKEN": "glc-token",
    "DD_API_KEY": "dd-api",
    "DD_APP_KEY": "dd-app",
    "NEW_RELIC_USER_KEY": "NRAK-0123",
}


def _block(language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None, f"no {language} example in {DOC}"
    return match.group(1)


def test_the_registry_lists_the_six_backends() -> None:
    assert registry.kinds() == [
        "datadog",
        "google-cloud",
        "google-cloud-status",
        "loki",
        "newrelic",
        "prometheus",
    ]


@pytest.mark.parametrize(("language", "suffix"), [("toml", ".toml"), ("yaml", ".yaml")])
def test_the_documented_example_builds_every_collector_it_names(
    language: str, suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in DOC_ENV.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / f"collectors{suffix}"
    path.write_text(_block(language))
    config = load_collectors_file(path)
    runner = build_collectors(
        Settings(collectors_file=path), config, httpx.AsyncClient(), FrozenClock(NOW)
    )
    built = {collector.name: collector.kind for collector in runner.collectors}
    if language == "toml":
        assert built == {
            "prometheus-prod": "prometheus",
            "loki": "loki",
            "gcp": "google-cloud",
            "datadog": "datadog",
            "newrelic": "newrelic",
            "gcp-status": "google-cloud-status",
        }
    else:
        assert built == {"prometheus-prod": "prometheus", "gcp-status": "google-cloud-status"}
    assert config.topology["checkout-api"] == ["postgres", "payments-api"]


def test_a_backend_option_mistake_stops_start_up_with_the_instance_and_field(
    tmp_path: Path,
) -> None:
    path = tmp_path / "collectors.toml"
    path.write_text(
        '[[collectors]]\nname = "prom"\nbackend = "prometheus"\n'
        'endpoint = "http://p:9090"\n[collectors.options]\nstep_seconds = 1\n'
    )
    with pytest.raises(ConfigurationError) as caught:
        build_collectors(
            Settings(collectors_file=path),
            load_collectors_file(path),
            httpx.AsyncClient(),
            FrozenClock(NOW),
        )
    assert "collector prom: options.step_seconds" in caught.value.message


def test_backend_modules_are_leaves_reached_only_through_the_registry() -> None:
    assert vendor_leaf_violations("chronosops.collectors", {"base", "paging", "registry"}) == []


def test_the_leaf_check_reports_backends_that_import_a_sibling_not_declared_shared() -> None:
    problems = vendor_leaf_violations("chronosops.collectors", {"base", "registry"})
    assert {p for p in problems if p.startswith("the vendor module")} == {
        f"the vendor module chronosops.collectors.{backend} imports its sibling "
        "chronosops.collectors.paging"
        for backend in ("datadog", "google_cloud", "loki")
    }
