"""The built-in engine names causes the evidence supports, and says so when it cannot."""

from __future__ import annotations

from chronosops.analysis import analyze
from tests.analysis.builders import analysis_input, at, logs, series


def deploy(
    service: str, minutes_before: float, version_from: str, version_to: str
) -> dict[str, object]:
    return {
        "type": "deploy",
        "description": f"deploy {service} {version_to}",
        "timestamp": at(-minutes_before),
        "metadata": {"service": service, "versionFrom": version_from, "versionTo": version_to},
    }


def test_no_evidence_is_inconclusive_with_unknown_first() -> None:
    result = analyze(analysis_input())
    assert result.inconclusive
    assert result.hypotheses[0].id == "UNKNOWN"
    assert result.culprit_service is None
    assert result.completeness.score == 0


def test_a_deploy_before_an_error_spike_with_a_new_exception_blames_the_deploy() -> None:
    request = analysis_input(
        metrics=series("http_error_rate", 0.002, 0.08),
        logs=logs("NullPointerException in CartService.total line {i}", 20),
        events=[deploy("checkout", 4, "v1.41", "v1.42")],
    )
    result = analyze(request)
    assert not result.inconclusive
    top = result.hypotheses[0]
    assert top.id == "DEPLOY_BUG"
    assert top.culprit_service == "checkout"
    assert result.recommended_actions[0].title == "Roll back checkout from v1.42 to v1.41"
    known = {a.artifact_id for a in request.artifacts}
    assert set(top.evidence_refs) <= known
    assert any(ref.startswith("change:") for ref in top.evidence_refs)


def test_an_exhausted_connection_pool_points_at_saturation() -> None:
    request = analysis_input(
        metrics=series("db_pool_in_use", 20, 100) + series("p95_latency_ms", 120, 900),
        logs=logs("could not obtain connection: pool exhausted after 30000 ms", 40),
    )
    result = analyze(request)
    assert result.hypotheses[0].id == "CAPACITY_SATURATION"
    assert result.explainability.primary_signal == "LATENCY"
    assert result.explainability.latency_factor > 5


def test_dns_failures_point_at_the_network() -> None:
    request = analysis_input(
        metrics=series("error_rate", 0.001, 0.3),
        logs=logs("lookup payments.internal on 10.0.0.2:53: no such host", 30),
    )
    assert analyze(request).hypotheses[0].id == "NETWORK_DNS_ISSUE"


def test_errors_rising_without_any_specific_signal_are_inconclusive() -> None:
    result = analyze(analysis_input(metrics=series("error_rate", 0.01, 0.05)))
    assert result.inconclusive
    assert result.hypotheses[0].id == "UNKNOWN"
    assert result.explainability.primary_signal == "ERRORS"


def test_the_same_evidence_gives_the_same_analysis() -> None:
    build = lambda: analysis_input(  # noqa: E731
        metrics=series("error_rate", 0.002, 0.08),
        logs=logs("upstream connect error: 503 from payments", 12),
        events=[deploy("checkout", 10, "v2", "v3")],
    )
    assert analyze(build()).model_dump(mode="json") == analyze(build()).model_dump(mode="json")


def test_confidences_are_probabilities_ranked_in_order() -> None:
    result = analyze(
        analysis_input(
            metrics=series("error_rate", 0.002, 0.08),
            logs=logs("HTTP 429 Too Many Requests from stripe", 25),
        )
    )
    confidences = [h.confidence for h in result.hypotheses if h.id != "UNKNOWN"]
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < sum(h.confidence for h in result.hypotheses) <= 1.0001
    assert [h.rank for h in result.hypotheses] == list(range(1, len(result.hypotheses) + 1))
    assert result.hypotheses[0].id == "RATE_LIMIT_THROTTLING"


def test_a_suspect_leader_below_the_bar_is_named_only_when_it_clearly_holds_the_probability() -> (
    None
):
    from chronosops.analysis.catalog import HypothesisId
    from chronosops.analysis.engine import SUSPECT_LEAD, is_decisive
    from chronosops.analysis.scoring import Candidate

    lead = Candidate(HypothesisId.DEPLOY_BUG, "pricing")
    lead.add(0.9, "pricing's own signals moved most", tag=SUSPECT_LEAD)
    assert is_decisive(lead, 0.6, 0.1)
    assert not is_decisive(lead, 0.6, 0.2)  # not four times UNKNOWN's
    assert not is_decisive(lead, 0.45, 0.05)  # not most of the probability
    rule = Candidate(HypothesisId.DOWNSTREAM_OUTAGE, "ledger")
    rule.add(0.9, "ledger named unavailable in its callers' logs")
    assert not is_decisive(rule, 0.8, 0.1)  # a rule's candidate keeps the bar


def test_new_errors_with_unknown_still_likely_leave_unknown_first() -> None:
    lines = logs("GET /items served in {i} ms", 60, level="INFO", start=-10, service="web")
    lines += logs("GET /items served in {i} ms", 60, level="INFO", start=0.5, service="web")
    lines += logs("price {i} computed", 60, level="INFO", start=-10, service="pricing")
    lines += logs("price {i} computed", 60, level="INFO", start=0.5, service="pricing")
    lines += logs("[computePrice][rule table empty] trip {i}", 3, start=0.5, service="pricing")
    result = analyze(analysis_input(service="web", logs=lines))
    assert result.hypotheses[0].id == "UNKNOWN"
    assert result.suspects[0] == "pricing"
