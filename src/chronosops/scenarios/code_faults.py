"""Code faults that skip a usual step: the library's systems with a fault of another kind.

Real code faults often leave no error behind. Nezha's injected "return" faults make a method
return a wrong value early; its "exception" faults throw part-way through a method that its
caller recovers from. Either way a step the method always reached, and the line it logs there,
stops on every call while the operation keeps being called; the only new error, if any, is what
a caller writes about the value it got. The library's scenarios never do this: their code
faults fail a share of requests with a new error template, and a call that does not fail runs
its whole path.

Each library scenario (house and field) gives two scenarios here, on its own system: its fault
replaced by a code fault at one service that another service of the system calls (the
library's culprit where it is such a service, else the service the alert names, else the first
in the topology):

- ``exception`` — the service's latest release throws at the step on every call of the
  operation its caller calls; its handler falls back for most calls (they succeed without the
  step) and fails the rest with a new error template; a deploy of the service precedes it.
- ``return`` — the operation returns a wrong value early on every call: it logs nothing new
  and fails nothing; its caller fails some of its own requests on that value, writing a warning
  about the result in half of the systems and nothing in the other half; no change event names
  the culprit (an injected fault, as in Nezha).

Half of them (drawn per scenario) have been in force for hours when the alert fires (a fault
noticed late, as several Nezha injections were): nothing changes inside the window, and the
step is absent from all of it; only the service's earlier incidents show it was usual.

Every service of these systems logs an info line at one usual step of each operation (sampled
as the completion lines are) and logs with its trace context, so the lines are log statements
placed in their operations; a fault-free day of the system (`generation.fault_free`) logs the
same steps, none skipped, and is the history the missing-path readings need. The libraries'
scenarios keep ``steps`` off, so their incidents are unchanged byte for byte.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, get_args

from chronosops.core.canonical import content_hash
from chronosops.scenarios.field import FIELD_SCENARIOS
from chronosops.scenarios.library import SCENARIOS
from chronosops.scenarios.model import (
    ChangeSpec,
    Effect,
    LogRule,
    Scenario,
    Shape,
    SkippedStep,
    Topology,
)

CodeFaultKind = Literal["exception", "return"]
CODE_FAULT_KINDS: tuple[CodeFaultKind, ...] = get_args(CodeFaultKind)
PREFIX = "path-"
APP_KINDS = ("edge", "api", "worker")
IN_FORCE_SHARE = 0.5
IN_FORCE_MINUTES = 240.0  # beyond every suite's window (at most 45 minutes before the start)


def _unit(text: str) -> float:
    """A fixed draw in [0, 1) from a text (the scenario's own choices, the same every run)."""
    return int(content_hash(text)[:8], 16) / 16**8


def _called(topology: Topology, key: str) -> tuple[str, str, str] | None:
    """The first app service that calls ``key``: (caller key, its operation, the operation of
    ``key`` it calls)."""
    for node in topology.services:
        if node.kind not in APP_KINDS:
            continue
        for operation in node.operations:
            for call in operation.calls:
                if call.target == key:
                    return node.key, operation.name, call.operation
    return None


def target_of(scenario: Scenario) -> tuple[str, str, str, str] | None:
    """Where the code fault goes in ``scenario``'s system: (culprit, its operation, caller, the
    caller's operation), or None where no app service is called by another."""
    keys = [scenario.culprit, scenario.reported, *(n.key for n in scenario.topology.services)]
    for key in dict.fromkeys(keys):
        node = scenario.topology.node(key)
        if node.kind not in APP_KINDS:
            continue
        called = _called(scenario.topology, key)
        if called is None:
            continue
        caller, caller_op, operation = called
        if any(op.name == operation for op in node.operations):
            return key, operation, caller, caller_op
    return None


def code_fault(base: Scenario, kind: CodeFaultKind) -> Scenario | None:
    """``base``'s system with its fault replaced by a code fault of ``kind`` that skips a usual
    step (see the module); None where the system has no service another one calls."""
    found = target_of(base)
    if found is None:
        return None
    culprit, operation, caller, caller_op = found
    scenario_id = f"{PREFIX}{kind}-{base.id}"
    innocent = tuple(
        change for change in base.changes if change.innocent and change.service != culprit
    )
    since = -IN_FORCE_MINUTES if _unit(f"{scenario_id}/since") < IN_FORCE_SHARE else 0.0
    step = SkippedStep(culprit, operation, since)
    shape = Shape(start=since, ramp=1)
    if kind == "exception":
        share = round(0.05 + 0.15 * _unit(f"{scenario_id}/share"), 3)
        return replace(
            base,
            id=scenario_id,
            title="Errors after a release",
            description=(
                f"{{svc:{culprit}}} throws part-way through {operation} since its latest "
                "release; most calls fall back and skip the step, some fail."
            ),
            category="errors",
            severity="high",
            hypothesis_id="DEPLOY_BUG",
            culprit=culprit,
            reported=caller,
            effects=(Effect(culprit, "error_ratio", share, shape, operation=operation),),
            logs=(LogRule(culprit, "ERROR", "@null_error", "own_errors", operation=operation),),
            changes=(
                ChangeSpec(
                    culprit,
                    "deploy",
                    since - round(2 + 4 * _unit(f"{scenario_id}/deploy")),
                    f"Refactor {operation}",
                    "5.3.1",
                    "5.4.0",
                    author="release-train",
                ),
                *innocent,
            ),
            tags=("code", "skipped-step"),
            explanation=(
                f"The release throws at a step of {operation} on every call; the handler's "
                "fallback hides most of it, and the step's line stops."
            ),
            hard_case=False,
            steps=True,
            skipped=step,
        )
    share = round(0.04 + 0.08 * _unit(f"{scenario_id}/share"), 3)
    symptom = (
        (LogRule(caller, "WARN", f"@bad_result:{culprit}", "own_errors", operation=caller_op),)
        if _unit(f"{base.id}/symptom") < 0.5
        else ()
    )
    return replace(
        base,
        id=scenario_id,
        title="Requests fail with wrong results",
        description=(
            f"{{svc:{caller}}} fails some requests; {{svc:{culprit}}} returns a wrong value from "
            f"{operation} and skips the rest of it."
        ),
        category="errors",
        severity="high",
        hypothesis_id="DEPLOY_BUG",
        culprit=culprit,
        reported=caller,
        effects=(Effect(caller, "error_ratio", share, shape, operation=caller_op),),
        logs=symptom,
        changes=innocent,
        tags=("code", "skipped-step", "wrong-return"),
        explanation=(
            f"{operation} returns early with a wrong value on every call: nothing new is logged "
            "there, its step's line stops, and its caller fails on the value."
        ),
        hard_case=False,
        steps=True,
        skipped=step,
    )


PATH_SCENARIOS: tuple[Scenario, ...] = tuple(
    scenario
    for base in (*SCENARIOS, *FIELD_SCENARIOS)
    for kind in CODE_FAULT_KINDS
    if (scenario := code_fault(base, kind)) is not None
)
PATH_BY_ID: dict[str, Scenario] = {scenario.id: scenario for scenario in PATH_SCENARIOS}

__all__ = [
    "CODE_FAULT_KINDS",
    "PATH_BY_ID",
    "PATH_SCENARIOS",
    "PREFIX",
    "CodeFaultKind",
    "code_fault",
    "target_of",
]
