"""Hypothesis strategies: arbitrary JSON, and vendor payloads with parts replaced by it."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from tests.sources.payloads import every, load

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        ["0001-01-01T00:00:00Z", "2024-03-12T08:00:00+0000", "1710231267000", "firing", "resolved", "CLOSED", "P1", "SEV-2"]
    )
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=16,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@st.composite
def mutated_payloads(draw: st.DrawFn, kind: str) -> Any:
    """One of the source's payload files with up to three parts replaced, removed or retyped."""
    names = [name for payload_kind, name in every() if payload_kind == kind]
    payload = copy.deepcopy(load(kind, draw(st.sampled_from(names))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return payload
