"""A minute-by-minute simulation of a small service topology under a fault.

Deliberately simple queueing and failure arithmetic, but causal: traffic flows from the entry
services down the call graph; latency and failures flow back up; CPU follows load, pools follow
Little's law, memory leaks end in OOM kills, caches shift load onto databases. Every metric,
log rate and span of a scenario is read off these frames, so the evidence agrees with itself:
a caller's client spans to a dependency fail exactly when that dependency's own metrics say so.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chronosops.scenarios.model import (
    EffectField,
    FailureMode,
    Operation,
    Scenario,
    ServiceNode,
    Topology,
)

BASE_SIGMA = 0.42  # log-normal spread of request latency at baseline
FAST_FAIL_MS = 4.0  # a refused connection, failed handshake or failed lookup
POOL_ACQUIRE_TIMEOUT_MS = 5000.0
RESTART_ERROR_SHARE = 0.3  # requests lost in the minute a process is OOM-killed
DNS_LOOKUP_SHARE = 0.6  # calls that need a fresh lookup (expired cache entries)
MAX_UTILISATION = 0.97
DB_CPU_PER_EXTRA_WORK = 0.05
GC_PRESSURE_FROM = 0.75  # share of the memory limit above which garbage collection slows requests
IDLE_CPU = 0.02


@dataclass
class CallFrame:
    target: str
    operation: str
    rps: float
    error_ratio: float
    p50_ms: float
    sigma: float
    timeout_ms: float
    mode: FailureMode | None


@dataclass
class OpFrame:
    name: str
    rps: float
    error_ratio: float
    p50_ms: float
    sigma: float
    mode: FailureMode | None
    calls: list[CallFrame] = field(default_factory=list)


@dataclass
class ServiceFrame:
    key: str
    rps: float
    error_ratio: float
    p50_ms: float
    p95_ms: float
    sigma: float
    cpu: float
    memory_mb: float
    restarts_total: int
    restarted: bool
    pool_in_use: float
    pool_pending: float
    cache_hit: float | None
    cert_days: float | None
    own_errors: float  # per second
    throttled: float  # per second
    pool_timeouts: float  # per second
    cache_misses: float  # per second
    mode: FailureMode | None
    ops: dict[str, OpFrame]

    def slow_share(self, threshold_ms: float, operation: str | None = None) -> float:
        frames = [self.ops[operation]] if operation and operation in self.ops else self.ops.values()
        total = sum(f.rps for f in frames)
        if total <= 0:
            return 0.0
        return sum(f.rps * exceed(f.p50_ms, f.sigma, threshold_ms) for f in frames) / total


def exceed(p50_ms: float, sigma: float, threshold_ms: float) -> float:
    """P(latency > threshold) for a log-normal latency with median ``p50_ms``."""
    if p50_ms <= 0:
        return 0.0
    z = (math.log(threshold_ms) - math.log(p50_ms)) / max(sigma, 1e-6)
    return 0.5 * math.erfc(z / math.sqrt(2))


def p95_of(p50_ms: float, sigma: float) -> float:
    return p50_ms * math.exp(1.645 * sigma)


def caller_first(topology: Topology) -> list[ServiceNode]:
    """Services ordered so that every caller comes before the services it calls."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in order:
            return
        if key in visiting:
            raise ValueError(f"call cycle through {key}")
        visiting.add(key)
        for node in topology.services:
            if key in topology.dependencies(node.key):
                visit(node.key)
        visiting.discard(key)
        order.append(key)

    for node in topology.services:
        visit(node.key)
    return [topology.node(key) for key in order]


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        topology: Topology,
        *,
        onset: datetime,
        rng: random.Random,
        noise: float,
    ) -> None:
        self.scenario = scenario
        self.topology = topology
        self.onset = onset
        self.rng = rng
        self.noise = noise
        self.order = caller_first(topology)
        known = {node.key for node in topology.services}
        for effect in scenario.effects:
            if effect.target not in known:
                raise ValueError(f"{scenario.id}: effect on unknown service {effect.target}")
        # Baselines differ a little from seed to seed, as two days of the same system do.
        self.work_scale = {
            node.key: rng.uniform(0.85, 1.15) if noise > 0 else 1.0 for node in topology.services
        }
        self.memory = {node.key: node.memory_mb for node in topology.services}
        self.restarts = {node.key: 0 for node in topology.services}
        self.dns_key = next((n.key for n in topology.services if n.kind == "dns"), None)
        self.base_rps = self._baseline_rps()

    # -- effects ---------------------------------------------------------------------------

    def level(
        self, key: str, name: EffectField, minutes: float, operation: str | None = None
    ) -> float:
        total = 0.0
        for effect in self.scenario.effects:
            if effect.target != key or effect.field != name:
                continue
            if (
                effect.operation is not None
                and operation is not None
                and effect.operation != operation
            ):
                continue
            if effect.operation is not None and operation is None and name != "error_ratio":
                continue
            total += effect.value * effect.shape.level(minutes)
        return total

    def own_error(
        self, key: str, operation: str, minutes: float
    ) -> tuple[float, FailureMode | None]:
        total, strongest, mode = 0.0, 0.0, None
        for effect in self.scenario.effects:
            if effect.target != key or effect.field != "error_ratio":
                continue
            if effect.operation is not None and effect.operation != operation:
                continue
            value = effect.value * effect.shape.level(minutes)
            total += value
            if value > strongest:
                strongest, mode = value, effect.mode
        return min(total, 1.0), mode

    # -- traffic ---------------------------------------------------------------------------

    def _baseline_rps(self) -> dict[str, float]:
        demand = self._demand(minutes=-1e9, wobble=1.0)
        return {key: max(sum(ops.values()), 1e-6) for key, ops in demand.items()}

    def _cache_hit(self, node: ServiceNode, minutes: float) -> float | None:
        if node.cache_hit is None:
            return None
        return min(1.0, max(0.0, node.cache_hit + self.level(node.key, "cache_hit", minutes)))

    def _reach(
        self, caller: ServiceNode, target: str, minutes: float
    ) -> tuple[float, float, float]:
        """Shares of calls lost before reaching ``target``: (unreachable, tls, dns)."""
        unreachable = min(1.0, self.level(target, "unreachable", minutes))
        tls = min(1.0, self.level(target, "tls_failure", minutes))
        dns = 0.0
        if (
            self.dns_key
            and target != self.dns_key
            and self.dns_key in self.topology.dependencies(caller.key)
        ):
            dns_errors, mode = self.own_error(self.dns_key, self.dns_operation(), minutes)
            if mode == "dns":
                dns = dns_errors * DNS_LOOKUP_SHARE
        return unreachable, tls, dns

    def dns_operation(self) -> str:
        assert self.dns_key is not None
        return self.topology.node(self.dns_key).operations[0].name

    def _demand(self, minutes: float, wobble: float) -> dict[str, dict[str, float]]:
        demand: dict[str, dict[str, float]] = {
            node.key: {op.name: 0.0 for op in node.operations} for node in self.topology.services
        }
        for node in self.order:
            if node.rps > 0:
                factor = (1.0 + self.level(node.key, "traffic", minutes)) * wobble
                for op in node.operations:
                    demand[node.key][op.name] += node.rps * op.share * factor
            hit = self._cache_hit(node, minutes)
            for op in node.operations:
                incoming = demand[node.key][op.name]
                for call in op.calls:
                    rate = incoming * call.per_request
                    if call.on_cache_miss and hit is not None:
                        rate *= 1.0 - hit
                    unreachable, tls, dns = self._reach(node, call.target, minutes)
                    arrived = rate * max(0.0, 1.0 - unreachable - tls - dns)
                    target_ops = demand[call.target]
                    target_ops[call.operation] = target_ops.get(call.operation, 0.0) + arrived
        return demand

    # -- one minute ------------------------------------------------------------------------

    def step(self, at: datetime) -> dict[str, ServiceFrame]:
        minutes = (at - self.onset).total_seconds() / 60
        spread = 0.02 + 0.05 * self.noise
        wobble = max(0.5, 1.0 + self.rng.gauss(0.0, spread) + 0.03 * math.sin(minutes / 9.0))
        demand = self._demand(minutes, wobble)
        frames: dict[str, ServiceFrame] = {}
        for node in reversed(self.order):  # callees first: callers need their answers
            frames[node.key] = self._service(node, demand[node.key], minutes, frames)
        return frames

    def _memory(self, node: ServiceNode, minutes: float) -> tuple[float, bool]:
        leak = self.level(node.key, "memory_leak_mb", minutes)
        self.memory[node.key] += leak
        if leak > 0 and self.memory[node.key] >= node.memory_limit_mb:
            self.memory[node.key] = node.memory_mb
            self.restarts[node.key] += 1
            return node.memory_limit_mb, True
        return self.memory[node.key], False

    def _service(
        self,
        node: ServiceNode,
        demand: dict[str, float],
        minutes: float,
        frames: dict[str, ServiceFrame],
    ) -> ServiceFrame:
        total = sum(demand.values())
        throttled_share = 0.0
        if node.rate_limit_rps is not None and total > node.rate_limit_rps:
            throttled_share = (total - node.rate_limit_rps) / total
        accepted = total * (1.0 - throttled_share)
        cost = 1.0 + self.level(node.key, "cpu_cost", minutes)
        if node.kind == "database":
            # Slower queries (scans, sorts) burn some database CPU; most of the time is I/O.
            extra = sum(
                demand.get(op.name, 0.0) * self.level(node.key, "latency_ms", minutes, op.name)
                for op in node.operations
            )
            base_work = sum(demand.get(op.name, 0.0) * op.work_ms for op in node.operations)
            cost += DB_CPU_PER_EXTRA_WORK * extra / max(base_work, 1e-6)
        cpu = node.cpu * (accepted / self.base_rps[node.key]) * cost
        utilisation = min(cpu, MAX_UTILISATION)
        base_util = min(node.cpu, MAX_UTILISATION)
        load = (1.0 - base_util) / (1.0 - utilisation)
        memory, restarted = self._memory(node, minutes)
        # Near its memory limit a process spends its time collecting garbage.
        pressure = max(
            0.0, (memory / node.memory_limit_mb - GC_PRESSURE_FROM) / (1 - GC_PRESSURE_FROM)
        )
        if pressure > 0 and not restarted:
            cpu += node.cpu * 1.5 * pressure
            load *= 1.0 + 2.5 * pressure
        hit = self._cache_hit(node, minutes)

        ops: dict[str, OpFrame] = {}
        hold_ms = 0.0
        for op in node.operations:
            ops[op.name], op_hold = self._operation(
                node, op, demand.get(op.name, 0.0), minutes, load, hit, frames
            )
            hold_ms += op_hold * demand.get(op.name, 0.0)
        hold_ms = hold_ms / total if total > 0 else 0.0

        pool_in_use = pool_pending = pool_timeouts = 0.0
        if node.pool_size > 0:
            hold_ms += self.level(node.key, "pool_hold_ms", minutes)
            wanted = accepted * hold_ms / 1000.0
            pool_in_use = min(wanted, float(node.pool_size))
            if wanted > node.pool_size:
                overflow = (wanted - node.pool_size) / wanted
                pool_pending = wanted - node.pool_size
                timeout_share = min(0.95, overflow * 1.3)
                pool_timeouts = accepted * timeout_share
                for frame in ops.values():
                    frame.p50_ms += min(
                        POOL_ACQUIRE_TIMEOUT_MS, POOL_ACQUIRE_TIMEOUT_MS * overflow * 1.5
                    )
                    frame.error_ratio = 1.0 - (1.0 - frame.error_ratio) * (1.0 - timeout_share)
                    frame.sigma += 0.15
                    if timeout_share >= 0.05:
                        frame.mode = "pool"

        own_errors = 0.0
        for op in node.operations:
            frame = ops[op.name]
            share, _ = self.own_error(node.key, op.name, minutes)
            own_errors += frame.rps * share
            if restarted:
                frame.error_ratio = 1.0 - (1.0 - frame.error_ratio) * (1.0 - RESTART_ERROR_SHARE)
                frame.p50_ms += 300.0
                frame.mode = frame.mode or "unavailable"
                own_errors += frame.rps * RESTART_ERROR_SHARE
            if throttled_share > 0:
                # Rejected requests are answered at once; the rest wait as before.
                frame.error_ratio = throttled_share + (1.0 - throttled_share) * frame.error_ratio
                frame.p50_ms = throttled_share * 2.0 + (1.0 - throttled_share) * frame.p50_ms
                if throttled_share >= 0.02:
                    frame.mode = "throttled"
        own_errors += pool_timeouts

        rps = sum(f.rps for f in ops.values())
        if rps > 0:
            error_ratio = sum(f.rps * f.error_ratio for f in ops.values()) / rps
            p50 = sum(f.rps * f.p50_ms for f in ops.values()) / rps
            sigma = sum(f.rps * f.sigma for f in ops.values()) / rps
        else:
            error_ratio, p50, sigma = 0.0, 0.0, BASE_SIGMA
        mode = None
        if error_ratio > 0.01:
            ranked = sorted(
                (f for f in ops.values() if f.mode is not None),
                key=lambda f: -f.rps * f.error_ratio,
            )
            mode = ranked[0].mode if ranked else "error"
        misses = 0.0
        if hit is not None:
            misses = sum(
                demand.get(op.name, 0.0) * (1.0 - hit)
                for op in node.operations
                if any(call.on_cache_miss for call in op.calls)
            )
        cert = None
        if node.cert_days is not None:
            cert = node.cert_days - minutes / 1440.0
        return ServiceFrame(
            key=node.key,
            rps=rps,
            error_ratio=min(error_ratio, 1.0),
            p50_ms=p50,
            p95_ms=p95_of(p50, sigma),
            sigma=sigma,
            cpu=min(max(cpu, IDLE_CPU), 1.0),
            memory_mb=memory,
            restarts_total=self.restarts[node.key],
            restarted=restarted,
            pool_in_use=pool_in_use,
            pool_pending=pool_pending,
            cache_hit=hit,
            cert_days=cert,
            own_errors=own_errors,
            throttled=total * throttled_share,
            pool_timeouts=pool_timeouts,
            cache_misses=misses,
            mode=mode,
            ops=ops,
        )

    def _operation(
        self,
        node: ServiceNode,
        op: Operation,
        rps: float,
        minutes: float,
        load: float,
        hit: float | None,
        frames: dict[str, ServiceFrame],
    ) -> tuple[OpFrame, float]:
        """The operation's frame, and how long each request holds a database connection."""
        work = op.work_ms * self.work_scale[node.key] * load
        work += self.level(node.key, "latency_ms", minutes, op.name)
        own_error, own_mode = self.own_error(node.key, op.name, minutes)
        own_error = min(1.0, node.error_ratio + own_error)
        passed = 1.0
        latency = work
        sigma = BASE_SIGMA + (0.25 if load > 3 else 0.0)
        hold = 0.0
        calls: list[CallFrame] = []
        strongest, mode = own_error if own_mode else 0.0, own_mode
        for call in op.calls:
            per_request = call.per_request
            if call.on_cache_miss and hit is not None:
                per_request *= 1.0 - hit
            unreachable, tls, dns = self._reach(node, call.target, minutes)
            callee = frames[call.target]
            target_op = callee.ops.get(call.operation)
            callee_p50 = target_op.p50_ms if target_op else callee.p50_ms
            callee_sigma = target_op.sigma if target_op else callee.sigma
            callee_error = target_op.error_ratio if target_op else callee.error_ratio
            callee_mode = (target_op.mode if target_op else callee.mode) or "error"
            timeouts = exceed(callee_p50, callee_sigma, call.timeout_ms) * (1.0 - callee_error)
            arrived = max(0.0, 1.0 - unreachable - tls - dns)
            error = unreachable + tls + dns + arrived * min(1.0, callee_error + timeouts)
            mean_ms = min(callee_p50 * math.exp(callee_sigma**2 / 2), call.timeout_ms)
            call_ms = unreachable * call.timeout_ms + (tls + dns) * FAST_FAIL_MS + arrived * mean_ms
            contributions: list[tuple[float, FailureMode]] = [
                (unreachable, "unreachable"),
                (tls, "tls"),
                (dns, "dns"),
                (arrived * timeouts, "timeout"),
                (arrived * callee_error, callee_mode),
            ]
            size, call_mode = max(contributions, key=lambda c: c[0])
            calls.append(
                CallFrame(
                    target=call.target,
                    operation=call.operation,
                    rps=rps * per_request,
                    error_ratio=min(error, 1.0),
                    p50_ms=max(call_ms / math.exp(callee_sigma**2 / 2), FAST_FAIL_MS),
                    sigma=callee_sigma,
                    timeout_ms=call.timeout_ms,
                    mode=call_mode if size > 0.005 else None,
                )
            )
            latency += per_request * call_ms
            if call.holds_connection or self.topology.node(call.target).kind == "database":
                hold += per_request * call_ms
            lost = min(1.0, per_request * error * call.propagation)
            passed *= 1.0 - lost
            if lost > strongest:
                # Whatever broke below, the caller answers its own callers with a 5xx.
                strongest, mode = lost, "error"
            if call_ms > 1.5 * (work + 1):
                sigma = max(sigma, callee_sigma)
        error_ratio = 1.0 - (1.0 - own_error) * passed
        return (
            OpFrame(
                name=op.name,
                rps=rps,
                error_ratio=min(error_ratio, 1.0),
                p50_ms=max(latency, 0.5),
                sigma=sigma,
                mode=mode if error_ratio > node.error_ratio * 2 else None,
                calls=calls,
            ),
            hold,
        )


@dataclass(frozen=True)
class Run:
    minutes: tuple[datetime, ...]
    frames: tuple[dict[str, ServiceFrame], ...]


def simulate(
    scenario: Scenario,
    topology: Topology,
    *,
    onset: datetime,
    start: datetime,
    end: datetime,
    rng: random.Random,
    noise: float,
) -> Run:
    """Frames for every minute from ``start`` to ``end`` (both included).

    Effects that begin before ``start`` (a leak, a slow degradation) are simulated from their
    own beginning, so the first recorded minute already carries their history.
    """
    simulation = Simulation(scenario, topology, onset=onset, rng=rng, noise=noise)
    earliest = min([e.shape.start for e in scenario.effects], default=0.0)
    first = min(start, onset + timedelta(minutes=math.floor(earliest)))
    at = first.replace(second=0, microsecond=0)
    minutes: list[datetime] = []
    frames: list[dict[str, ServiceFrame]] = []
    while at <= end:
        frame = simulation.step(at)
        if at >= start:
            minutes.append(at)
            frames.append(frame)
        at += timedelta(minutes=1)
    return Run(tuple(minutes), tuple(frames))
