"""What a collector's recorded metrics become once the engine reads them (`units.normalise`,
then `observations.observe`), and the checks every metrics backend's defaults must pass: a
traffic surge that fails at the usual share is no error rise, whichever backend counted it."""

from __future__ import annotations

from collections.abc import Sequence

from chronosops.analysis import IncidentContext
from chronosops.analysis.observations import Observations, observe
from chronosops.analysis.scoring import error_strength
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import normalise
from chronosops.core.artifacts import Artifact


def read_by_engine(artifacts: Sequence[Artifact], context: IncidentContext) -> Observations:
    return observe(normalise(artifacts, DEFAULT_TABLE), context)


def assert_surge_at_the_usual_share_is_no_error_rise(
    artifacts: Sequence[Artifact], context: IncidentContext, service: str
) -> None:
    """Requests triple at the onset while about 1% of them fail, before and after: the errors
    are read as a share (never as counts), steady, and the traffic as the surge."""
    seen = read_by_engine(artifacts, context)
    errors = seen.shift(service, "errors")
    assert errors is not None
    assert not errors.counts
    assert 0.005 < errors.before < 0.02
    assert errors.peak <= 1.0
    assert 0.8 < errors.factor < 1.25
    assert error_strength(errors) == 0.0
    traffic = seen.shift(service, "traffic")
    assert traffic is not None
    assert traffic.factor > 2.5
