"""What the native-histogram alternatives of the default Prometheus queries cost.

Two real Prometheus servers of the test suite (`tests.collectors.prometheus_server`): the
polyglot chain backfilled as classic histograms only, and the chain with orders-api's latency
as native histograms (scraped in protobuf, ``--enable-feature=native-histograms``). Each HTTP
default query is asked for the chain's three services at once, with and without the native
alternatives (`http_queries(native=…)`), and Prometheus's own statistics (``stats=all``) say
how many samples it read; the evaluation time is the median of ``--repeat`` asks.

    python -m benchmarks.prometheus_queries [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
from tests.collectors.chain import WINDOW, chain_collector, chain_query
from tests.collectors.prometheus_server import (
    PrometheusServer,
    chain_exposition,
    chain_openmetrics,
    running_prometheus,
    scraped_prometheus,
)

from chronosops.collectors.prometheus import http_queries

SERVICES = ["web-frontend", "orders-api", "inventory-api"]
POLYGLOT = {
    "web-frontend": "opentelemetry",
    "orders-api": "opentelemetry-ms",
    "inventory-api": "prometheus-client",
}
FLEETS: dict[str, Callable[[Path], AbstractContextManager[PrometheusServer]]] = {
    "classic only (backfilled)": lambda d: running_prometheus(
        d, data_set=chain_openmetrics(POLYGLOT)
    ),
    "orders-api native (scraped)": lambda d: scraped_prometheus(
        d, chain_exposition({"orders-api": "opentelemetry"})
    ),
}


def rows(server: PrometheusServer, repeat: int) -> Iterator[str]:
    collector = chain_collector(server.url)
    selector = collector.group_selector(chain_query(), SERVICES)
    sets = {"without": http_queries(native=False), "with": http_queries(native=True)}
    for name in ("latency_p95_ms", "error_ratio", "request_rate"):
        cells = []
        for queries in sets.values():
            text = collector.expand(queries[name], selector, SERVICES[0])
            times, samples, series = [], 0, 0
            for _ in range(repeat):
                body = httpx.post(
                    f"{server.url}/api/v1/query_range",
                    data={
                        "query": text,
                        "start": f"{WINDOW.start.timestamp():.0f}",
                        "end": f"{WINDOW.end.timestamp():.0f}",
                        "step": "60s",
                        "stats": "all",
                    },
                    timeout=30,
                ).json()["data"]
                times.append(body["stats"]["timings"]["evalTotalTime"] * 1000)
                samples = body["stats"]["samples"]["totalQueryableSamples"]
                series = len(body["result"])
            cells.append(f"{series} | {samples:,} | {statistics.median(times):.1f}")
        yield f"| {name} | {' | '.join(cells)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    for fleet, start in FLEETS.items():
        print(f"\n{fleet}\n")
        print(
            "| query | series without | samples without | eval ms without "
            "| series with | samples with | eval ms with |"
        )
        print("|---|---|---|---|---|---|---|")
        with start(Path(tempfile.mkdtemp(prefix="prometheus-queries-"))) as server:
            for row in rows(server, args.repeat):
                print(row)


if __name__ == "__main__":
    main()
