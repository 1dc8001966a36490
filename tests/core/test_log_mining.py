"""Masking turns values into placeholders in linear time; Drain groups what masking leaves."""

from __future__ import annotations

import random
import time

import pytest

from chronosops.core import log_mining
from chronosops.core.log_mining import (
    LINE_MAX,
    TemplateMiner,
    WordMasks,
    mask,
    mine,
    remembered,
    template_id,
)


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("GET https://api.example.com/v1/orders?id=7 failed", "get <url> failed"),
        ("mail to ops@example.com bounced", "mail to <email> bounced"),
        ("at 2024-01-15T10:00:05.123Z it broke", "at <time> it broke"),
        ("user 123e4567-e89b-12d3-a456-426614174000 left", "user <uuid> left"),
        ("calling 10.0.0.7:8080 and fe80:0:0:0:200:f8ff:fe21:67cf", "calling <ip> and <ip>"),
        ("span 4bf92f3577b34da6 done", "span <hex> done"),
        ("handle 0xDEADbeef freed", "handle <hex> freed"),
        ("cannot open /var/log/app/out.log", "cannot open <path>"),
        ("bearer abcdefghijklmnopqrstuvwxyz0123 expired", "bearer <token> expired"),
        ("pool \"db-7\" and '10:30' kept", "pool <quoted> and <quoted> kept"),
        ("took 2.5s, 300ms, retry 3 of core.2275", "took <num>, <num>, retry <num> of core.<num>"),
    ],
)
def test_values_become_placeholders(message: str, masked: str) -> None:
    assert mask(message) == masked


def test_words_stay_and_a_lone_route_stays() -> None:
    assert mask("Slow request: POST /payments took 2300ms") == (
        "slow request: post /payments took <num>"
    )
    assert mask("location icon should now be in state 'Active'") == (
        "location icon should now be in state 'active'"
    )


@pytest.mark.parametrize(
    "line",
    [
        "a" * 2**20,
        "a@" * 2**19,
        "1." * 2**19,
        "/a" * 2**19,
        '"' + "a" * (2**20 - 1),
        "0x" + "f" * (2**20 - 2),
        "-".join(["12345678"] * 2**17),
        "mon jan 1 " * 2**17,
    ],
    ids=["letters", "at-signs", "dotted-digits", "slashes", "open-quote", "hex", "dashes", "dates"],
)
def test_a_one_mebibyte_adversarial_line_templates_in_under_a_second(line: str) -> None:
    started = time.perf_counter()
    template = mine([line])[0]
    assert time.perf_counter() - started < 1.0
    assert len(template) <= LINE_MAX


def test_lines_that_differ_in_a_word_drain_into_one_template() -> None:
    templates = mine(
        [
            "login accepted for user alice from 10.0.0.1",
            "login accepted for user bob from 10.0.0.2",
            "login accepted for user carol from 10.0.0.3",
            "login accepted for user dave from 10.0.0.4",
            "disk full on /dev/sda1",
        ]
    )
    assert templates[:4] == ["login accepted for user <*> from <ip>"] * 4
    assert templates[4] == "disk full on <path>"


def test_a_few_plain_words_at_one_place_keep_their_own_templates() -> None:
    messages = [
        f"[instance: {n}] VM {state} (Lifecycle Event)"
        for n in range(3)
        for state in ("Started", "Paused")
    ]
    templates = mine(messages)
    assert set(templates) == {
        "[instance: <num>] vm started (lifecycle event)",
        "[instance: <num>] vm paused (lifecycle event)",
    }


def test_identical_messages_reach_drain_once() -> None:
    miner = TemplateMiner()
    texts = [f"job done by worker {name} in <num>" for name in ("a1", "b2", "c3", "d4")]
    final = miner.templates_of([texts[0], *texts])
    assert set(final) == set(texts)
    assert set(final.values()) == {"job done by worker <*> in <num>"}
    assert miner.templates() == ["job done by worker <*> in <num>"]


def test_known_templates_keep_their_text_for_lines_that_fit_them() -> None:
    known = ["payment <*> declined by gateway <num>"]
    assert mine(["payment 42 declined by gateway 7"], known=known) == [known[0]]


def test_template_ids_depend_on_the_service_and_the_text_only() -> None:
    assert template_id("checkout", "a <num>") == template_id("checkout", "a <num>")
    assert template_id("checkout", "a <num>") != template_id("payments", "a <num>")
    assert len(template_id(None, "a <num>")) == 16


def test_ten_thousand_lines_of_a_few_shapes_mine_fast_because_each_shape_is_mined_once() -> None:
    shapes = [f"job finished by worker {w} in {{}} ms, status ok" for w in "abcdefghij"]
    lines = [shapes[i % len(shapes)].format(i % 97) for i in range(10_000)]
    started = time.perf_counter()
    templates = mine(lines)
    assert time.perf_counter() - started < 2.0  # about 0.1 s on a loaded 2-core machine
    assert set(templates) == {"job finished by worker <*> in <num> ms, status ok"}


def test_a_service_remembers_its_known_templates_then_the_new_ones_up_to_a_limit() -> None:
    assert remembered(["a", "b"], ["b", "c"]) == ["a", "b", "c"]
    assert remembered(["a", "b"], ["c", "d"], limit=3) == ["b", "c", "d"]


def _every_mask_everywhere(message: str) -> str:
    """Masking without its gates: every pattern run on every line, in order; except that, as
    ever, a line without an ASCII digit is not read for numbers (a digit of another script,
    which ``\\d`` also matches, does not make one)."""
    text = message[:LINE_MAX].lower()
    ascii_digit = any("0" <= char <= "9" for char in text)
    for placeholder, needs, pattern in log_mining._MASKS:
        if "0" in needs and not ascii_digit:
            continue
        text = pattern.sub(placeholder, text)
    return " ".join(text.split())


def test_the_gates_skip_only_masks_that_could_not_have_matched() -> None:
    # Needs and hints are a speed-up: a line masks the same as with every pattern run on it.
    # Lines are pieces that each mask matches or nearly matches, joined at random.
    pieces = [
        "http://a.b/c",
        "x@y.io",
        "/var/log/a.b",
        "c:\\tmp\\x",
        "2024-01-15T10:00:05Z",
        "Fri Jun 17 07:07:00 2005",
        "Jun 3",
        "123e4567-e89b-12d3-a456-426614174000",
        "10.0.0.7:8080",
        "fe80::1:2",
        "0xBEEF",
        "4bf92f3577b34da6",
        "deadbeef",
        "abcdefghijklmnopqrstuvwxyz0123",
        '"db-7"',
        "'10:30'",
        "2.5s",
        "-3",
        "+5",
        "core.2275",
        "blk_-1608",
        "may",
        "Mar",
        "a",
        "->",
        ":",
        "=",
        "/",
        "-",
        ".",
        "'",
        '"',
        "é",
        "٣",
    ]
    rng = random.Random(11)
    for _ in range(3000):
        parts = [rng.choice(pieces) for _ in range(rng.randint(1, 8))]
        line = "".join(rng.choice(["", " ", "=", ":", "/", "-", ".", ","]) + p for p in parts)
        assert mask(line) == _every_mask_everywhere(line), line


_TIME_PIECES = [
    "2024-01-15 10:00:05",
    "2024-01-15t10:00",
    "Fri Jun 17 07:07:00 2005",
    "Jun  3",
    "jun. 3, 2005",
    "Mon, Jan 2",
    "sunday march 12 10:30",
    "dec 31 23:59:59.123",
    "mar",
    "summary 12",
    "friday",
    "17",
    "07:07",
    ",",
    "0x1f",
    "abc123",
    "٣",
    "ΑΣ",
    "4bf92f3577b34da6",
    "/a/b",
    '"x 1"',
    "'2:3'",
    "-7",
    "",
]


def test_a_line_masks_chunk_by_chunk_as_it_masks_whole() -> None:
    # Lines built so that times written with spaces, and near misses of them, fall across the
    # cuts between words: each distinct chunk masked once must give the line's own masking.
    rng = random.Random(4)
    masks = WordMasks()
    for _ in range(4000):
        parts = [rng.choice(_TIME_PIECES) for _ in range(rng.randint(1, 7))]
        gaps = [rng.choice([" ", " ", "  ", "   ", "\t", " \n", ""]) for _ in parts]
        line = rng.choice(["", " "]) + "".join(g + p for g, p in zip(gaps, parts, strict=True))
        assert masks.mask(line) == mask(line), line


def test_mining_masks_each_distinct_word_once() -> None:
    # 1,000 lines that differ only in a span id: two words of theirs are new to the masks each
    # time, the rest were masked with the first line.
    masks = WordMasks()
    lines = [
        f"svc#12 SpanID: {index:016x} [getRoute][route is: Route(id={index})]"
        for index in range(1000)
    ]
    assert [masks.mask(line) for line in lines] == [mask(line) for line in lines]
    assert len(masks._masked_chunks) <= 2 * len(lines) + 10
