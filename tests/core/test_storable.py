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


def test_each_problem_is_named_at_its_place_below_a_storable_prefix() -> None:
    # The quick walk that finds nothing wrong must not hide a problem it should have found.
    fine = {"a": [1, 2.5, "text", {"b": True}], "é": "ünïcödé"}
    assert unstorable(fine) is None
    cases = {
        "x.y[1]": {"x": {"y": ["ok", "bad\x00"]}},
        "x.z": {"x": {"z": "\ud800 lone"}},
        "x[2]": {"x": [1.0, 2.0, float("inf")]},
        "x": {"x": {"\ud801": 1}},
    }
    for path, document in cases.items():
        problem = unstorable(document)
        assert problem is not None, path
        assert problem.path == path
    nested: list[object] = []
    deepest = nested
    for _ in range(MAX_DEPTH):
        deepest.append([])
        deepest = deepest[0]  # type: ignore[assignment]
    assert unstorable({"ok": 1, "deep": nested}) is not None
    assert unstorable([[[]]], max_depth=3) is None
