"""A real Prometheus for tests: backfilled from OpenMetrics with promtool, served on loopback.

Two data sets. `openmetrics`: ``payment-service`` serves 120 requests a minute, fast and almost
error-free until 10:00 on 2024-01-15, then slow (0.5–1 s) with a quarter failing. A second
service, ``search-api``, stays healthy throughout, so a query that leaks across services shows.

`chain_openmetrics`: an outage deep in a call chain, web-frontend → orders-api → inventory-api
(the Tempo service-graph metric says who calls whom). From 10:00 orders-api is slow, fails a
quarter of its requests and burns its CPU; web-frontend, which waits on it, is slow too; the
inventory-api behind it stays healthy, as does search-api, which nothing in the chain calls.

`chain_exposition`: the same chain with some services' latency in native histograms, which
promtool cannot backfill (OpenMetrics has no native histograms before 2.0). It is handed to a
Prometheus run with ``--enable-feature=native-histograms`` by a scrape target on loopback that
serves the whole history, timestamped, in one protobuf scrape (`scraped_prometheus`).
"""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import httpx

from tests.collectors.protobuf_exposition import (
    CONTENT_TYPE,
    HISTOGRAM,
    UNTYPED,
    Family,
    NativeHistogram,
    exposition,
    untyped_from_openmetrics,
)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
DATA_START = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
DATA_END = datetime(2024, 1, 15, 11, 30, tzinfo=UTC)
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")
MIB = 1024 * 1024
# bcrypt of "prom-test-password" (cost 4): Prometheus's web config wants a hash, not the password.
BASIC_AUTH_USER = "chronosops"
BASIC_AUTH_PASSWORD = "prom-test-password"
BASIC_AUTH_HASH = "$2b$04$ZPq0K6MoycPGH8igvTs7Guvp5gqxlCY5J2WCWrr42tjSKgDNAIITm"


def available() -> bool:
    return Path(PROMETHEUS).exists() and Path(PROMTOOL).exists()


def minutes() -> list[datetime]:
    found, at = [], DATA_START
    while at <= DATA_END:
        found.append(at)
        at += timedelta(minutes=1)
    return found


def memory_bytes(service: str, at: datetime) -> float:
    """The gauge the tests read back exactly: a slow climb, one MiB a minute."""
    index = int((at - DATA_START).total_seconds() // 60)
    base = 200 if service == "payment-service" else 90
    return float((base + index) * MIB)


def openmetrics() -> str:
    lines: list[str] = []
    services = ("payment-service", "search-api")
    times = minutes()

    def labels(service: str, **extra: str) -> str:
        pairs = {"service": service, "env": "production", **extra}
        return ",".join(f'{k}="{v}"' for k, v in pairs.items())

    lines += ["# TYPE http_requests counter"]
    for service in services:
        for code in ("200", "500"):
            total = 0
            for at in times:
                failing = service == "payment-service" and at >= ONSET
                errors = 30 if failing else 1
                total += (120 - errors) if code == "200" else errors
                lines.append(
                    f"http_requests_total{{{labels(service, code=code)}}} {total} {int(at.timestamp())}"
                )
    lines += ["# TYPE http_request_duration_seconds histogram"]
    for service in services:
        counts = dict.fromkeys(BUCKETS, 0)
        count = 0
        duration_sum = 0.0
        for at in times:
            slow = service == "payment-service" and at >= ONSET
            for bound in BUCKETS:
                # Fast requests fall in (0.05, 0.1]; slow ones in (0.5, 1].
                edge = 1.0 if slow else 0.1
                if bound == "+Inf" or float(bound) >= edge:
                    counts[bound] += 120
            count += 120
            duration_sum += 120 * (0.75 if slow else 0.075)
            stamp = int(at.timestamp())
            for bound in BUCKETS:
                lines.append(
                    f"http_request_duration_seconds_bucket{{{labels(service, le=bound)}}} {counts[bound]} {stamp}"
                )
            lines.append(
                f"http_request_duration_seconds_count{{{labels(service)}}} {count} {stamp}"
            )
            lines.append(
                f"http_request_duration_seconds_sum{{{labels(service)}}} {duration_sum:.3f} {stamp}"
            )
    lines += ["# TYPE container_memory_working_set_bytes gauge"]
    for service in services:
        for at in times:
            lines.append(
                f"container_memory_working_set_bytes{{{labels(service)}}} {memory_bytes(service, at):.0f} {int(at.timestamp())}"
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


CHAIN = ("web-frontend", "orders-api", "inventory-api")
CHAIN_EDGES = (("web-frontend", "orders-api"), ("orders-api", "inventory-api"))
UNRELATED_EDGES = (("search-api", "search-index"),)
PER_MINUTE = 600


def _chain_answers(service: str, at: datetime) -> dict[str, int]:
    """Requests answered that minute by status: orders-api fails a quarter from the onset."""
    errors = PER_MINUTE // 4 if service == "orders-api" and at >= ONSET else 1
    return {"200": PER_MINUTE - errors, "500": errors}


def _chain_latency_edge(service: str, failing: bool) -> float:
    """The upper bound of the bucket every request of that minute falls in."""
    if service == "orders-api":
        return 1.0 if failing else 0.1
    if service == "web-frontend":
        return 2.5 if failing else 0.25
    return 0.05


# How each service of a polyglot fleet exports its requests: the histogram's name, the
# factor from seconds to its unit, its status label, and the separate request counter a
# Prometheus client library keeps (OpenTelemetry counts requests in the histogram's _count).
INSTRUMENTATIONS = {
    "prometheus-client": ("http_request_duration_seconds", 1, None, "http_requests"),
    "opentelemetry": ("http_server_request_duration_seconds", 1, "http_response_status_code", None),
    "opentelemetry-ms": ("http_server_duration_milliseconds", 1000, "http_status_code", None),
}


def chain_openmetrics(instrumented: dict[str, str] | None = None) -> str:
    """The chain; ``instrumented`` names the `INSTRUMENTATIONS` entry of each service (a
    Prometheus client library where not named)."""
    lines: list[str] = []
    times = minutes()
    services = (*CHAIN, "search-api")

    def labels(service: str, **extra: str) -> str:
        pairs = {"service": service, "env": "production", **extra}
        return ",".join(f'{k}="{v}"' for k, v in pairs.items())

    for kind, (histogram, scale, status_label, counter) in INSTRUMENTATIONS.items():
        own = [s for s in services if (instrumented or {}).get(s, "prometheus-client") == kind]
        if not own:
            continue
        if counter is not None:
            lines += [f"# TYPE {counter} counter"]
            for service in own:
                for code in ("200", "500"):
                    total = 0
                    for at in times:
                        total += _chain_answers(service, at)[code]
                        lines.append(
                            f"{counter}_total{{{labels(service, code=code)}}} {total} {int(at.timestamp())}"
                        )
        lines += [f"# TYPE {histogram} histogram"]
        for service in own:
            codes = ("200", "500") if status_label else ("",)
            for code in codes:
                extra = {status_label: code} if status_label else {}
                counts = dict.fromkeys(BUCKETS, 0)
                count = 0
                for at in times:
                    answers = _chain_answers(service, at)
                    served = answers[code] if code else sum(answers.values())
                    edge = _chain_latency_edge(service, at >= ONSET)
                    for bound in BUCKETS:
                        if bound == "+Inf" or float(bound) >= edge:
                            counts[bound] += served
                    count += served
                    stamp = int(at.timestamp())
                    for bound in BUCKETS:
                        le = bound if bound == "+Inf" else f"{float(bound) * scale:g}"
                        lines.append(
                            f"{histogram}_bucket{{{labels(service, **extra, le=le)}}} {counts[bound]} {stamp}"
                        )
                    lines.append(f"{histogram}_count{{{labels(service, **extra)}}} {count} {stamp}")
    lines += ["# TYPE container_cpu_usage_seconds counter"]
    for service in services:
        used = 0.0
        for at in times:
            # Cores busy that minute: orders-api goes from 0.4 to 1.9 of its 2.
            cores = 1.9 if service == "orders-api" and at >= ONSET else 0.4
            used += cores * 60
            lines.append(
                f"container_cpu_usage_seconds_total{{{labels(service)}}} {used:.1f} {int(at.timestamp())}"
            )
    lines += ["# TYPE traces_service_graph_request counter"]
    for client, server in (*CHAIN_EDGES, *UNRELATED_EDGES):
        total = 0
        for at in times:
            total += PER_MINUTE
            lines.append(
                f'traces_service_graph_request_total{{client="{client}",server="{server}"}} '
                f"{total} {int(at.timestamp())}"
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# A native histogram's buckets have powers of two for bounds (schema 0: bucket i holds
# (2^(i-1), 2^i]); a request the classic chain puts in (0.05, 0.1] takes 75 ms here and falls
# in (0.0625, 0.125], bucket -3.
NATIVE_SECONDS = {0.05: 0.04, 0.1: 0.075, 0.25: 0.2, 1.0: 0.75, 2.5: 3.0}


def _native_bucket(seconds: float) -> int:
    return math.ceil(math.log2(seconds))


def chain_exposition(native: dict[str, str], instrumented: dict[str, str] | None = None) -> bytes:
    """The chain (`chain_openmetrics`) as one protobuf scrape, the services of ``native``
    exporting their latency as native histograms (no ``_bucket``, no ``_count``) under the
    `INSTRUMENTATIONS` entry named, one histogram per status code where it has a status label.
    A service also in ``instrumented`` exports its classic histogram beside the native one."""
    kinds = {**dict.fromkeys(native, "native"), **(instrumented or {})}
    families = untyped_from_openmetrics(chain_openmetrics(kinds))
    for kind in sorted(set(native.values())):
        histogram, scale, status_label, counter = INSTRUMENTATIONS[kind]
        family = Family(histogram, HISTOGRAM)
        for service in sorted(s for s, k in native.items() if k == kind):
            codes = ("200", "500") if status_label else ("",)
            if counter is not None:
                family_counter = Family(f"{counter}_total", UNTYPED)
                for code in ("200", "500"):
                    total = 0
                    for at in minutes():
                        total += _chain_answers(service, at)[code]
                        family_counter.add(
                            {"service": service, "env": "production", "code": code},
                            float(total),
                            int(at.timestamp()) * 1000,
                        )
                families.append(family_counter)
            for code in codes:
                labels = {"service": service, "env": "production"}
                if status_label:
                    labels[status_label] = code
                buckets: dict[int, int] = {}
                total_seconds = 0.0
                for at in minutes():
                    answers = _chain_answers(service, at)
                    served = answers[code] if code else sum(answers.values())
                    seconds = NATIVE_SECONDS[_chain_latency_edge(service, at >= ONSET)]
                    index = _native_bucket(seconds * scale)
                    buckets[index] = buckets.get(index, 0) + served
                    total_seconds += served * seconds
                    family.add(
                        labels,
                        NativeHistogram(dict(buckets), total_seconds * scale),
                        int(at.timestamp()) * 1000,
                    )
        families.append(family)
    return exposition(families)


def asked(sent: httpx.Request) -> dict[str, str]:
    """What a request asked Prometheus: the form of a POSTed range query, else the URL's."""
    if sent.method == "POST":
        return dict(parse_qsl(sent.content.decode()))
    return dict(sent.url.params)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    pid: int


@contextmanager
def running_prometheus(
    workdir: Path, *, basic_auth: bool = False, data_set: str | None = None
) -> Iterator[PrometheusServer]:
    """Backfill the data set (`openmetrics` unless given) and serve it; the process is
    stopped (by its own handle) after."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data.om"
    data.write_text(data_set if data_set is not None else openmetrics())
    tsdb = workdir / "tsdb"
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(data), str(tsdb)],
        check=True,
        capture_output=True,
    )
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    with _serving(workdir, config, tsdb, basic_auth=basic_auth) as server:
        yield server


@contextmanager
def scraped_prometheus(workdir: Path, body: bytes) -> Iterator[PrometheusServer]:
    """A Prometheus with native histograms on, fed ``body`` (a protobuf exposition whose
    samples carry their own timestamps) by one scrape of a target on loopback.

    The TSDB starts empty, so the first sample sets where the head begins and the whole history
    is accepted in that one scrape; later scrapes get an empty answer (their samples would be
    out of bounds anyway). Ready once the samples can be queried at the data's end.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    served: list[bool] = []

    class Target(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = b"" if served else body
            served.append(True)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    target = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    thread = threading.Thread(target=target.serve_forever, daemon=True)
    thread.start()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n"
        "scrape_configs:\n  - job_name: exposition\n    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target.server_address[1]}']\n"
    )
    try:
        with _serving(workdir, config, workdir / "tsdb", features=("native-histograms",)) as server:
            deadline = time.monotonic() + 30
            while not _has_data(server.url):
                if time.monotonic() > deadline:
                    raise RuntimeError("prometheus did not scrape the exposition in 30 s")
                time.sleep(0.2)
            yield server
    finally:
        target.shutdown()
        target.server_close()
        thread.join(timeout=5)


def _has_data(url: str) -> bool:
    answer = httpx.post(
        f"{url}/api/v1/query",
        data={"query": 'count({__name__!=""})', "time": f"{DATA_END.timestamp():.0f}"},
        timeout=5,
    ).json()
    return bool(answer.get("data", {}).get("result"))


@contextmanager
def _serving(
    workdir: Path,
    config: Path,
    tsdb: Path,
    *,
    basic_auth: bool = False,
    features: tuple[str, ...] = (),
) -> Iterator[PrometheusServer]:
    port = free_port()
    arguments = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tsdb}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
        *(f"--enable-feature={feature}" for feature in features),
    ]
    if basic_auth:
        web = workdir / "web.yml"
        web.write_text(f"basic_auth_users:\n  {BASIC_AUTH_USER}: {BASIC_AUTH_HASH}\n")
        arguments.append(f"--web.config.file={web}")
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited: {(workdir / 'prometheus.log').read_text()[-2000:]}"
                )
            try:
                auth = (BASIC_AUTH_USER, BASIC_AUTH_PASSWORD) if basic_auth else None
                if httpx.get(f"{url}/-/ready", auth=auth, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus did not become ready in 30 s")
            time.sleep(0.2)
        yield PrometheusServer(url=url, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
