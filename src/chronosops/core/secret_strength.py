"""How guessable a secret is: a deliberately pessimistic estimate of its entropy in bits.

Length alone accepts ``"a" * 32``, ``"1234567890" * 4`` and ``"password" * 4``. The estimate
counts only the characters an attacker could not predict from the ones before them, and gives
each the bits of the alphabet the secret actually uses:

- a character is predictable when it repeats the previous one, continues the step between the
  previous two (``abcd``, ``1234``, ``9876``), or completes a three-character sequence that
  already occurred (the second ``password`` in ``passwordpassword``);
- the alphabet is the number of distinct characters in the secret, so ``log2(distinct)`` bits
  per unpredictable character.

A random value is hardly affected: ``openssl rand -hex 32`` (64 hex characters) scores about
230 bits (never below 180 in 20,000 draws), 32 random hex characters at least 79. A secret we
tell operators to generate must score ``MIN_SECRET_BITS``; one a vendor generated (it may be
16 hex characters, which score 27 to 64) ``MIN_VENDOR_SECRET_BITS``, which still refuses
``"xTODOx" * 10`` and ``"password" * 4``.
"""

from __future__ import annotations

import math

MIN_SECRET_BITS = 64
MIN_DISTINCT_CHARACTERS = 8
MIN_VENDOR_SECRET_BITS = 32
MIN_VENDOR_DISTINCT_CHARACTERS = 6


def _predictable(value: str, index: int, seen: set[str]) -> bool:
    char = value[index]
    if index >= 1 and char == value[index - 1]:
        return True
    if index < 2:
        return False
    step = ord(value[index - 1]) - ord(value[index - 2])
    return ord(char) - ord(value[index - 1]) == step or value[index - 2 : index + 1] in seen


def unpredictable_characters(value: str) -> int:
    seen: set[str] = set()
    count = 0
    for index in range(len(value)):
        if not _predictable(value, index, seen):
            count += 1
        if index >= 2:
            seen.add(value[index - 2 : index + 1])
    return count


def estimated_bits(value: str) -> float:
    """A pessimistic estimate of the secret's entropy (see the module's docstring)."""
    distinct = len(set(value))
    if distinct < 2:
        return 0.0
    return unpredictable_characters(value) * math.log2(distinct)


def weakness(
    value: str,
    *,
    min_bits: float = MIN_SECRET_BITS,
    min_distinct: int = MIN_DISTINCT_CHARACTERS,
) -> str | None:
    """Why ``value`` is too guessable to be a secret, or None when it is strong enough."""
    distinct = len(set(value))
    if distinct < min_distinct:
        return (
            f"uses only {distinct} distinct character{'s' if distinct != 1 else ''} "
            f"(at least {min_distinct} needed)"
        )
    bits = estimated_bits(value)
    if bits < min_bits:
        return (
            f"is too predictable (repeats, runs or sequences: about {bits:.0f} bits of "
            f"entropy, at least {min_bits:g} needed)"
        )
    return None
