"""Path and query parameters that no database could compare, refused before any route runs.

PostgreSQL cannot hold the NUL character in text, so a NUL in an id or a filter would fail the
query (a 500) on PostgreSQL and merely match nothing on SQLite. Every parameter is checked
here, once, and named in the 400.
"""

from __future__ import annotations

from fastapi import Request

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.core.storable import text_problem


async def storable_parameters(request: Request) -> None:
    """An app-wide dependency: a 400 naming each path or query parameter that cannot be stored."""
    errors: list[FieldError] = []
    for name, value in request.path_params.items():
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            errors.append(FieldError(name, problem))
    for name, value in request.query_params.multi_items():
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            errors.append(FieldError(name, problem))
    if errors:
        raise InvalidInputError("Invalid request parameters", errors)
