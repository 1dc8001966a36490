"""The collector contract: a typed query in, typed artifacts out, foreign errors translated.

A collector is a pure adapter for one backend. It receives its validated options, its
credentials (already resolved from the environment by `config`), an injected
``httpx.AsyncClient`` and a clock; it knows nothing of storage, settings or HTTP serving.
Whatever goes wrong talking to the backend leaves it as one of these errors::

    CollectorError (core UpstreamError)
    ├── CollectorAuthError          401/403: missing, wrong or expired credentials
    ├── CollectorRateLimitedError   429: the backend asks us to slow down (retry_after)
    ├── CollectorTimeoutError       the backend did not answer in time
    ├── CollectorUnavailableError   no connection, or a 5xx
    ├── CollectorResponseError      an answer we cannot read, or a refused query (other 4xx)
    └── CollectorNotApplicableError nothing to ask this backend (e.g. the incident names no service)

The evidence runner turns each into a collection note; none of them ever fails an ingest. A
collector that asks several questions and gets only some answers returns what it got, with the
failures as ``problems`` (`Collected`); one that answered but not completely (a budget cut its
pages, say) says so in ``notes``. Each kind of evidence it read over the window — every question
of that kind answered, whether or not anything came back — is in ``read``: an empty answer then
says the kind was looked at and nothing was there (a bundle's coverage, docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from chronosops.core.aggregation import RawLogLine, RawSpan, log_templates
from chronosops.core.artifacts import ERROR_LEVELS, Artifact, LogTemplate, MetricSeries
from chronosops.core.clock import Clock
from chronosops.core.errors import AppError, UpstreamError
from chronosops.core.evidence_kinds import ReadKind
from chronosops.core.redaction import redact_text
from chronosops.core.topology import Neighbour, ServiceGraph, neighbourhood
from chronosops.core.windows import TimeWindow

BODY_SNIPPET = 200
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
RESERVED_NAMES = frozenset({"evidencelite", "collectors", "changes", "policy"})


class CollectorError(UpstreamError):
    code = "collector-failed"


class CollectorAuthError(CollectorError):
    code = "collector-auth-failed"


class CollectorRateLimitedError(CollectorError):
    code = "collector-rate-limited"

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class CollectorTimeoutError(CollectorError):
    code = "collector-timeout"


class CollectorUnavailableError(CollectorError):
    code = "collector-unavailable"


class CollectorResponseError(CollectorError):
    code = "collector-bad-response"


class CollectorNotApplicableError(CollectorError):
    code = "collector-not-applicable"


class CollectorConfigError(AppError):
    """A configured instance cannot work: the message names the collector and the field."""

    code = "collector-misconfigured"


@dataclass
class Collected:
    """What a collector found, which of its questions failed, and where an answer is incomplete.

    ``problems`` are failures; ``notes`` are answers cut short on purpose or by the vendor (a
    paging budget, a repeated cursor) so that completeness tells the truth. One line each.
    """

    artifacts: list[Artifact] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The log lines and spans read, as they were read: the evidence layer places the lines in
    # the spans that logged them (log statements, `core.log_statements.statements_of`) across
    # questions and collectors, since the lines of one backend may belong to the spans of
    # another. Bounded by the collector's own budgets.
    lines: list[RawLogLine] = field(default_factory=list)
    spans: list[RawSpan] = field(default_factory=list)
    # The kinds of evidence read over the window, found or not: every question of the kind
    # answered without a problem. A kind one of whose questions failed is not read: its
    # silence would say "nothing there" where it only says "not asked to the end".
    read: set[ReadKind] = field(default_factory=set)


@dataclass(frozen=True)
class CollectorQuery:
    """What to collect: the window, where to look, and how much at most per kind of evidence."""

    window: TimeWindow
    onset: datetime  # the incident's start: where baseline ends and the incident begins
    service: str | None = None
    region: str | None = None
    environment: str | None = None
    max_items: int = 50
    # Event-loop time (``loop.time()``) at which the runner gives up on this collector; a
    # collector that pages stops early enough to keep what it has. None: no deadline.
    deadline: float | None = None
    # The neighbourhood: the call graph known before asking (configured, sent with the
    # incident), how many hops around ``service`` to collect too, and at most how many
    # services besides it. ``hops=0`` asks about ``service`` alone.
    graph: ServiceGraph = field(default_factory=ServiceGraph)
    hops: int = 0
    max_neighbours: int = 10
    # Templates mined for each service before (from the evidence layer): log lines are mined
    # against them so that template ids carry over from baselines to incidents.
    known_templates: Mapping[str, Sequence[str]] = field(default_factory=dict)


class CollectorOptions(BaseModel):
    """Backend-specific options from the collectors file; unknown keys are mistakes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class CollectorSpec:
    """One configured instance, as the collectors file describes it."""

    name: str
    backend: str
    endpoint: str | None
    options: Mapping[str, Any]
    credentials: Mapping[str, SecretStr]
    timeout_seconds: float | None = None


def _retry_after(response: httpx.Response) -> float | None:
    for header in ("Retry-After", "X-RateLimit-Reset", "X-Ratelimit-Reset"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            continue
    return None


def snippet(text: str) -> str:
    """A short, redacted piece of a backend's answer, fit for a collection note."""
    flat = " ".join(text.split())
    return redact_text(flat[:BODY_SNIPPET])


class Collector(ABC):
    """One backend. Subclasses set ``kind`` and ``options_model`` and implement `collect`."""

    kind: ClassVar[str]
    options_model: ClassVar[type[CollectorOptions]] = CollectorOptions
    credential_names: ClassVar[frozenset[str]] = frozenset()
    required_credentials: ClassVar[frozenset[str]] = frozenset()
    default_endpoint: ClassVar[str | None] = None

    def __init__(
        self,
        spec: CollectorSpec,
        *,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> None:
        self.name = spec.name
        self.http = http
        self.clock = clock
        self.timeout_seconds = spec.timeout_seconds
        self.credentials = dict(spec.credentials)
        try:
            self.options = self.options_model.model_validate(dict(spec.options))
        except ValidationError as exc:
            problems = "; ".join(
                f"options.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            raise CollectorConfigError(f"collector {spec.name}: {problems}") from None
        endpoint = spec.endpoint or self.endpoint_for(self.options)
        if not endpoint:
            raise CollectorConfigError(f"collector {spec.name}: `endpoint` is required")
        if not endpoint.startswith(("http://", "https://")):
            raise CollectorConfigError(
                f"collector {spec.name}: `endpoint` must be an http(s) URL, got {endpoint!r}"
            )
        self.endpoint = endpoint.rstrip("/")
        unknown = set(spec.credentials) - self.credential_names
        if unknown:
            raise CollectorConfigError(
                f"collector {spec.name}: unknown credential(s) {', '.join(sorted(unknown))}; "
                f"{self.kind} takes {', '.join(sorted(self.credential_names)) or 'none'}"
            )
        missing = self.required_credentials - set(spec.credentials)
        if missing:
            raise CollectorConfigError(
                f"collector {spec.name}: credential(s) {', '.join(sorted(missing))} required "
                f"for {self.kind}"
            )

    def endpoint_for(self, options: CollectorOptions) -> str | None:
        """The endpoint when the file names none (a SaaS API's public address)."""
        return self.default_endpoint

    @property
    def source(self) -> str:
        """What the artifacts' ``source`` says: the instance name."""
        return self.name

    def secret(self, name: str) -> str | None:
        value = self.credentials.get(name)
        return value.get_secret_value() if value is not None else None

    def bearer_or_basic(self) -> dict[str, str]:
        """``Authorization`` from a ``bearer_token``, or ``username``/``password``, or nothing."""
        token = self.secret("bearer_token")
        if token:
            return {"Authorization": f"Bearer {token}"}
        username = self.secret("username")
        if username:
            pair = f"{username}:{self.secret('password') or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    @abstractmethod
    async def collect(self, query: CollectorQuery) -> Collected:
        """Artifacts for the query's window, most telling first.

        Raise a `CollectorError` when nothing could be collected; return the failures of
        some questions as ``problems`` when others were answered.
        """

    async def ask_all(
        self,
        questions: Sequence[tuple[str, Awaitable[list[Artifact] | Collected]]],
        *,
        kinds: Mapping[str, ReadKind] | None = None,
    ) -> Collected:
        """Ask several questions at once; keep the answers, note the failures.

        A question may answer with a `Collected` of its own (a paged one that kept its first
        pages); its problems and notes are labelled like a failure is. When nothing at all was
        answered, the first failure is raised: it says more about the backend (credentials
        refused, unreachable) than an empty result would.

        ``kinds`` names the kind of evidence each question (by label) reads: a kind is
        ``read`` when every question of it was answered without a problem, found or not.
        """
        answers = await asyncio.gather(*(ask for _, ask in questions), return_exceptions=True)
        collected = Collected()
        errors: list[CollectorError] = []
        answered: set[ReadKind] = set()
        unanswered: set[ReadKind] = set()
        for (label, _), answer in zip(questions, answers, strict=True):
            kind = (kinds or {}).get(label)
            if isinstance(answer, CollectorError):
                errors.append(answer)
                collected.problems.append(f"{label}: {answer.message}")
                unanswered.update([kind] if kind else [])
            elif isinstance(answer, BaseException):
                raise answer
            elif isinstance(answer, Collected):
                collected.artifacts.extend(answer.artifacts)
                collected.lines.extend(answer.lines)
                collected.spans.extend(answer.spans)
                collected.problems.extend(f"{label}: {problem}" for problem in answer.problems)
                collected.notes.extend(f"{label}: {note}" for note in answer.notes)
                if answer.problems:
                    unanswered.update([kind] if kind else [])
                else:
                    answered.update([kind] if kind else [], answer.read)
            else:
                collected.artifacts.extend(answer)
                answered.update([kind] if kind else [])
        if errors and not collected.artifacts:
            raise errors[0]
        collected.read = answered - unanswered
        return collected

    def around(
        self, query: CollectorQuery, discovered: Sequence[tuple[str, str]] = ()
    ) -> tuple[list[Neighbour], list[str]]:
        """The incident's service first, then its callers and callees within ``query.hops``,
        nearest first, from the graph the query carries and the edges this backend found; with
        a note naming them (and those left out over ``query.max_neighbours``)."""
        service = self.require_service(query)
        graph = query.graph.merged(discovered) if discovered else query.graph
        found = neighbourhood(graph, service, hops=query.hops)
        kept = found[: query.max_neighbours + 1]
        if len(kept) == 1:
            return kept, []
        named = ", ".join(
            f"{n.service} ({n.relation}" + (f", {n.hops} hops)" if n.hops > 1 else ")")
            for n in kept[1:]
        )
        notes = [f"neighbourhood of {service}: {named}"]
        if len(found) > len(kept):
            notes.append(
                f"{len(found) - len(kept)} more neighbour(s) within {query.hops} hop(s) left out "
                f"(at most {query.max_neighbours}, the nearest first)"
            )
        return kept, notes

    @staticmethod
    def nearest_first(
        artifacts: Sequence[Artifact], services: Sequence[str], max_items: int
    ) -> tuple[list[Artifact], list[str]]:
        """Metric series ordered by how near their service is (the incident's own first, the
        order they were asked in after that), at most ``max_items`` of them, with a note
        naming whose series were left out; other artifacts pass as they are."""
        rank = {name: index for index, name in enumerate(services)}
        series = sorted(
            (a for a in artifacts if isinstance(a, MetricSeries)),
            key=lambda a: rank.get(a.service or "", len(rank)),
        )
        others = [a for a in artifacts if not isinstance(a, MetricSeries)]
        if len(series) <= max_items:
            return [*series, *others], []
        left_out = series[max_items:]
        whose = sorted(
            {a.service or "?" for a in left_out}, key=lambda name: rank.get(name, len(rank))
        )
        note = (
            f"{len(left_out)} series of {', '.join(whose)} left out "
            f"(at most {max_items} series, the nearest services first)"
        )
        return [*series[:max_items], *others], [note]

    def require_service(self, query: CollectorQuery) -> str:
        if not query.service:
            raise CollectorNotApplicableError(
                f"the incident names no service, and {self.kind} needs one to target its queries"
            )
        return query.service

    # -- talking HTTP ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; every failure leaves as a `CollectorError`."""
        try:
            response = await self.http.request(
                method,
                url,
                params=params,
                json=json_body,
                data=form,
                headers=headers,
                timeout=self.timeout_seconds if self.timeout_seconds else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as exc:
            raise CollectorTimeoutError(
                f"{self.kind} did not answer in time ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise CollectorUnavailableError(
                f"cannot reach {self.kind} at {httpx.URL(url).host}: {type(exc).__name__}"
            ) from None
        self.raise_for_status(response)
        return response

    def raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        body = snippet(response.text)
        if status in (401, 403):
            raise CollectorAuthError(f"{self.kind} refused the credentials (HTTP {status}): {body}")
        if status == 429:
            retry = _retry_after(response)
            raise CollectorRateLimitedError(
                f"{self.kind} is rate limiting us (HTTP 429"
                + (f", retry after {retry:g} s" if retry is not None else "")
                + f"): {body}",
                retry_after_seconds=retry,
            )
        if status >= 500:
            raise CollectorUnavailableError(f"{self.kind} failed (HTTP {status}): {body}")
        raise CollectorResponseError(f"{self.kind} refused the query (HTTP {status}): {body}")

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CollectorResponseError(
                f"{self.kind} answered with something that is not JSON: {snippet(response.text)}"
            ) from None

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self.json_of(await self.request("GET", url, params=params, headers=headers))

    async def post_json(
        self,
        url: str,
        body: Any,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self.json_of(
            await self.request("POST", url, params=params, json_body=body, headers=headers)
        )

    async def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> Any:
        return self.json_of(await self.request("POST", url, form=form, headers=headers))

    def templates_of(
        self, lines: Sequence[RawLogLine], query: CollectorQuery, service: str
    ) -> list[Artifact]:
        """Lines clustered into templates, at most ``query.max_items``, the most telling kept.

        The cut must not be alphabetical: a template of errors outranks one of more lines,
        and more lines outrank fewer, so that a busy window keeps what explains it.
        """
        templates = log_templates(
            lines,
            id_prefix=f"log:{self.name}",
            source=self.source,
            default_service=service,
            known=query.known_templates,
        )
        templates.sort(key=_telling)
        return [*templates[: query.max_items]]

    def malformed(self, what: str) -> CollectorResponseError:
        return CollectorResponseError(f"{self.kind} answered in an unexpected shape: {what}")


def check_name(name: str) -> None:
    if (
        not NAME_PATTERN.match(name)
        or name.lower() in RESERVED_NAMES
        or name.startswith("scenario")
    ):
        raise CollectorConfigError(
            f"collector name {name!r} must be lower-case letters, digits, '.', '_' or '-' "
            "(up to 63 characters) and not one of evidenceLite, collectors, changes, policy "
            "or scenario*"
        )


_FRACTION = re.compile(r"\.(\d+)")
_LOGFMT_LEVEL = re.compile(r"\b(?:level|lvl|severity)=\"?([A-Za-z]+)")
_JSON_LEVEL = re.compile(r'"(?:level|severity|lvl)"\s*:\s*"([A-Za-z]+)"')
_LEADING_LEVEL = re.compile(
    r"^\W{0,3}(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|FATAL|PANIC)\b", re.I
)


def level_in(line: str) -> str | None:
    """The level a log line states about itself (logfmt, JSON or a leading word), if any."""
    for pattern in (_LOGFMT_LEVEL, _JSON_LEVEL, _LEADING_LEVEL):
        match = pattern.search(line[:300])
        if match:
            return match.group(1)
    return None


def parse_time(value: Any) -> datetime:
    """An RFC 3339 timestamp (any fraction, ``Z`` or offset) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError("not a timestamp")
    text = value.strip().replace("Z", "+00:00")
    fraction = _FRACTION.search(text)
    if fraction:
        # Python keeps microseconds; nanosecond fractions are cut, never rounded up.
        text = (
            text[: fraction.start()]
            + "."
            + fraction.group(1)[:6].ljust(6, "0")
            + text[fraction.end() :]
        )
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("a timestamp needs a zone")
    return parsed.astimezone(UTC)


def _telling(template: LogTemplate) -> tuple[int, int, str]:
    errors = sum(n for level, n in template.levels.items() if level in ERROR_LEVELS)
    return (-errors, -template.count, template.template)
