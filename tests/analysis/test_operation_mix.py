"""The mix of a service's own operations read against its earlier incidents (engine 3.40; one
test per service's whole mix since 3.41): a handler that returns early skips the calls it used
to make, and no span or log line says so."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chronosops.analysis import AnalysisInput, analyze
from chronosops.analysis.operation_mix import (
    fallen_operations,
    operation_calls,
    operation_history_of,
    remembered_records,
)
from tests.analysis.builders import ADS, BY_CATEGORY, RANDOM, ads_traffic, analysis_input


def _earlier(
    count: int = 10, *, random_every: Sequence[int] = (3, 4, 5)
) -> list[tuple[str, dict[str, Any]]]:
    """Earlier incidents' records as the table keeps them (through JSON), random ads on one
    request in three to five unless told."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for number in range(count):
        every = random_every[number % len(random_every)]
        request = analysis_input(service="frontend", **ads_traffic(every))
        kept = json.loads(json.dumps(remembered_records(request.artifacts)))
        rows += list(kept.items())
    return rows


def _with_history(request: AnalysisInput, count: int = 10) -> AnalysisInput:
    return request.model_copy(update={"operation_history": operation_history_of(_earlier(count))})


def test_a_service_without_logs_is_remembered_by_its_operations_calls() -> None:
    request = analysis_input(service="frontend", **ads_traffic(4))

    kept = remembered_records(request.artifacts)

    # 240 requests: every one calls GetAds, one in four picks random ads.
    assert kept[ADS] == {
        "lines": 0,
        "statements": {},
        "calls": {"AdService/GetAds": 240, BY_CATEGORY: 180, RANDOM: 60},
    }
    assert kept["frontend"]["calls"] == {"GET /product": 240}


def test_an_operation_is_read_as_its_share_of_the_services_spans_in_each_earlier_incident() -> None:
    history = {(h.service, h.operation): h for h in operation_history_of(_earlier(3))}

    # Random ads on one request in 3, 4, 5: of the service's two spans per request, 1/6, 1/8, 1/10.
    assert history[(ADS, RANDOM)].shares == [0.166667, 0.125, 0.1]
    assert history[(ADS, "AdService/GetAds")].shares == [0.5, 0.5, 0.5]


def test_each_earlier_incident_keeps_how_many_spans_its_mix_was_read_from() -> None:
    history = {(h.service, h.operation): h for h in operation_history_of(_earlier(3))}

    assert history[(ADS, RANDOM)].spans == [480, 480, 480]


def test_an_operation_its_service_stopped_calling_is_a_fallen_mix() -> None:
    request = _with_history(analysis_input(service="frontend", **ads_traffic(0)))

    (fallen,) = fallen_operations(request.artifacts, request.operation_history)

    assert (fallen.service, fallen.operation, fallen.calls, fallen.spans) == (ADS, RANDOM, 0, 480)
    assert fallen.p_value < 0.01
    assert fallen.strength == 1.0


def test_the_fewer_earlier_incidents_the_spread_is_read_from_the_weaker_a_fall_reads() -> None:
    request = analysis_input(service="frontend", **ads_traffic(0))

    p_values = [
        fallen_operations(request.artifacts, operation_history_of(_earlier(count)))[0].p_value
        for count in (5, 10, 20)
    ]

    assert p_values == sorted(p_values, reverse=True)
    assert p_values[0] > 2 * p_values[-1]


def test_a_share_within_what_earlier_incidents_held_is_not_read() -> None:
    request = _with_history(analysis_input(service="frontend", **ads_traffic(6)))

    assert fallen_operations(request.artifacts, request.operation_history) == []


def test_a_fall_no_deeper_than_earlier_incidents_strayed_is_not_read() -> None:
    # Random ads on one request in 2 to 20 before: one in 40 now is far below the usual one in
    # 3 (6 of 480 spans where 80 are usual), but earlier incidents strayed about as far.
    history = operation_history_of(_earlier(5, random_every=(2, 3, 10, 20, 3)))
    request = analysis_input(service="frontend", **ads_traffic(40))

    assert fallen_operations(request.artifacts, history) == []


def test_an_earlier_incident_that_held_the_same_fault_does_not_widen_the_spread() -> None:
    usual = operation_history_of(_earlier(5))
    with_a_fault = operation_history_of(_earlier(6, random_every=(3, 4, 5, 3, 4, 0)))
    request = analysis_input(service="frontend", **ads_traffic(0))

    (alone,) = fallen_operations(request.artifacts, usual)
    (beside_it,) = fallen_operations(request.artifacts, with_a_fault)

    assert beside_it.p_value == alone.p_value


def test_a_thin_service_is_read_against_its_own_noise() -> None:
    # One request a minute: 60 spans of the ad service, of which its usual share of random ads
    # expects 7.5; none ran, which that few spans leave to chance.
    request = _with_history(
        analysis_input(service="frontend", **ads_traffic(0, requests_a_minute=1))
    )

    assert fallen_operations(request.artifacts, request.operation_history) == []


def test_an_operation_mix_that_fell_names_a_code_fault_where_nothing_else_moved() -> None:
    request = analysis_input(service="frontend", **ads_traffic(0))
    assert operation_calls(request.artifacts)[ADS][BY_CATEGORY] == 240

    alone = analyze(request)
    remembered = analyze(_with_history(request))

    assert alone.culprit_service is None
    assert remembered.culprit_service == ADS
    assert remembered.hypotheses[0].id == "DEPLOY_BUG"
    (signal,) = [s for s in remembered.signals if s.kind == "operation_mix_fell"]
    assert (signal.service, signal.strength) == (ADS, 1.0)
