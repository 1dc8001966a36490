"""Redaction of secrets: by key in structured data, by pattern in free text.

Applied to evidence before it is stored or shown to non-admins, and to anything sent to an
external model. It errs on the side of hiding: a false positive costs a little context, a
false negative leaks a credential.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"
MAX_DEPTH_MARKER = "[MAX_DEPTH_REACHED]"
TRUNCATED = "[TRUNCATED]"
# The patterns see at most this many characters of a text (docs/operations.md, "Security
# limits"). Every caller keeps far less than this (a log example keeps 1,000 characters), and
# it bounds the cost of one call to a few milliseconds whatever a sender puts in one line.
REDACT_INPUT_MAX = 64 * 1024

_SENSITIVE_KEY = re.compile(
    r"token|authorization|cookie|api[_-]?key|password|passwd|secret|credential|auth[_-]?header|private[_-]?key",
    re.IGNORECASE,
)

# Every pattern here runs over untrusted text of any length, so every one is linear in it: a
# match may only start where the previous character could not have been part of it (a
# one-character look-behind, so a run of candidates is tried once, not once per position),
# repetitions are bounded or possessive, and a lazy scan always has a fallback that ends the
# search. tests/core/test_redaction.py times each against 1 MiB adversarial lines.
_LOCAL = r"A-Za-z0-9._%+-"  # the characters of an e-mail address's local part
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s++[a-z0-9._~+/=-]{8,}+"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?<![a-zA-Z0-9_-])eyJ[a-zA-Z0-9_-]{5,}+\.[a-zA-Z0-9_-]{5,}+\.[a-zA-Z0-9_-]{5,}+"
        ),
        REDACTED,
    ),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|apikey|token|access[_-]?key)"
            r"(\s{0,64}+[=:]\s{0,64}+)(\"[^\"]*+\"|'[^']*+'|\S++)"
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)(://[^/\s:@]++:)[^@\s/]++@"), r"\1" + REDACTED + "@"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"\b(sk|pk|rk)_(live|test)_[A-Za-z0-9]{10,}+\b"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}+\b"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9-])xox[baprs]-[A-Za-z0-9-]{10,512}\b"), REDACTED),
    (
        # An unterminated key is masked to the end of the text: hiding too much is the safe side,
        # and the fallback keeps one unterminated header from being rescanned per later header.
        re.compile(
            r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----"
            r"(?:[\s\S]*?-----END [A-Z ]{0,40}PRIVATE KEY-----|[\s\S]*+)"
        ),
        REDACTED,
    ),
    (
        re.compile(
            rf"(?<![{_LOCAL}])[{_LOCAL}]{{1,64}}+@(?:[A-Za-z0-9-]{{1,63}}+\.){{1,8}}[A-Za-z]{{2,24}}\b"
        ),
        "[EMAIL]",
    ),
)

# Per pattern above, literals one of which every match holds (and whether they are matched
# case-insensitively): a text without any of them is left to the next pattern unscanned.
_TEXT_NEEDS: tuple[tuple[tuple[str, ...], bool], ...] = (
    (("bearer",), True),
    (("eyJ",), False),
    (("pass", "pwd", "secret", "api", "token", "access"), True),
    (("://",), False),
    (("AKIA", "ASIA"), False),
    (("_live_", "_test_"), False),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False),
    (("xox",), False),
    (("-----BEGIN ",), False),
    (("@",), False),
)


def redact_text(text: str) -> str:
    """Mask bearer tokens, JWTs, key=value secrets, URL passwords, cloud keys and emails.

    A text longer than ``REDACT_INPUT_MAX`` is cut there first, and the word the cut went
    through is dropped with it (a token cut in half no longer looks like one, so it could not be
    masked); ``[TRUNCATED]`` marks the cut.
    """
    if len(text) > REDACT_INPUT_MAX:
        kept = text[:REDACT_INPUT_MAX]
        if not text[REDACT_INPUT_MAX].isspace():
            words = kept.rsplit(None, 1)
            kept = words[0] + " " if len(words) == 2 else ""
        text = kept + TRUNCATED
    ascii_only = text.isascii()
    lowered = text.lower()
    for (pattern, replacement), (needs, folded) in zip(_TEXT_PATTERNS, _TEXT_NEEDS, strict=True):
        # A pattern that cannot match is not run: most lines hold none of the literals, and a
        # scan that starts with a look-behind is slow. Case-insensitive needs are looked for in
        # the lower-cased text, which is exact for ASCII only (``(?i)s`` also matches ``ſ``).
        if folded:
            if ascii_only and not any(need in lowered for need in needs):
                continue
        elif not any(need in text for need in needs):
            continue
        replaced = pattern.sub(replacement, text)
        if replaced != text:
            text, lowered = replaced, replaced.lower()
    return text


# Label and field names repeat on every point of a series: each is read once.
@lru_cache(maxsize=1024)
def is_sensitive_key(key: str) -> bool:
    """Whether a key's name says its value is a secret (``password``, ``api_key``, ``token`` …)."""
    return _SENSITIVE_KEY.search(key[:256]) is not None


def redact_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Metric labels with the values of secret-named labels replaced by ``[REDACTED]``.

    Applied before a series' id and title are built from its labels, so the raw value is in
    no artifact, bundle, chart or prompt (the bundle is hashed over this redacted form).
    """
    return {key: REDACTED if is_sensitive_key(key) else value for key, value in labels.items()}


def redact_keys(value: Any, *, max_depth: int = 8) -> Any:
    """Replace the values of sensitive-looking keys, recursively, at any nesting up to a depth."""

    def walk(node: Any, depth: int) -> Any:
        if depth > max_depth:
            return MAX_DEPTH_MARKER
        if isinstance(node, dict):
            return {
                key: REDACTED if is_sensitive_key(str(key)) else walk(item, depth + 1)
                for key, item in node.items()
            }
        if isinstance(node, list):
            return [walk(item, depth + 1) for item in node]
        return node

    return walk(value, 0)
