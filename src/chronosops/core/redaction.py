"""Redaction of secrets: by key in structured data, by pattern in free text.

Applied to evidence before it is stored or shown to non-admins, and to anything sent to an
external model. It errs on the side of hiding: a false positive costs a little context, a
false negative leaks a credential.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"
MAX_DEPTH_MARKER = "[MAX_DEPTH_REACHED]"

_SENSITIVE_KEY = re.compile(
    r"token|authorization|cookie|api[_-]?key|password|passwd|secret|credential|auth[_-]?header|private[_-]?key",
    re.IGNORECASE,
)

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[a-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[a-zA-Z0-9_-]{5,}\.[a-zA-Z0-9_-]{5,}\.[a-zA-Z0-9_-]{5,}"), REDACTED),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|apikey|token|access[_-]?key)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"\b(sk|pk|rk)_(live|test)_[A-Za-z0-9]{10,}\b"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"), REDACTED),
    (re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"), REDACTED),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
        REDACTED,
    ),
    (re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), "[EMAIL]"),
)


def redact_text(text: str) -> str:
    """Mask bearer tokens, JWTs, key=value secrets, URL passwords, cloud keys and emails."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_keys(value: Any, *, max_depth: int = 8) -> Any:
    """Replace the values of sensitive-looking keys, recursively, at any nesting up to a depth."""

    def walk(node: Any, depth: int) -> Any:
        if depth > max_depth:
            return MAX_DEPTH_MARKER
        if isinstance(node, dict):
            return {
                key: REDACTED if _SENSITIVE_KEY.search(str(key)) else walk(item, depth + 1)
                for key, item in node.items()
            }
        if isinstance(node, list):
            return [walk(item, depth + 1) for item in node]
        return node

    return walk(value, 0)
