"""The literal strings a regular expression cannot match without: a cheap gate before a search.

A pattern such as ``nxdomain|servfail|no such host|…`` has no fixed first character, so the
regex engine tries every branch at every position of the text. Every match of it holds one of
the strings ``{"nxdomain", "servfail", "no such host", …}``; a text that holds none of them
(found at the speed of a substring search) cannot match and need not be searched. The set is
read from the parsed pattern, so it follows the pattern whenever the pattern changes.

Exact by construction: a set is only derived where every match must hold one of its strings,
and None (no gate) is the answer for anything it cannot read (case-insensitive patterns, back
references, branches with no literal in them).
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # type: ignore[import-not-found,unused-ignore]
import re._parser as sre_parser  # type: ignore[import-not-found,unused-ignore]
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

# What the parser calls the codes read below (private modules of ``re``, stable since 3.11).
_LITERAL = sre_constants.LITERAL
_BRANCH = sre_constants.BRANCH
_SUBPATTERN = sre_constants.SUBPATTERN
_ATOMIC = getattr(sre_constants, "ATOMIC_GROUP", None)
_REPEATS = frozenset(
    code
    for code in (
        sre_constants.MAX_REPEAT,
        sre_constants.MIN_REPEAT,
        getattr(sre_constants, "POSSESSIVE_REPEAT", None),
    )
    if code is not None
)
_IN = sre_constants.IN


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Of two sets each of which every match holds one of, the more selective: longer shortest
    string first, then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=lambda s: (min(map(len, s)), -len(s)))


def _of_sequence(items: Iterable[tuple[Any, Any]]) -> frozenset[str] | None:
    """A sequence matches all its items in turn: a run of literals is in every match, and so is
    one string of any item's own set; the most selective of these is kept."""
    best: frozenset[str] | None = None
    run: list[str] = []

    def close_run() -> None:
        nonlocal best
        if run:
            best = _better(best, frozenset({"".join(run)}))
            run.clear()

    for code, argument in items:
        if code == _LITERAL:
            run.append(chr(argument))
            continue
        close_run()
        best = _better(best, _of_item(code, argument))
    close_run()
    return best


def _of_item(code: Any, argument: Any) -> frozenset[str] | None:
    if code == _BRANCH:
        found: set[str] = set()
        for branch in argument[1]:
            strings = _of_sequence(branch)
            if strings is None:
                return None  # a branch without a literal: a match may hold none
            found |= strings
        return frozenset(found)
    if code == _SUBPATTERN:
        _group, add_flags, _del_flags, inner = argument
        if add_flags & re.IGNORECASE:
            return None
        return _of_sequence(inner)
    if _ATOMIC is not None and code == _ATOMIC:
        return _of_sequence(argument)
    if code in _REPEATS:
        minimum, _maximum, inner = argument
        return _of_sequence(inner) if minimum >= 1 else None
    if code == _IN and argument and all(op == _LITERAL for op, _ in argument):
        return frozenset(chr(value) for _, value in argument)  # [13]: one of these characters
    # Anything else (a class, a wildcard, an assertion, a back reference) holds no known literal.
    return None


@lru_cache(maxsize=256)
def required_literals(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings one of which every match of ``pattern`` holds, or None when no such set is known."""
    if pattern.flags & re.IGNORECASE or not isinstance(pattern.pattern, str):
        return None
    try:
        parsed = sre_parser.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 — a pattern the parser of this Python reads otherwise: no gate
        return None
    if parsed.state.flags & re.IGNORECASE:  # an inline (?i) at the start
        return None
    strings = _of_sequence(list(parsed))
    if not strings or not all(strings):
        return None
    # A string holding another one of the set adds nothing: the shorter is found wherever it is.
    return frozenset(s for s in strings if not any(o != s and o in s for o in strings))


# Pattern → its required strings, looked up by identity: hashing a compiled pattern hashes its
# whole compiled code (~1.3 µs for a log category's, asked ~13,000 times by a 3 MB bundle's
# analysis). The pattern is kept in the entry, so its id cannot be reused while it is there.
_BY_IDENTITY: dict[int, tuple[re.Pattern[str], tuple[str, ...] | None]] = {}
_BY_IDENTITY_MAX = 256


def _gate(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    entry = _BY_IDENTITY.get(id(pattern))
    if entry is not None and entry[0] is pattern:
        return entry[1]
    strings = required_literals(pattern)
    gate = None if strings is None else tuple(sorted(strings))
    if len(_BY_IDENTITY) >= _BY_IDENTITY_MAX:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(pattern)] = (pattern, gate)
    return gate


def may_match(pattern: re.Pattern[str], text: str) -> bool:
    """False only when ``pattern`` cannot match ``text``: it holds none of the required strings."""
    strings = _gate(pattern)
    if strings is None:
        return True
    # A loop, not any() over a generator: the engine asks this ~40 times an ingest, mostly of
    # sets of a few strings, where creating and resuming the generator cost more than the search.
    for string in strings:  # noqa: SIM110 — see above
        if string in text:
            return True
    return False


def matches(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``: ``pattern.search``, skipped when a
    required literal is missing."""
    return may_match(pattern, text) and pattern.search(text) is not None
