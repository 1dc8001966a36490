"""Golden vectors of the reference spec §5.2: our canonical JSON must agree byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from chronosops.audit.schemas import EventType
from chronosops.core.canonical import canonical_json, content_hash, sha256_hex


@pytest.mark.parametrize(
    ("value", "canonical", "digest"),
    [
        (
            {"b": 1, "a": [3, {"d": None, "c": "x"}]},
            '{"a":[3,{"c":"x","d":null}],"b":1}',
            "b4a92c330fc01410911e683d5d03404eb28981a6e1d67f9cb1ae63ddc3d19947",
        ),
        (
            {"x": 0.00005, "y": 1.0, "z": "é", "w": 1e-7},
            '{"w":1e-7,"x":0.00005,"y":1,"z":"é"}',
            "bbddec4e0ee31de79f304805048253413ff4c946fb4cc9423805e73f6494adc9",
        ),
    ],
)
def test_canonical_json_matches_the_reference_vectors(
    value: object, canonical: str, digest: str
) -> None:
    assert canonical_json(value).decode() == canonical
    assert content_hash(value) == digest


def test_the_reference_audit_vector_hashes_identically() -> None:
    hash_input = {
        "chainId": "chronosops",
        "seq": 1,
        "prevHash": "GENESIS",
        "eventType": "ANALYSIS_CREATED",
        "entityType": "INCIDENT_ANALYSIS",
        "entityId": "a1",
        "entityRef": None,
        "payload": {
            "analysisId": "a1",
            "incidentId": "i1",
            "evidenceBundleId": "b1",
            "completenessScore": 95,
            "overallConfidence": 0.85,
        },
    }
    assert (
        content_hash(hash_input)
        == "3b43058e2c10c631f71d074bb53e267f1fdb265d14f0e98761a8b0c5523b5e73"
    )


def test_the_reference_prompt_hash_is_plain_sha256_of_the_joined_text() -> None:
    assert (
        sha256_hex(b"SYS\n---\nUSER")
        == "7f948612cf92703954f4b4e778e346710fe9593258608863e00316d869e254d1"
    )


def test_key_order_does_not_change_the_hash() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"b": [1, 2]}) != content_hash({"b": [2, 1]})


_KEYS = st.text(max_size=6)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=20,
)


@given(_DOCUMENTS)
def test_canonical_json_agrees_with_the_reference_encoder_byte_for_byte(value: Any) -> None:
    """The fast path (json's C encoder, for documents without floats) must never differ."""
    assert canonical_json(value) == rfc8785.dumps(value)


def test_keys_beyond_the_basic_plane_sort_by_utf16_code_units() -> None:
    value = {"\ue000": 1, "\U0001f600": 2}
    assert canonical_json(value) == '{"\U0001f600":2,"\ue000":1}'.encode()


@pytest.mark.parametrize(
    "number",
    [
        0.0,
        -0.0,
        1.0,
        -3.0,
        0.5,
        0.72,
        1e-4,
        9.99e-5,
        5e-05,
        1e-7,
        123.456,
        1e15 + 0.5,
        1e16,
        1e21,
        2.0**53,
        2.0**53 + 2,
        2.0**60,
        1.7976931348623157e308,
        5e-324,
        0.1 + 0.2,
    ],
)
def test_floats_print_as_ecmascript_prints_them(number: float) -> None:
    """Fractions in positional range take the fast path, whole floats become ints there,
    everything else goes to the reference encoder: the bytes never differ."""
    value: dict[str, Any] = {"n": number, "l": [number, {"m": -number}]}
    assert canonical_json(value) == rfc8785.dumps(value)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=8))
def test_any_list_of_floats_agrees_with_the_reference_encoder(value: list[float]) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_a_str_enum_is_written_as_the_string_it_holds() -> None:
    value: dict[str, Any] = {"eventType": EventType.INCIDENT_CREATED, "n": 0.25}
    assert (
        canonical_json(value)
        == rfc8785.dumps(value)
        == b'{"eventType":"INCIDENT_CREATED","n":0.25}'
    )
