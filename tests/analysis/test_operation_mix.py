"""The mix of a service's own operations read against its earlier incidents (engine 3.40): a
handler that returns early skips the calls it used to make, and no span or log line says so."""

from __future__ import annotations

import json
from typing import Any

from chronosops.analysis import AnalysisInput, analyze
from chronosops.analysis.operation_mix import (
    MIN_EXPECTED_CALLS,
    fallen_operations,
    operation_calls,
    operation_history_of,
    remembered_records,
)
from tests.analysis.builders import ADS, BY_CATEGORY, RANDOM, ads_traffic, analysis_input


def _earlier(count: int = 5) -> list[tuple[str, dict[str, Any]]]:
    """Earlier incidents' records as the table keeps them (through JSON), random ads on one
    request in three to five."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for number in range(count):
        request = analysis_input(service="frontend", **ads_traffic(3 + number % 3))
        kept = json.loads(json.dumps(remembered_records(request.artifacts)))
        rows += list(kept.items())
    return rows


def _with_history(request: AnalysisInput) -> AnalysisInput:
    return request.model_copy(update={"operation_history": operation_history_of(_earlier())})


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


def test_an_operation_its_service_stopped_calling_is_a_fallen_share() -> None:
    request = _with_history(analysis_input(service="frontend", **ads_traffic(0)))

    (fallen,) = fallen_operations(request.artifacts, request.operation_history)

    assert (fallen.service, fallen.operation, fallen.calls, fallen.spans) == (ADS, RANDOM, 0, 480)
    assert fallen.p_value < 1e-6
    assert fallen.strength == 1.0


def test_a_share_within_what_earlier_incidents_held_is_not_read() -> None:
    request = _with_history(analysis_input(service="frontend", **ads_traffic(6)))

    assert fallen_operations(request.artifacts, request.operation_history) == []


def test_an_operation_too_thin_to_expect_its_calls_is_not_read() -> None:
    # One request a minute: 60 spans of the ad service, of which its usual share of random ads
    # (the median, 1/8) expects 7.5.
    request = _with_history(
        analysis_input(service="frontend", **ads_traffic(0, requests_a_minute=1))
    )
    expected = 30 * 2 * 0.125
    assert expected < MIN_EXPECTED_CALLS

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
