"""Human durations for command options: ``90s``, ``30m``, ``12h``, ``7d`` (or bare seconds)."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration; use e.g. 90s, 30m, 12h or 7d")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
