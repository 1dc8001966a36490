"""Log templates: the clustering key that turns many log lines into a few patterns.

The rule lives in `core.aggregation` because collectors and scenarios cluster logs too; the
engine re-exports it here where it has always been found.
"""

from __future__ import annotations

from chronosops.core.aggregation import TEMPLATE_MAX, log_template

__all__ = ["TEMPLATE_MAX", "log_template"]
