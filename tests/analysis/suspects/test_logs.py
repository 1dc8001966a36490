"""Log readings: error lines in excess of the baseline, new error templates (those that began in
the guard gap too) and errors that persist on both sides of the fault."""

from __future__ import annotations

from typing import Any

from chronosops.analysis.suspects import rank_suspects
from chronosops.analysis.suspects.logs import log_key, named_peers
from chronosops.core.artifacts import LogTemplate
from tests.analysis.builders import analysis_input, at, logs
from tests.analysis.suspects.builders import ranked, suspect_kinds


def test_error_lines_in_excess_of_the_baseline_point_at_their_service() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    background += logs("GET /items served in {i} ms", 40, level="INFO", start=0.5, service="web")
    failures = logs("order {i} failed: price lookup threw", 30, start=0.5, service="pricing")
    order = ranked(logs=background + failures)
    assert order[0] == "pricing"


def test_the_log_key_masks_ids_numbers_and_bracketed_values() -> None:
    one = log_key("c.s.Impl#232 SpanID: 7de994d6484b9912 [refund][amount: 18.00]")
    other = log_key("c.s.Impl#232 SpanID: 1f4daf024add3e61 [refund][amount: 3.50]")
    assert one == other


def test_an_error_template_first_logged_after_the_onset_is_new_and_one_logged_before_is_not() -> (
    None
):
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    steady = logs("seat {i} not found", 20, start=-10, service="orders")
    steady += logs("seat {i} not found", 20, start=0.5, service="orders")
    new = logs("[queryForTravel][catch price exception] trip {i}", 3, start=0.5, service="basic")
    kinds = suspect_kinds(logs=background + steady + new)
    assert kinds["basic"]["log_new_errors"] > 0.4
    assert "log_new_errors" not in kinds["orders"]


def new_error_kinds_with_logs_from(
    start: float, new_from: float = 0.5
) -> dict[str, dict[str, float]]:
    """Steady lines from ``start`` minutes (the fault starts a minute before the onset) and an
    error template first logged from ``new_from`` minutes (after the onset by default)."""
    background = logs("GET /items served in {i} ms", 30, level="INFO", start=start, service="web")
    new = logs(
        "[queryForTravel][catch price exception] trip {i}", 3, start=new_from, service="basic"
    )
    return suspect_kinds(logs=background + new)


def test_logs_reaching_under_a_minute_before_the_faults_start_still_show_a_template_is_new() -> (
    None
):
    # 48 s of logs before the fault's start: short of the metrics' guard gap, enough to have
    # shown a statement logged before.
    assert new_error_kinds_with_logs_from(-1.8)["basic"]["log_new_errors"] > 0.4


def test_logs_that_begin_just_before_the_faults_start_cannot_tell_a_template_is_new() -> None:
    # 12 s of logs before the fault's start, the template from half a minute after it: the
    # window merely shows its first lines.
    kinds = new_error_kinds_with_logs_from(-1.2, new_from=-0.5)
    assert "log_new_errors" not in kinds.get("basic", {})


def test_logs_that_begin_late_show_a_template_new_from_the_latest_start_an_early_report_allows() -> (
    None
):
    # The same 12 s of logs before the fault's start, and a template from a minute and a half
    # after it: were the report a minute early, the fault would start a minute later, and the
    # logs reach 72 s before that.
    assert new_error_kinds_with_logs_from(-1.2)["basic"]["log_new_errors"] > 0.4


def test_two_new_error_statements_of_a_line_each_at_one_service_are_new_errors() -> None:
    # A log pipeline that keeps half the lines leaves one line of each of two failures: at one
    # service, they are as much support as two lines of one.
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    failing = logs("[getAllFood][get the food request failed] trip {i}", 1, service="food")
    failing += logs("[getAllFood][retry of the train food list failed] {i}", 1, service="food")
    kinds = suspect_kinds(logs=background + failing)
    assert kinds["food"]["log_new_errors"] > 0.4


def test_one_new_error_line_alone_at_a_service_is_noise() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    stray = logs("[getAllFood][get the food request failed] trip {i}", 1, service="food")
    kinds = suspect_kinds(logs=background + stray)
    assert "log_new_errors" not in kinds.get("food", {})


def test_a_statement_logged_as_info_before_the_fault_and_as_error_after_is_a_new_error() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    quiet = logs("[verifyCode][code not found] id {i}", 6, level="INFO", start=-6, service="codes")
    loud = logs("[verifyCode][code not found] id {i}", 4, start=0.5, service="codes")
    kinds = suspect_kinds(logs=background + quiet + loud)
    assert kinds["codes"]["log_new_errors"] > 0.4


def test_a_statement_logged_as_error_on_both_sides_is_not_new() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    before = logs("[verifyCode][code not found] id {i}", 6, start=-6, service="codes")
    after = logs("[verifyCode][code not found] id {i}", 4, start=0.5, service="codes")
    kinds = suspect_kinds(logs=background + before + after)
    assert "log_new_errors" not in kinds.get("codes", {})


def errors_from(
    start: float, count: int, *, every: float = 0.1, logs_from: float = -10
) -> list[dict[str, Any]]:
    """Steady lines at "web" from ``logs_from`` minutes to four after the onset, and an error
    template at "contacts" logged ``count`` times from ``start`` minutes, every ``every``."""
    steady = round((4 - logs_from) * 10)
    lines = logs(
        "GET /items served in {i} ms", steady, level="INFO", start=logs_from, service="web"
    )
    lines += [
        {
            "message": f"[findContactsById][no contacts according to id] id {i}",
            "level": "ERROR",
            "timestamp": at(start + i * every),
            "service": "contacts",
        }
        for i in range(count)
    ]
    return lines


def test_an_error_template_that_began_in_the_guard_gap_after_a_telling_silence_is_new() -> None:
    # The fault starts a minute before the onset; its first line 30 s before that, after eight
    # minutes of logs it was silent in, and it keeps failing after.
    kinds = suspect_kinds(logs=errors_from(-1.5, 30))
    assert kinds["contacts"]["log_new_errors"] > 0.4


def test_an_error_template_that_began_in_the_guard_gap_names_a_code_fault_at_its_service() -> None:
    from chronosops.analysis import analyze

    result = analyze(analysis_input(service="web", logs=errors_from(-1.5, 30)))
    assert result.culprit_service == "contacts"
    assert result.hypotheses[0].id == "DEPLOY_BUG"


def test_an_error_template_too_sparse_for_its_silence_to_tell_stays_out() -> None:
    # Two lines in five and a half minutes: two minutes without one says nothing.
    kinds = suspect_kinds(logs=errors_from(-1.5, 2, every=3.0, logs_from=-3.5))
    assert "log_new_errors" not in kinds.get("contacts", {})


def test_an_error_template_that_began_before_a_late_reports_window_is_not_new() -> None:
    # Began a minute and a half before the guard gap: earlier than a report a minute late
    # would put the fault.
    kinds = suspect_kinds(logs=errors_from(-3.5, 40))
    assert "log_new_errors" not in kinds.get("contacts", {})


def test_an_error_template_that_began_a_minute_before_a_late_reports_guard_gap_is_new() -> None:
    # The report a minute late puts the fault's own first minute before the guard gap: the
    # template's first line, after seven minutes of logs it was silent in, still marks it.
    kinds = suspect_kinds(logs=errors_from(-2.5, 40))
    assert kinds["contacts"]["log_new_errors"] > 0.4


def test_an_error_burst_in_the_guard_gap_that_stopped_before_the_fault_is_not_new() -> None:
    kinds = suspect_kinds(logs=errors_from(-1.9, 8))
    assert "log_new_errors" not in kinds.get("contacts", {})


def test_a_new_error_naming_another_service_is_not_the_loggers_own_fault() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    background += logs("price lookup took {i} ms", 40, level="INFO", start=-10, service="pricing")
    failing = logs("call {i} failed: no instances available for pricing", 5, service="travel")
    kinds = suspect_kinds(logs=background + failing)
    assert "log_new_errors" not in kinds.get("travel", {})


# More peers than a few plain words: Drain masks the name where they stand.
PEERS = ("ts-pricing", "ts-billing", "ts-seats", "ts-routes")


def test_a_new_error_whose_template_masks_the_peer_it_names_is_not_the_loggers_own_fault() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    for peer in PEERS:
        background += logs("lookup took {i} ms", 40, level="INFO", start=-10, service=peer)
    # One statement naming four peers: the template masks the name ("<*>"), the examples keep it.
    failing = [
        line
        for peer in PEERS
        for line in logs(
            "request {i} processing failed; nested exception is java.lang.IllegalStateException:"
            f" No instances available for {peer} with root cause",
            2,
            service="travel",
        )
    ]
    kinds = suspect_kinds(logs=background + failing)
    assert "log_new_errors" not in kinds.get("travel", {})


def test_a_new_error_template_with_nothing_else_moving_names_a_code_fault_at_its_service() -> None:
    from chronosops.analysis import analyze

    lines = logs("GET /items served in {i} ms", 60, level="INFO", start=-10, service="web")
    lines += logs("GET /items served in {i} ms", 60, level="INFO", start=0.5, service="web")
    lines += logs("price {i} computed", 60, level="INFO", start=-10, service="pricing")
    lines += logs("price {i} computed", 60, level="INFO", start=0.5, service="pricing")
    lines += logs("[computePrice][rule table empty] trip {i}", 12, start=0.5, service="pricing")
    result = analyze(analysis_input(service="web", logs=lines))
    assert result.suspects[0] == "pricing"
    assert result.culprit_service == "pricing"
    assert result.hypotheses[0].id == "DEPLOY_BUG"


def errors_before_and_after(
    message: str, before: int, after: int, *, service: str
) -> list[dict[str, Any]]:
    """Steady lines at "web" on both sides, and ``message`` logged ``before`` times before the
    fault's start and ``after`` times after the onset at ``service``."""
    lines = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    lines += logs("GET /items served in {i} ms", 40, level="INFO", start=0.5, service="web")
    if before:
        lines += logs(message, before, start=-6, service=service)
    if after:
        lines += logs(message, after, start=0.5, service=service)
    return lines


def test_a_service_failing_before_and_after_the_fault_with_most_of_the_errors_is_a_lead() -> None:
    failing = errors_before_and_after("no contacts for id {i}", 6, 8, service="contacts")
    ambient = errors_before_and_after("food store {i} is null", 2, 2, service="food")
    request = analysis_input(logs=failing + ambient[80:])
    suspects = rank_suspects(request.artifacts, request.context)
    assert suspects[0].service == "contacts"
    assert suspects[0].kinds["log_errors_persistent"] > 0.5
    assert "log_errors_persistent" not in {s.service: s.kinds for s in suspects}.get("food", {})


def test_errors_that_begin_after_the_fault_are_a_change_not_a_persistent_state() -> None:
    kinds = suspect_kinds(
        logs=errors_before_and_after("no contacts for id {i}", 0, 8, service="contacts")
    )
    assert "log_errors_persistent" not in kinds["contacts"]


def test_errors_that_fade_after_the_fault_are_a_recovery_not_a_persistent_state() -> None:
    kinds = suspect_kinds(
        logs=errors_before_and_after("no contacts for id {i}", 12, 2, service="contacts")
    )
    assert "log_errors_persistent" not in kinds.get("contacts", {})


def test_errors_that_surge_after_the_fault_are_a_change_not_a_persistent_state() -> None:
    lines = errors_before_and_after("no contacts for id {i}", 3, 60, service="contacts")
    kinds = suspect_kinds(logs=lines)
    assert "log_errors_persistent" not in kinds["contacts"]
    assert kinds["contacts"]["log_errors"] > 0.5  # read as the change it is


def test_persistent_errors_naming_another_service_are_that_peers_not_the_loggers() -> None:
    lines = errors_before_and_after(
        "call {i} failed: no instances available for pricing", 6, 8, service="travel"
    )
    lines += logs("price lookup took {i} ms", 40, level="INFO", start=-10, service="pricing")
    kinds = suspect_kinds(logs=lines)
    assert "log_errors_persistent" not in kinds.get("travel", {})


def test_persistent_errors_alone_rank_their_service_first_without_naming_it() -> None:
    from chronosops.analysis import analyze

    lines = errors_before_and_after("no contacts for id {i}", 6, 8, service="contacts")
    result = analyze(analysis_input(service="web", logs=lines))
    assert result.suspects[0] == "contacts"
    assert result.culprit_service is None  # a state is a lead, not a named cause


def test_warnings_about_what_a_peer_returned_count_for_the_peer_not_for_the_writer() -> None:
    served = logs("GET /pay served in {i} ms", 40, level="INFO", start=-10, service="pricing")
    served += logs("GET /pay served in {i} ms", 40, level="INFO", start=0.5, service="pricing")
    served += logs("GET /cart served in {i} ms", 40, level="INFO", start=-10, service="web")
    served += logs("GET /cart served in {i} ms", 40, level="INFO", start=0.5, service="web")
    symptom = logs(
        "unexpected empty result from pricing for request {i}",
        30,
        level="WARN",
        start=0.5,
        service="web",
    )
    kinds = suspect_kinds(logs=served + symptom)
    assert kinds["pricing"]["log_errors"] > 0.4
    assert "log_errors" not in kinds.get("web", {})


def test_a_service_named_only_inside_a_longer_name_is_not_named_by_a_line() -> None:
    services = ["ingress", "nginx-ingress", "orders"]
    assert named_peers("upstream nginx-ingress reset the stream", services) == ["nginx-ingress"]


def new_error_kinds_first_logged_at(minutes: float) -> dict[str, float]:
    """The kinds at "flags" of an incident whose steady lines run through the window and whose
    only error template at "flags" begins ``minutes`` after the onset."""
    background = logs("GET /items served in {i} ms", 250, level="INFO", start=-10, service="web")
    late = logs("flag snapshot refresh failed after {i} ms", 3, start=minutes, service="flags")
    return suspect_kinds(logs=background + late).get("flags", {})


def test_an_error_template_that_begins_long_after_the_onset_is_not_the_faults_new_failure() -> None:
    assert new_error_kinds_first_logged_at(4)["log_new_errors"] > 0.4
    assert "log_new_errors" not in new_error_kinds_first_logged_at(12)


def test_persistent_lines_a_caller_writes_about_a_service_read_as_that_services_errors() -> None:
    lines = errors_before_and_after("nil pointer dereference in quote {i}", 6, 8, service="ship")
    lines += errors_before_and_after(
        "request {i} to ship failed: unexpected status 500", 6, 8, service="web"
    )[80:]
    kinds = suspect_kinds(logs=lines)
    assert kinds["ship"]["log_errors_named"] > 0.9
    assert "log_errors_named" not in kinds.get("web", {})
    assert "log_errors_persistent" not in kinds.get("web", {})


def test_warnings_about_a_wrong_value_from_a_service_read_as_its_errors_without_its_own() -> None:
    lines = errors_before_and_after("blank result from basket for request {i}", 6, 8, service="gw")
    lines = [{**line, "level": "WARN"} if line["service"] == "gw" else line for line in lines]
    lines += logs("GET /basket served in {i} ms", 40, level="INFO", start=-10, service="basket")
    kinds = suspect_kinds(logs=lines)
    assert kinds["basket"]["log_errors_named"] > 0.9


def test_lines_about_a_caller_whose_own_errors_are_about_its_callee_pass_on_to_the_callee() -> None:
    lines = errors_before_and_after("panic: nil pointer in quote {i}", 6, 8, service="shipping")
    lines += errors_before_and_after(
        "upstream shipping responded 500 to get /quote {i}", 6, 8, service="booking"
    )[80:]
    lines += errors_before_and_after(
        "upstream booking responded 500 to post /quote {i}", 6, 8, service="edge"
    )[80:]
    kinds = suspect_kinds(logs=lines)
    assert kinds["shipping"]["log_errors_named"] > 0.9
    assert "log_errors_named" not in kinds.get("booking", {})
    request = analysis_input(logs=lines)
    shipping = next(
        s for s in rank_suspects(request.artifacts, request.context) if s.service == "shipping"
    )
    cited = {
        service
        for t in request.artifacts
        if isinstance(t, LogTemplate) and t.artifact_id in shipping.refs["log_errors_named"]
        for service in t.services
    }
    assert {"booking", "edge"} <= cited  # the lines about it, and those passed on to it


def test_lines_about_a_service_that_surge_after_the_fault_are_a_change_not_a_state() -> None:
    lines = errors_before_and_after("request {i} to ship failed", 3, 60, service="web")
    lines += logs("GET /quote served in {i} ms", 40, level="INFO", start=-10, service="ship")
    kinds = suspect_kinds(logs=lines)
    assert "log_errors_named" not in kinds.get("ship", {})
    assert kinds["ship"]["log_errors"] > 0.5  # read as the change it is (engine 3.51)


def test_a_usual_line_that_stops_at_the_reported_start_vanished_despite_its_guard_minute() -> None:
    lines = logs("GET /items served in {i} ms", 60, level="INFO", start=-10, service="web")
    lines += logs("GET /items served in {i} ms", 60, level="INFO", start=0.5, service="web")
    # The step's line, up to the reported start: its last minute is the fault side's first.
    lines += logs(
        "enriched order {i} with defaults", 95, level="INFO", start=-9.5, service="orders"
    )
    lines += logs("order {i} stored", 60, level="INFO", start=-10, service="orders")
    lines += logs("order {i} stored", 60, level="INFO", start=0.5, service="orders")
    kinds = suspect_kinds(logs=lines)
    assert kinds["orders"]["log_vanished"] > 0.3


def test_a_usual_line_that_goes_on_after_the_reported_start_did_not_vanish() -> None:
    lines = logs("GET /items served in {i} ms", 60, level="INFO", start=-10, service="web")
    lines += logs("GET /items served in {i} ms", 60, level="INFO", start=0.5, service="web")
    lines += logs("enriched order {i} with defaults", 60, level="INFO", start=-10, service="orders")
    lines += logs("enriched order {i} with defaults", 3, level="INFO", start=2, service="orders")
    kinds = suspect_kinds(logs=lines)
    assert "log_vanished" not in kinds.get("orders", {})
