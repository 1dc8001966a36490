"""The collector base: backend failures leave as collector errors, bad configuration is named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from chronosops.collectors import (
    Collected,
    Collector,
    CollectorAuthError,
    CollectorConfigError,
    CollectorOptions,
    CollectorQuery,
    CollectorRateLimitedError,
    CollectorResponseError,
    CollectorSpec,
    CollectorTimeoutError,
    CollectorUnavailableError,
    registry,
)
from chronosops.core.aggregation import RawLogLine, metric_series
from chronosops.core.clock import FrozenClock
from chronosops.core.windows import TimeWindow
from tests.collectors.scripted import NOW


class EchoOptions(CollectorOptions):
    path: str = "/api"


class EchoCollector(Collector):
    kind = "echo"
    options_model = EchoOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"token", "tenant"})
    required_credentials: ClassVar[frozenset[str]] = frozenset({"token"})

    async def collect(self, query: CollectorQuery) -> Collected:
        assert isinstance(self.options, EchoOptions)
        await self.get_json(f"{self.endpoint}{self.options.path}")
        return Collected()


def _collector(
    handler: Callable[[httpx.Request], httpx.Response],
    **changes: Any,
) -> EchoCollector:
    spec: dict[str, Any] = {
        "name": "echo-1",
        "backend": "echo",
        "endpoint": "https://echo.example/",
        "options": {},
        "credentials": {"token": SecretStr("s3cr3t-value")},
    }
    spec.update(changes)
    return EchoCollector(
        CollectorSpec(**spec),
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        clock=FrozenClock(NOW),
    )


def _answer(status: int, body: str = "{}", headers: dict[str, str] | None = None) -> Any:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers=headers)

    return handler


def _raise(error: Exception) -> Any:
    def handler(_: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    ("handler", "kind", "text"),
    [
        (
            _answer(401, '{"error":"bad key"}'),
            CollectorAuthError,
            "refused the credentials (HTTP 401)",
        ),
        (_answer(403), CollectorAuthError, "HTTP 403"),
        (
            _answer(429, "slow down", {"Retry-After": "17"}),
            CollectorRateLimitedError,
            "retry after 17 s",
        ),
        (_answer(503, "<html>down</html>"), CollectorUnavailableError, "failed (HTTP 503)"),
        (_answer(400, '{"error":"parse error"}'), CollectorResponseError, "refused the query"),
        (_answer(200, "<html>login</html>"), CollectorResponseError, "not JSON"),
        (_raise(httpx.ReadTimeout("slow")), CollectorTimeoutError, "did not answer in time"),
        (_raise(httpx.ConnectError("refused")), CollectorUnavailableError, "cannot reach echo"),
    ],
)
async def test_backend_failures_leave_as_collector_errors(
    handler: Any, kind: type[Exception], text: str
) -> None:
    collector = _collector(handler)
    with pytest.raises(kind, match=text.replace("(", r"\(").replace(")", r"\)")) as caught:
        await collector.collect(_query())
    if isinstance(caught.value, CollectorRateLimitedError):
        assert caught.value.retry_after_seconds == 17


async def test_error_messages_carry_a_redacted_snippet_of_the_answer() -> None:
    collector = _collector(
        _answer(500, 'boom: password="hunter2" for ops@example.com ' + "x" * 500)
    )
    with pytest.raises(CollectorUnavailableError) as caught:
        await collector.collect(_query())
    message = caught.value.message
    assert "hunter2" not in message
    assert "ops@example.com" not in message
    assert len(message) < 300


def _query() -> CollectorQuery:
    return CollectorQuery(window=TimeWindow(NOW, NOW), onset=NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"endpoint": None}, "collector echo-1: `endpoint` is required"),
        ({"endpoint": "ftp://echo"}, "must be an http(s) URL"),
        (
            {"credentials": {"token": SecretStr("x"), "password": SecretStr("y")}},
            "unknown credential(s) password",
        ),
        ({"credentials": {}}, "credential(s) token required for echo"),
        (
            {"options": {"path": "/x", "colour": "red"}},
            "options.colour: Extra inputs are not permitted",
        ),
        ({"options": {"path": 3}}, "options.path: Input should be a valid string"),
    ],
)
def test_bad_configuration_names_the_collector_and_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CollectorConfigError) as caught:
        _collector(_answer(200), **changes)
    assert message in caught.value.message


@pytest.mark.parametrize("name", ["Prod", "evidenceLite", "changes", "scenario-x", "a b", ""])
def test_instance_names_are_slugs_and_not_reserved(name: str) -> None:
    spec = CollectorSpec(
        name=name, backend="prometheus", endpoint="http://p", options={}, credentials={}
    )
    with pytest.raises(CollectorConfigError, match="collector name"):
        registry.build(spec, http=httpx.AsyncClient(), clock=FrozenClock(NOW))


def test_an_unknown_backend_is_refused_with_the_known_ones() -> None:
    spec = CollectorSpec(
        name="x", backend="splunk", endpoint="http://p", options={}, credentials={}
    )
    with pytest.raises(CollectorConfigError, match="unknown collector backend 'splunk'"):
        registry.build(spec, http=httpx.AsyncClient(), clock=FrozenClock(NOW))


def test_when_templates_must_be_cut_the_errors_and_the_busiest_are_kept() -> None:
    collector = _collector(lambda _request: httpx.Response(200, json={}))
    lines = [
        *(
            RawLogLine(ts=NOW, message=f"aaa cache warmed shard {i}", level="INFO")
            for i in range(9)
        ),
        *(
            RawLogLine(ts=NOW, message="zzz payment declined by gateway", level="ERROR")
            for _ in range(2)
        ),
        *(RawLogLine(ts=NOW, message="mmm request served", level="INFO") for _ in range(5)),
        RawLogLine(ts=NOW, message="bbb rare notice", level="INFO"),
    ]
    query = CollectorQuery(window=TimeWindow(NOW, NOW), onset=NOW, max_items=2)
    kept = collector.templates_of(lines, query, "checkout")
    assert [a.title for a in kept] == [
        "zzz payment declined by gateway",
        "aaa cache warmed shard <num>",
    ]


def test_lines_are_mined_against_the_templates_remembered_for_the_service() -> None:
    collector = _collector(lambda _request: httpx.Response(200, json={}))
    lines = [RawLogLine(ts=NOW, message="cache node omega unreachable", level="ERROR")]
    known = {"checkout": ["cache node <*> unreachable"]}
    alone = collector.templates_of(
        lines, CollectorQuery(window=TimeWindow(NOW, NOW), onset=NOW), "checkout"
    )
    remembered = collector.templates_of(
        lines,
        CollectorQuery(window=TimeWindow(NOW, NOW), onset=NOW, known_templates=known),
        "checkout",
    )
    assert [a.title for a in alone] == ["cache node omega unreachable"]
    assert [a.title for a in remembered] == ["cache node <*> unreachable"]


class AskingCollector(Collector):
    """Asks ``answers`` (label → what the question answers) with each label's kind."""

    kind = "asking"

    def __init__(self, answers: dict[str, Any], kinds: dict[str, Any]) -> None:
        super().__init__(
            CollectorSpec("asking-1", "asking", "https://asking.example", {}, {}),
            http=httpx.AsyncClient(transport=httpx.MockTransport(_answer(200))),
            clock=FrozenClock(NOW),
        )
        self.answers, self.kinds = answers, kinds

    async def collect(self, query: CollectorQuery) -> Collected:
        async def ask(answer: Any) -> Any:
            if isinstance(answer, Exception):
                raise answer
            return answer

        return await self.ask_all(
            [(label, ask(answer)) for label, answer in self.answers.items()], kinds=self.kinds
        )


async def test_a_kind_is_read_when_every_question_of_it_was_answered_even_empty() -> None:
    query = CollectorQuery(window=TimeWindow(start=NOW, end=NOW), onset=NOW)
    kinds = {"metric a": "metrics", "metric b": "metrics", "logs": "logs", "events": "deploys"}
    everything_empty = AskingCollector(
        {"metric a": [], "metric b": [], "logs": Collected(), "events": []}, kinds
    )
    assert (await everything_empty.collect(query)).read == {"metrics", "logs", "deploys"}


async def test_a_kind_one_of_whose_questions_failed_or_was_cut_short_is_not_read() -> None:
    query = CollectorQuery(window=TimeWindow(start=NOW, end=NOW), onset=NOW)
    kinds = {"metric a": "metrics", "metric b": "metrics", "logs": "logs", "events": "deploys"}
    series = metric_series(
        id_prefix="metric:asking-1", name="latency", points=[(NOW, 1.0)], source="asking-1"
    )
    assert series is not None
    found = await AskingCollector(
        {
            "metric a": [series],
            "metric b": CollectorUnavailableError("prometheus failed (HTTP 502)"),
            "logs": Collected(problems=["page 2 failed, kept the first 1 page"]),
            "events": [],
        },
        kinds,
    ).collect(query)
    # The series that came back are evidence still; only the kinds' silence is not.
    assert found.artifacts == [series]
    assert found.read == {"deploys"}
    assert len(found.problems) == 2
