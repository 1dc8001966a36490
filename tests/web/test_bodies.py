"""A body's bytes vouch for what storage can hold only when they can; every problem is still
refused with its place, whichever way the body was checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chronosops.core import json_documents
from chronosops.core.errors import InvalidInputError
from chronosops.core.storable import MAX_DEPTH, plainly_storable
from chronosops.web import bodies
from chronosops.web.bodies import parse_json

EXAMPLE_2 = (
    Path(__file__).resolve().parents[1] / "fixtures" / "guide" / "example_2_with_evidence.json"
)


def test_a_small_ascii_body_is_vouched_for_by_its_bytes() -> None:
    raw = EXAMPLE_2.read_bytes()
    assert plainly_storable(raw)
    assert parse_json(raw) == json.loads(raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"a": "é"}'.encode(),  # not ASCII: its bytes could spell a surrogate
        b'{"a": "x\\u0000y"}',
        b'{"a": "\\ud800"}',
        b'{"a": "\\uDBFF"}',
        '{"a": 1}'.encode("utf-16"),  # NUL bytes: not UTF-8
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode(),
    ],
)
def test_bytes_that_could_hide_a_problem_are_walked(raw: bytes) -> None:
    assert not plainly_storable(raw)


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        (b'{"a": {"b": [1.5, 1e400]}}', "a.b[1]", "finite"),
        (b'{"a": ' + b"1" * 400 + b".0}", "a", "finite"),
        (b'{"a": {"b": "x\\u0000"}}', "a.b", "NUL"),
        (b'{"a": ["\\ud800"]}', "a[0]", "surrogate"),
        (b'{"a": "\xed\xa0\x80"}', "a", "surrogate"),  # a surrogate's UTF-8 bytes
    ],
)
def test_each_problem_is_refused_with_its_place(raw: bytes, path: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_json(raw)
    [error] = caught.value.errors
    assert error.path == path
    assert words in error.message


def test_nesting_past_the_limit_is_refused_and_up_to_it_accepted() -> None:
    at_limit = ("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode()
    assert parse_json(at_limit) is not None
    with pytest.raises(InvalidInputError) as caught:
        parse_json(("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode())
    assert "nested deeper" in caught.value.errors[0].message


def test_numbers_parse_as_they_did() -> None:
    raw = b'{"a": 1.25, "b": -0.0, "c": 12, "d": 1e300, "e": [2.5e-3]}'
    assert plainly_storable(raw)
    document = parse_json(raw)
    assert document == json.loads(raw)
    assert isinstance(document["a"], float)
    assert isinstance(document["c"], int)


def test_the_ingest_answer_is_written_as_starlette_writes_json() -> None:
    from fastapi.responses import JSONResponse

    from chronosops.web.api.incidents import IngestAnswer

    body = {"incidentId": "c1", "message": "ünïcödé — “quoted” \u2028", "n": [1, 2.5, None]}
    assert IngestAnswer(body, status_code=202).body == JSONResponse(body, status_code=202).body
    with pytest.raises(ValueError, match="JSON compliant"):
        IngestAnswer({"x": float("nan")})


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1, "b": [1.5, 2e3, "x"], "c": {"d": null, "e": true}}',
        '\ufeff{"a": "b"}'.encode("utf-8"),
        '{"a": "\u00e9\u4e2d"}'.encode("utf-16"),
        '{"a": "\u00e9"}'.encode("utf-32-le"),
        b'{"a": "\\ud800"}',
        b'{"a": 1e400}',
        b'{"a": 1',
        b'{"a": NaN}',
        b'{"a": 1, "a": 2}',
        b"\xff\xfe\x00",
    ],
)
def test_a_body_parses_to_what_json_loads_reads_or_is_refused_as_it_refuses(raw: bytes) -> None:
    def loads() -> Any:
        return json.loads(
            raw,
            parse_constant=json_documents.reject_constant,
            object_pairs_hook=json_documents.unique_keys,
        )

    reason: str | None = None
    try:
        expected = loads()
    except (ValueError, UnicodeDecodeError) as error:
        reason = str(error)
    if reason is not None:
        with pytest.raises(InvalidInputError) as refused:
            bodies.parse_json(raw)
        # The same reason as json's (a duplicate key is named in the refusal's own words).
        assert reason in refused.value.errors[0].message or b'"a": 1, "a"' in raw
        return
    if "1e400" in raw.decode("latin-1") or "ud800" in raw.decode("latin-1"):
        with pytest.raises(InvalidInputError):  # what storage cannot hold, as before
            bodies.parse_json(raw)
        return
    assert bodies.parse_json(raw) == expected
