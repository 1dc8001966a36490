"""The built-in engine names causes the evidence supports, and says so when it cannot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronosops.analysis import analyze
from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.engine import SUSPECT_LEAD, culprit_shares, decided_family, explained_by
from chronosops.analysis.models import AnalysisResult
from chronosops.analysis.observations import Change
from chronosops.analysis.scoring import Candidate
from chronosops.analysis.suspects import Suspect
from tests.analysis.builders import analysis_input, at, logs, series
from tests.analysis.suspects.builders import AFTER, calls, inventory_saturated


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


def _suspect(family: str, service: str, score: float) -> Candidate:
    candidate = Candidate(family, service)
    candidate.add(score, f"{service}'s own signals moved most", tag=SUSPECT_LEAD)
    return candidate


def test_a_cause_family_spread_over_several_services_is_decided_without_a_culprit() -> None:
    # Three services fail alike: each alone is no clear culprit, together they say "a code fault".
    ranked = [
        _suspect(HypothesisId.DEPLOY_BUG, "pricing", 0.9),
        _suspect(HypothesisId.DEPLOY_BUG, "quotes", 0.85),
        _suspect(HypothesisId.DEPLOY_BUG, "tax", 0.8),
        _suspect(HypothesisId.CAPACITY_SATURATION, "web", 0.3),
    ]
    family = decided_family(ranked, unknown_score=0.5)
    assert family is not None
    assert family.hypothesis_id == HypothesisId.DEPLOY_BUG
    assert family.probability >= 3 * family.unknown
    assert [name for name, _ in family.services] == ["pricing", "quotes", "tax"]
    assert abs(sum(family.marginals.values()) + family.unknown - 1) < 1e-9


def test_a_cause_family_split_with_another_leaves_unknown_first() -> None:
    ranked = [
        _suspect(HypothesisId.DEPLOY_BUG, "pricing", 0.9),
        _suspect(HypothesisId.CAPACITY_SATURATION, "quotes", 0.9),
        _suspect(HypothesisId.NETWORK_DNS_ISSUE, "tax", 0.85),
    ]
    assert decided_family(ranked, unknown_score=0.5) is None


def test_a_cause_family_not_clearly_ahead_of_unknown_is_not_decided() -> None:
    ranked = [
        _suspect(HypothesisId.DEPLOY_BUG, "pricing", 0.8),
        _suspect(HypothesisId.DEPLOY_BUG, "quotes", 0.7),
    ]
    # A majority, but not three times what is left for "none of these" (evidence half missing).
    family = decided_family(ranked, unknown_score=0.8)
    assert family is None


def _hot(*services: str, cpu: float) -> list[dict[str, object]]:
    return [p for service in services for p in series("cpu_usage", 0.2, cpu, service=service)]


def test_services_running_hot_alike_give_saturation_first_with_no_culprit_named() -> None:
    result = analyze(
        analysis_input(service="web", metrics=_hot("pricing", "quotes", "tax", cpu=0.5))
    )
    top = result.hypotheses[0]
    assert top.id == "CAPACITY_SATURATION"
    assert top.culprit_service is None
    assert result.culprit_service is None
    assert not result.inconclusive
    assert "pricing" in top.rationale
    assert "no one service is clear" in top.rationale
    assert result.hypotheses[1].id == "UNKNOWN"
    assert len({h.id for h in result.hypotheses}) == len(result.hypotheses)
    assert 0.99 <= sum(h.confidence for h in result.hypotheses) <= 1.0001
    titles = [a.title for a in result.recommended_actions]
    assert titles[0].startswith("Find which of pricing")
    assert not any("the affected service" in title for title in titles)
    assert result.suspects[0] == "pricing"


def test_a_clearly_hot_service_is_still_named_as_the_culprit() -> None:
    result = analyze(analysis_input(service="web", metrics=_hot("pricing", cpu=0.9)))
    assert result.hypotheses[0].id == "CAPACITY_SATURATION"
    assert result.culprit_service == "pricing"
    assert result.recommended_actions[0].title == "Add capacity to pricing"


def test_traces_alone_name_a_slow_network_into_the_service_its_calls_wait_outside_of() -> None:
    # No metrics, traces only from the fault on: every call into email waits 300 ms while email
    # serves in 1 ms, and every other call loses the mesh's usual 4 ms.
    traces = calls("web", "email", AFTER, 300, 1, "e") + calls("api", "email", AFTER, 300, 1, "a")
    traces += calls("web", "cart", AFTER, 5, 1, "c") + calls("shop", "stock", AFTER, 5, 1, "s")
    result = analyze(analysis_input(service="web", traces=traces))
    top = result.hypotheses[0]
    assert (top.id, top.culprit_service) == (HypothesisId.NETWORK_DNS_ISSUE, "email")


def test_a_reading_from_the_metrics_alone_is_stated_less_surely_than_with_logs() -> None:
    # A hot CPU and a slower service read as saturation; without the logs or change events that
    # tell a deploy, a slow query or a throttled partner apart, it is one reading of several.
    metrics = series("cpu_usage", 0.3, 0.95) + series("p95_latency_ms", 120, 900)
    alone = analyze(analysis_input(metrics=metrics))
    assert alone.hypotheses[0].id == "CAPACITY_SATURATION"
    assert alone.hypotheses[0].culprit_service == "checkout"
    assert alone.overall_confidence < 0.75
    with_logs = analyze(
        analysis_input(
            metrics=metrics,
            logs=logs("request handling slow: worker threads busy (CPU {i})", 20, level="WARN"),
        )
    )
    assert with_logs.hypotheses[0].id == "CAPACITY_SATURATION"
    assert with_logs.overall_confidence > alone.overall_confidence


def test_missing_evidence_lowers_the_stated_confidence_but_not_which_cause_is_named() -> None:
    # A pool exhausted shows in its metrics alone; the metrics still name it, stated less surely.
    metrics = series("db_pool_in_use", 20, 100) + series("p95_latency_ms", 120, 900)
    alone = analyze(analysis_input(metrics=metrics))
    told = analyze(
        analysis_input(
            metrics=metrics,
            logs=logs("could not obtain connection: pool exhausted after 30000 ms", 40),
        )
    )
    assert not alone.inconclusive
    assert alone.hypotheses[0].id == told.hypotheses[0].id == "CAPACITY_SATURATION"
    assert alone.overall_confidence < 0.7 < 0.95 < told.overall_confidence
    assert 0.9999 <= sum(h.confidence for h in alone.hypotheses) <= 1.0001


def test_a_change_feed_read_and_found_empty_states_the_same_ranking_more_surely() -> None:
    # Saturation read from the metrics alone could be a deploy's regression; a deploy and
    # config feed read over the window with nothing in it rules that out, and only that.
    metrics = series("cpu_usage", 0.3, 0.95) + series("p95_latency_ms", 120, 900)
    unread = analyze(analysis_input(metrics=metrics))
    nothing_changed = analyze(analysis_input(metrics=metrics, readEmpty=["deploys", "config"]))

    def ranking(result: AnalysisResult) -> list[tuple[str, str | None]]:
        return [(h.id, h.culprit_service) for h in result.hypotheses]

    assert ranking(nothing_changed) == ranking(unread)
    assert nothing_changed.suspects == unread.suspects
    assert nothing_changed.inconclusive == unread.inconclusive
    assert nothing_changed.completeness.score == unread.completeness.score
    assert nothing_changed.hypotheses[0].id == "CAPACITY_SATURATION"
    assert nothing_changed.overall_confidence > unread.overall_confidence
    assert nothing_changed.completeness.read_empty == ["DEPLOYS", "CONFIG"]


def _cpu_at(levels: dict[str, float]) -> list[dict[str, object]]:
    return [
        p for service, cpu in levels.items() for p in series("cpu_usage", 0.2, cpu, service=service)
    ]


def test_a_second_service_the_family_reads_at_lowers_the_answer_and_not_the_family() -> None:
    # Saturation at pricing either way; quotes running almost as hot is a second place the same
    # family could be: "saturation" is as likely, "saturation at pricing" less so.
    alone = analyze(analysis_input(service="web", metrics=_cpu_at({"pricing": 0.95})))
    shared = analyze(
        analysis_input(service="web", metrics=_cpu_at({"pricing": 0.95, "quotes": 0.9}))
    )
    for result in (alone, shared):
        assert (result.hypotheses[0].id, result.culprit_service) == (
            "CAPACITY_SATURATION",
            "pricing",
        )
        assert not result.inconclusive
    assert shared.hypotheses[0].confidence == alone.hypotheses[0].confidence
    assert alone.overall_confidence == alone.hypotheses[0].confidence
    assert shared.overall_confidence < 0.9 * shared.hypotheses[0].confidence


def test_an_empty_change_feed_lifts_the_family_and_leaves_the_culprits_share() -> None:
    # The feed says nothing changed: that speaks to which kind of fault, not to where it is.
    metrics = _cpu_at({"pricing": 0.95, "quotes": 0.9})
    unread = analyze(analysis_input(service="web", metrics=metrics))
    read = analyze(analysis_input(service="web", metrics=metrics, readEmpty=["deploys", "config"]))
    assert read.hypotheses[0].confidence > unread.hypotheses[0].confidence
    share_unread = unread.overall_confidence / unread.hypotheses[0].confidence
    share_read = read.overall_confidence / read.hypotheses[0].confidence
    assert share_unread < 0.9
    assert abs(share_read - share_unread) < 1e-3


def test_a_culprits_share_is_its_weight_among_the_services_its_family_reads_at() -> None:
    ranked = [
        _suspect(HypothesisId.RATE_LIMIT_THROTTLING, "edge", 2.5),
        _suspect(HypothesisId.RATE_LIMIT_THROTTLING, "search", 2.0),
        _suspect(HypothesisId.RATE_LIMIT_THROTTLING, "edge", 1.0),  # a weaker reading, same place
        _suspect(HypothesisId.CAPACITY_SATURATION, "search", 1.5),
    ]
    share = culprit_shares(ranked)
    # At the ranking's temperature (0.25) a gap of 0.5 is odds of e^2 ≈ 7.4 to one.
    assert share[(HypothesisId.RATE_LIMIT_THROTTLING, "edge")] == pytest.approx(0.881, abs=1e-3)
    assert share[(HypothesisId.RATE_LIMIT_THROTTLING, "search")] == pytest.approx(0.119, abs=1e-3)
    assert share[(HypothesisId.CAPACITY_SATURATION, "search")] == 1.0


def test_a_caller_the_culprit_explains_does_not_split_its_share() -> None:
    ranked = [
        _suspect(HypothesisId.CAPACITY_SATURATION, "inventory", 2.0),
        _suspect(HypothesisId.CAPACITY_SATURATION, "frontend", 1.5),
        _suspect(HypothesisId.CAPACITY_SATURATION, "search", 1.5),
    ]
    key = (HypothesisId.CAPACITY_SATURATION, "inventory")
    alone = culprit_shares(ranked)[key]
    # frontend's slowness is inventory's, propagated: only search (unconnected) is a rival.
    explained = culprit_shares(ranked, {"inventory": frozenset({"frontend"})})[key]
    assert alone == pytest.approx(1 / (1 + 2 * 2.718281828**-2), abs=1e-3)
    assert explained == pytest.approx(1 / (1 + 2.718281828**-2), abs=1e-3)
    # A change of frontend's own is evidence the callee does not explain: it stays a rival.
    changed = Candidate(HypothesisId.CAPACITY_SATURATION, "frontend")
    changed.add(1.5, "frontend scaled down")
    changed.change = Change(
        "c1", "frontend", "scale", datetime(2026, 1, 1, tzinfo=UTC), "scaled down", None, None
    )
    with_change = culprit_shares(
        [*ranked[:1], changed, ranked[2]], {"inventory": frozenset({"frontend"})}
    )
    assert with_change[key] == pytest.approx(alone, abs=1e-9)


def test_the_services_a_culprit_explains_are_its_callers_up_the_graph() -> None:
    db = Suspect("db", explained_callers=frozenset({"orders"}))
    orders = Suspect("orders", explained_callers=frozenset({"web"}))
    web = Suspect("web")
    cache = Suspect("cache", explained_callers=frozenset({"db"}))  # db calls cache
    suspects = [db, orders, web, cache]
    assert explained_by("db", suspects) == {"orders", "web"}
    assert explained_by("orders", suspects) == {"web"}
    # The culprit's callee is no symptom of it, and its callers are not the callee's to claim
    # past the culprit's own explanation: cache explains db, db explains orders and web.
    assert "cache" not in explained_by("db", suspects)
    assert explained_by("cache", suspects) == {"db", "orders", "web"}


def _inventory_hot(caller_edge: tuple[str, str]) -> AnalysisResult:
    metrics = inventory_saturated(*caller_edge)
    return analyze(analysis_input(service="frontend", metrics=metrics))


def test_a_slow_caller_of_the_saturated_service_leaves_the_answer_its_familys_confidence() -> None:
    # frontend waits on inventory, whose CPU is pinned: frontend's latency is inventory's.
    caller = _inventory_hot(("frontend", "inventory"))
    # inventory calling frontend instead: frontend is a slow callee, a rival for "where".
    callee = _inventory_hot(("inventory", "frontend"))
    for result in (caller, callee):
        assert (result.hypotheses[0].id, result.culprit_service) == (
            "CAPACITY_SATURATION",
            "inventory",
        )
    assert caller.overall_confidence == caller.hypotheses[0].confidence
    assert callee.overall_confidence < 0.95 * callee.hypotheses[0].confidence
