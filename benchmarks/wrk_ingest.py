"""Ingest throughput with a load generator that is not the bottleneck: ``wrk``, pinned apart.

The server under test runs on CPU 0 (``taskset``), wrk (one thread, 16 connections, a new
``sourceRef`` per request from a Lua counter) on CPU 1. In the same run the floor app
(`benchmarks.floor_app`) is measured the same way, and each ChronosOps row is printed with its
ratio to the floor. Rows: SQLite and PostgreSQL (``--database-url``), the guide's Example 2
answered synchronously and with ``Prefer: respond-async``; then one 1,000-alert Alertmanager
delivery, timed; and the server's resident memory. Then ``respond-async`` once more with the
jobs in a `chronosops worker` on CPU 1 (the API started with ``CHRONOSOPS_JOB_RUNNER=worker``,
on SQLite too), printed as two rows of one wrk run: the API process alone, and the API plus
the worker until it has analysed every incident of the run, with the backlog the worker had
when the load stopped and the rate at which it then finished it (jobs/s); ``--split-only``
measures only these. With ``--memory-ingests N`` it then keeps ingesting (synchronously) and
samples the server's resident memory every ``--memory-every`` ingests, to show whether it
stays flat. Both servers run on the event loop and HTTP parser
`chronosops serve` uses (uvloop and httptools); ``--server-stack pure-python`` runs both on
asyncio and h11 instead, to measure what the C stack is worth.

    python -m benchmarks.wrk_ingest [--database-url postgresql+psycopg://…] [--seconds 10]
        [--memory-ingests 100000 [--memory-every 10000]] [--server-stack pure-python]
        [--split-only] [--skip-sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from benchmarks.ingest import processes_of, resident_mib, token_for
from chronosops.auth import Role
from chronosops.cli.server_stack import PURE_PYTHON, ServerStack, server_stack

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_2 = ROOT / "tests" / "fixtures" / "guide" / "example_2_with_evidence.json"
ALERTMANAGER = ROOT / "tests" / "sources" / "payloads" / "alertmanager" / "firing.json"
SERVER_CPU = "0"
CLIENT_CPU = "1"

LUA = """
counter = 0
-- wrk's math.random is not seeded: without the clock, every run of one script would send the
-- same sourceRefs again (duplicates, not new incidents).
math.randomseed(os.time())
local prefix = "%(prefix)s-" .. tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000)) .. "-"
local head = %(head)s
local tail = %(tail)s
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(headers)s
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. prefix .. counter .. tail)
end
"""


@dataclass(frozen=True)
class Drain:
    """A worker's backlog after the load stopped, and the time it took to finish it."""

    backlog: int
    seconds: float
    # Still queued or running when the wait ran out (0: drained).
    left: int = 0

    @property
    def rate(self) -> float:
        return (self.backlog - self.left) / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        if self.left:
            return (
                f"{self.backlog:,}: **{self.left:,} left** after {self.seconds:.0f} s "
                f"({self.rate:,.1f} jobs/s)"
            )
        return f"{self.backlog:,} in {self.seconds:.1f} s: {self.rate:,.0f} jobs/s"


@dataclass
class Row:
    target: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mib: float | None
    # The floor's rate measured just before this row (the ratio's denominator).
    floor_rate: float | None = None
    # CPU seconds the server's processes spent per request (not PostgreSQL's own).
    cpu_ms: float | None = None
    floor_cpu_ms: float | None = None
    # The split rows: jobs left to do when the load stopped, and how fast the worker then
    # finished them (a backlog the worker cannot finish in the wait is marked, not hidden).
    drain: Drain | None = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (uvicorn's workers, the job worker)."""
    total = 0
    for process in processes_of(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measured(
    pids: list[int], url: str, lua: Path, seconds: int, connections: int
) -> tuple[float, float, float, int, float]:
    """wrk's rate, p50, p99 and errors, and the CPU milliseconds ``pids`` spent per request.

    CPU per request is the fair comparison on a shared machine: the rate depends on how much of
    its core a server gets, which depends on everything else running (and a server with more
    runnable threads gets more of a contended core), its CPU per request does not.
    """
    before = sum(cpu_seconds(pid) for pid in pids)
    rate, p50, p99, errors = wrk(url, lua, seconds, connections)
    spent = sum(cpu_seconds(pid) for pid in pids) - before
    return rate, p50, p99, errors, spent * 1000 / max(1.0, rate * seconds)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal here (no \\u escapes)


def script(path: Path, *, prefix: str, headers: dict[str, str]) -> Path:
    body = json.loads(EXAMPLE_2.read_text())
    body["sourceRef"] = "@@REF@@"
    text = json.dumps(body, separators=(",", ":"))
    head, tail = text.split("@@REF@@")
    lines = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    text = LUA % {
        "prefix": prefix,
        "head": lua_string(head),
        "tail": lua_string(tail),
        "headers": lines,
    }
    path.write_text(text)
    return path


def _ms(value: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if found is None:
        raise ValueError(f"not a wrk duration: {value!r}")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, lua: Path, seconds: int, connections: int) -> tuple[float, float, float, int]:
    result = subprocess.run(
        [
            "taskset",
            "-c",
            CLIENT_CPU,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(lua),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    if "Requests/sec" not in out or "99%" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}\n{result.stderr}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    errors += int(socket_errors.group(1)) if socket_errors else 0
    return rate, p50, p99, errors


# Where each started process writes its stderr, by pid: a server that exits before it answers
# says why (an import that moved, a port taken) instead of an exit code alone.
STDERR_FILES: dict[int, Path] = {}


def wait_ready(url: str, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = STDERR_FILES.get(process.pid)
            tail = stderr.read_text()[-3000:] if stderr is not None and stderr.exists() else ""
            raise RuntimeError(f"the server exited ({process.returncode}):\n{tail}")
        try:
            httpx.get(url + path, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def start(
    args: list[str], env: dict[str, str], cwd: Path, cpu: str = SERVER_CPU
) -> subprocess.Popen[bytes]:
    name = next((a for a in args if not a.startswith("-")), "process").replace(".", "-")
    stderr = cwd / f"{name}-{len(STDERR_FILES)}.stderr"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            ["taskset", "-c", cpu, sys.executable, *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    STDERR_FILES[process.pid] = stderr
    return process


def start_bench_server(
    work: Path, database_url: str, stack: ServerStack, *options: str
) -> tuple[subprocess.Popen[bytes], int, str, dict[str, str]]:
    """ChronosOps's bench server on the server's CPU, with a fresh secret and none of the
    caller's CHRONOSOPS_ settings: the process, its port, its secret and its environment."""
    port = free_port()
    secret = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOSOPS_")}
    env["PYTHONPATH"] = str(ROOT)
    arguments = ["--port", str(port), "--database-url", database_url, "--secret", secret]
    process = start(
        ["-m", "benchmarks.bench_server", *arguments, *options, *stack.arguments()], env, work
    )
    return process, port, secret, env


class Floor:
    """The floor app, kept running for the whole benchmark and measured again right before
    each ChronosOps row: on a machine shared with other work, the load changes within minutes,
    and a ratio is only fair between two measurements taken under the same load."""

    def __init__(self, work: Path, seconds: int, connections: int, stack: ServerStack) -> None:
        self.seconds = seconds
        self.connections = connections
        port = free_port()
        env = {**os.environ, "FLOOR_DATABASE": str(work / "floor.db"), "PYTHONPATH": str(ROOT)}
        self.process = start(
            [
                "-m",
                "uvicorn",
                "benchmarks.floor_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                *stack.arguments(),
            ],
            env,
            work,
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_ready(self.url, "/docs", self.process)
        self.lua = script(work / "floor.lua", prefix="floor", headers={})
        wrk(self.url + "/floor", self.lua, 2, connections)  # warm-up
        self.rows: list[Row] = []

    def measure(self) -> Row:
        rate, p50, p99, errors, cpu_ms = measured(
            [self.process.pid], self.url + "/floor", self.lua, self.seconds, self.connections
        )
        row = Row(
            "floor (validate, hash, insert one row)",
            rate,
            p50,
            p99,
            errors,
            resident_mib(self.process.pid),
            cpu_ms=cpu_ms,
        )
        self.rows.append(row)
        return row

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@dataclass
class MemorySample:
    ingests: int
    rss_mib: float | None
    seconds: float
    errors: int


def memory_run(
    url: str,
    work: Path,
    auth: dict[str, str],
    pid: int,
    *,
    label: str,
    total: int,
    every: int,
    connections: int,
) -> list[MemorySample]:
    """Ingest about ``total`` incidents synchronously, sampling the server's RSS about every
    ``every``. wrk cannot stop after a number of requests (its main thread sleeps for the
    duration), so each chunk runs for the time ``every`` took at the last chunk's rate."""
    samples = [MemorySample(0, resident_mib(pid), 0.0, 0)]
    done = 0
    rate = 50.0  # a first guess; each chunk measures it again
    run = secrets.token_hex(3)
    while done < total:
        seconds = max(5, round(min(every, total - done) / rate))
        lua = script(work / "memory.lua", prefix=f"{label}-memory-{run}-{done}", headers=auth)
        rate, _p50, _p99, errors = wrk(url + "/v1/incidents/ingest", lua, seconds, connections)
        done += round(rate * seconds)
        samples.append(MemorySample(done, resident_mib(pid), float(seconds), errors))
        print(f"  {label}: {done:,} ingests, server RSS {samples[-1].rss_mib} MiB", file=sys.stderr)
    return samples


def memory_table(label: str, samples: list[MemorySample]) -> str:
    lines = [
        f"| {label}: ingests so far | server RSS MiB | req/s in the last chunk | errors |",
        "|---:|---:|---:|---:|",
    ]
    for previous, sample in zip([None, *samples], samples, strict=False):
        rate = (
            f"{(sample.ingests - previous.ingests) / sample.seconds:,.0f}"
            if previous is not None and sample.seconds
            else ""
        )
        rss = f"{sample.rss_mib:.0f}" if sample.rss_mib is not None else "?"
        lines.append(f"| {sample.ingests:,} | {rss} | {rate} | {sample.errors} |")
    return "\n".join(lines)


def chronosops_rows(
    floor: Floor,
    work: Path,
    database_url: str,
    label: str,
    seconds: int,
    connections: int,
    *,
    stack: ServerStack,
    memory_ingests: int = 0,
    memory_every: int = 10_000,
    memory: dict[str, list[MemorySample]] | None = None,
) -> list[Row]:
    process, port, secret, env = start_bench_server(work, database_url, stack)
    worker = None
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, "/v1/health", process)
        # On PostgreSQL the jobs run in a `chronosops worker`, on the server's CPU too.
        worker = (
            start(
                ["-m", "chronosops", "worker"],
                {
                    **env,
                    "CHRONOSOPS_DATABASE_URL": database_url,
                    "CHRONOSOPS_JWT_SECRET": secret,
                    "CHRONOSOPS_LOG_LEVEL": "WARNING",
                },
                work,
            )
            if database_url.startswith("postgresql")
            else None
        )
        auth = {"Authorization": f"Bearer {token_for(secret)}"}
        run = secrets.token_hex(3)
        for mode, extra in (("sync", {}), ("respond-async", {"Prefer": "respond-async"})):
            warm = script(
                work / f"{mode}-warm.lua",
                prefix=f"{label}-{mode}-{run}-warm",
                headers={**auth, **extra},
            )
            lua = script(
                work / f"{mode}.lua", prefix=f"{label}-{mode}-{run}", headers={**auth, **extra}
            )
            wrk(url + "/v1/incidents/ingest", warm, 2, connections)  # warm-up
            drained(url, secret)
            floor_row = floor.measure()
            pids = [process.pid] + ([worker.pid] if worker is not None else [])
            rate, p50, p99, errors, cpu_ms = measured(
                pids, url + "/v1/incidents/ingest", lua, seconds, connections
            )
            rows.append(
                Row(
                    f"{label} {mode}",
                    rate,
                    p50,
                    p99,
                    errors,
                    resident_mib(process.pid),
                    floor_rate=floor_row.rate,
                    cpu_ms=cpu_ms,
                    floor_cpu_ms=floor_row.cpu_ms,
                )
            )
            drained(url, secret)
        rows.append(delivery_row(url, secret, label, process.pid))
        drained(url, secret)
        if memory_ingests and memory is not None:
            memory[label] = memory_run(
                url,
                work,
                auth,
                process.pid,
                label=label,
                total=memory_ingests,
                every=memory_every,
                connections=connections,
            )
    finally:
        for running in (process, worker):
            if running is not None:
                running.terminate()
                running.wait(timeout=60)
    return rows


def split_rows(
    floor: Floor,
    work: Path,
    database_url: str,
    label: str,
    seconds: int,
    connections: int,
    *,
    stack: ServerStack,
) -> list[Row]:
    """``Prefer: respond-async`` with the jobs in a `chronosops worker` on the other core.

    The API process (``CHRONOSOPS_JOB_RUNNER=worker``: it runs no job itself, on SQLite too)
    is on the server's CPU, the worker on the client's, so the API's CPU per accepted ingest
    is read apart from the analysis. Two rows from one wrk run: the API process alone, and the
    API plus the worker's CPU until it has analysed every incident of the run (its backlog
    included, which the rows above do not wait for)."""
    if database_url.startswith("sqlite"):
        # A database of its own: the rows above leave theirs full of analysed incidents.
        database_url = f"sqlite:///{work}/bench-split.db"
    process, port, secret, env = start_bench_server(
        work, database_url, stack, "--job-runner", "worker"
    )
    worker = None
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, "/v1/health", process)
        worker = start(
            ["-m", "chronosops", "worker"],
            {
                **env,
                "CHRONOSOPS_DATABASE_URL": database_url,
                "CHRONOSOPS_JWT_SECRET": secret,
                "CHRONOSOPS_LOG_LEVEL": "WARNING",
                "CHRONOSOPS_JOB_RUNNER": "worker",
            },
            work,
            cpu=CLIENT_CPU,
        )
        headers = {"Authorization": f"Bearer {token_for(secret)}", "Prefer": "respond-async"}
        run = secrets.token_hex(3)
        warm = script(work / "split-warm.lua", prefix=f"{label}-split-{run}-warm", headers=headers)
        lua = script(work / "split.lua", prefix=f"{label}-split-{run}", headers=headers)
        wrk(url + "/v1/incidents/ingest", warm, 2, connections)  # warm-up
        drained(url, secret)
        floor_row = floor.measure()
        api_before = cpu_seconds(process.pid)
        worker_before = cpu_seconds(worker.pid)
        rate, p50, p99, errors = wrk(url + "/v1/incidents/ingest", lua, seconds, connections)
        api_spent = cpu_seconds(process.pid) - api_before
        drain = drained(url, secret)
        worker_spent = cpu_seconds(worker.pid) - worker_before
        requests = max(1.0, rate * seconds)
        api_only = Row(
            f"{label} respond-async, API process only (jobs in a worker on CPU {CLIENT_CPU})",
            rate,
            p50,
            p99,
            errors,
            resident_mib(process.pid),
            floor_rate=floor_row.rate,
            cpu_ms=api_spent * 1000 / requests,
            floor_cpu_ms=floor_row.cpu_ms,
        )
        return [
            api_only,
            replace(
                api_only,
                target=f"{label} respond-async, API + worker "
                "(the worker's CPU until its backlog is done)",
                cpu_ms=(api_spent + worker_spent) * 1000 / requests,
                drain=drain,
            ),
        ]
    finally:
        for running in (process, worker):
            if running is not None:
                running.terminate()
                running.wait(timeout=60)


def drained(url: str, secret: str, limit_seconds: float = 600) -> Drain:
    """Wait until the jobs the last run left behind are done, so each row starts from rest;
    what was left and how long it took (at most ``limit_seconds``, then what is still left)."""
    headers = {"Authorization": f"Bearer {token_for(secret, Role.ADMIN)}"}
    started = time.monotonic()
    backlog: int | None = None
    while True:
        counts = httpx.get(f"{url}/v1/jobs?limit=1", headers=headers, timeout=30).json()["counts"]
        pending = counts.get("queued", 0) + counts.get("running", 0)
        if backlog is None:
            backlog = pending
        elapsed = time.monotonic() - started
        if not pending:
            return Drain(backlog, elapsed)
        if elapsed >= limit_seconds:
            print("warning: jobs still pending after the wait", file=sys.stderr)
            return Drain(backlog, elapsed, left=pending)
        # Finer than the drain of a small backlog, coarse enough not to load the API.
        time.sleep(0.25)


def delivery_row(url: str, secret: str, label: str, pid: int) -> Row:
    """One Alertmanager delivery of 1,000 alerts through the webhook, timed end to end."""
    payload: dict[str, Any] = json.loads(ALERTMANAGER.read_text())
    template = payload["alerts"][0]
    run = secrets.token_hex(4)
    payload["alerts"] = [
        {
            **template,
            "fingerprint": f"{run}{index:08x}",
            "labels": {**template["labels"], "instance": f"host-{index}"},
        }
        for index in range(1000)
    ]
    started = time.perf_counter()
    response = httpx.post(
        f"{url}/v1/webhooks/alertmanager",
        json=payload,
        timeout=120,
        headers={"Authorization": f"Bearer {secret}"},
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code >= 300:
        print(f"delivery answered {response.status_code}: {response.text[:300]}", file=sys.stderr)
    errors = 0 if response.status_code < 300 else 1
    return Row(
        f"{label} 1,000-alert delivery",
        1000 / (elapsed_ms / 1000),
        elapsed_ms,
        elapsed_ms,
        errors,
        resident_mib(pid),
    )


def table(rows: list[Row], floors: list[Row]) -> str:
    lines = [
        "| target | req/s | floor req/s just before | × floor | server CPU ms/req "
        "| × floor by CPU | p50 ms | p99 ms | errors | server RSS MiB "
        "| worker's backlog after the load: drained in |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in [*floors[:1], *rows]:
        ratio = f"{row.rate / row.floor_rate:.2f}×" if row.floor_rate else ""
        floor_rate = f"{row.floor_rate:,.0f}" if row.floor_rate else ""
        cpu = f"{row.cpu_ms:.2f}" if row.cpu_ms is not None else ""
        cpu_ratio = (
            f"{row.floor_cpu_ms / row.cpu_ms:.3f}×" if row.floor_cpu_ms and row.cpu_ms else ""
        )
        rate = f"{row.rate:,.0f}" if "delivery" not in row.target else f"{row.rate:,.0f} alerts/s"
        rss = f"{row.rss_mib:.0f}" if row.rss_mib is not None else "?"
        drain = str(row.drain) if row.drain is not None else ""
        lines.append(
            f"| {row.target} | {rate} | {floor_rate} | {ratio} | {cpu} | {cpu_ratio} "
            f"| {row.p50_ms:.1f} | "
            f"{row.p99_ms:.1f} | {row.errors} | {rss} | {drain} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        help="a PostgreSQL URL to measure beside the embedded SQLite",
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--memory-ingests",
        type=int,
        default=0,
        help="then ingest this many more (sync) and sample the server's memory (0: skip)",
    )
    parser.add_argument("--memory-every", type=int, default=10_000)
    parser.add_argument(
        "--skip-sqlite", action="store_true", help="measure only the --database-url rows"
    )
    parser.add_argument(
        "--split-only",
        action="store_true",
        help="measure only the rows with the jobs in a `chronosops worker` (and their drain)",
    )
    parser.add_argument(
        "--server-stack",
        choices=["default", "pure-python"],
        default="default",
        help="default: what `chronosops serve` uses; pure-python: asyncio and h11 for both servers",
    )
    args = parser.parse_args()
    stack = PURE_PYTHON if args.server_stack == "pure-python" else server_stack()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        sys.exit("needs wrk and taskset (apt-get install wrk util-linux)")
    with tempfile.TemporaryDirectory(prefix="chronosops-wrk-") as directory:
        work = Path(directory)
        floor = Floor(work, args.seconds, args.connections, stack)
        try:
            memory: dict[str, list[MemorySample]] = {}
            options: dict[str, Any] = {
                "stack": stack,
                "memory_ingests": args.memory_ingests,
                "memory_every": args.memory_every,
                "memory": memory,
            }
            rows = (
                []
                if args.skip_sqlite or args.split_only
                else chronosops_rows(
                    floor,
                    work,
                    f"sqlite:///{work}/bench.db",
                    "SQLite",
                    args.seconds,
                    args.connections,
                    **options,
                )
            )
            if not args.skip_sqlite:
                rows += split_rows(
                    floor,
                    work,
                    f"sqlite:///{work}/bench.db",
                    "SQLite",
                    args.seconds,
                    args.connections,
                    stack=stack,
                )
            for url in args.database_url:
                if not args.split_only:
                    rows += chronosops_rows(
                        floor, work, url, "PostgreSQL", args.seconds, args.connections, **options
                    )
                rows += split_rows(
                    floor, work, url, "PostgreSQL", args.seconds, args.connections, stack=stack
                )
        finally:
            floor.close()
    print(
        f"wrk -t1 -c{args.connections} -d{args.seconds}s, server on CPU {SERVER_CPU}, "
        f"wrk on CPU {CLIENT_CPU}; the guide's Example 2 with a new sourceRef per request; "
        f"both servers on {stack.loop} and {stack.http}"
    )
    print(table(rows, floor.rows))
    for label, samples in memory.items():
        print()
        print(memory_table(label, samples))


if __name__ == "__main__":
    main()
