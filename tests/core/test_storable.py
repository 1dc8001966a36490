"""What storage cannot hold is found where it came in, with its path."""

from __future__ import annotations

from chronosops.core.storable import MAX_DEPTH, unstorable


def test_ordinary_documents_are_storable() -> None:
    assert unstorable({"a": [1, "two", {"b": None}], "ü": "🔥"}) is None


def test_the_nul_character_is_found_in_values_and_keys_with_its_path() -> None:
    found = unstorable({"a": [{"b": "x\x00y"}]})
    assert found is not None
    assert found.path == "a[0].b"
    key = unstorable({"a": {"k\x00": 1}})
    assert key is not None
    assert key.path == "a"


def test_nesting_beyond_the_limit_is_found_without_recursion() -> None:
    deep: object = []
    for _ in range(MAX_DEPTH + 5000):
        deep = [deep]
    found = unstorable(deep)
    assert found is not None
    assert "nested deeper" in found.message
    shallow: object = "leaf"
    for _ in range(MAX_DEPTH - 1):
        shallow = [shallow]
    assert unstorable(shallow) is None
