"""The dependencies every JSON route shares: as few for FastAPI to resolve per request as can be."""

from __future__ import annotations

from fastapi.dependencies.utils import get_dependant

from chronosops.auth import WRITE_ROLES
from chronosops.web.deps import require


def test_a_role_check_is_one_dependency_with_nothing_beneath_it_to_resolve() -> None:
    # FastAPI walks each declared sub-dependency on every request; the role check finds the
    # services and the principal itself, so an ingest resolves one node here, not three.
    dependant = get_dependant(path="/", call=require(WRITE_ROLES, "ingest"))
    assert dependant.dependencies == []
    assert dependant.request_param_name == "request"
