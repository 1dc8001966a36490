from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from chronosops.core.aggregation import TEMPLATE_MAX, log_template
from chronosops.core.redaction import (
    REDACT_INPUT_MAX,
    REDACTED,
    TRUNCATED,
    redact_keys,
    redact_text,
)


def test_sensitive_keys_are_redacted_at_any_depth() -> None:
    value = {
        "service": "checkout",
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k"},
        "items": [{"password": "hunter2", "user": "bob"}],
    }
    assert redact_keys(value) == {
        "service": "checkout",
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED},
        "items": [{"password": REDACTED, "user": "bob"}],
    }


def test_secrets_inside_log_text_are_masked() -> None:
    line = (
        "login user=bob@example.com password=hunter2 token: abc.def "
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl "
        "dsn=postgres://app:s3cret@db:5432/app key AKIAABCDEFGHIJKLMNOP"
    )
    redacted = redact_text(line)
    for secret in (
        "hunter2",
        "abc.def",
        "eyJhbGci",
        "s3cret",
        "AKIAABCDEFGHIJKLMNOP",
        "bob@example.com",
    ):
        assert secret not in redacted
    assert "login user=" in redacted


# Lines built to make a backtracking pattern retry every position of a long run: e-mail-like
# fragments without a top-level domain, runs of separators, digits and token prefixes.
ADVERSARIAL_FRAGMENTS = (
    "a@a.a",
    "a@",
    ".",
    "@",
    "1",
    "1.",
    "a.",
    "a-",
    "eyJ-",
    "xoxb-",
    "sk_live_",
    "bearer ",
    'password="',
    "://a:",
    "-----BEGIN PRIVATE KEY-----",
    "0x",
    "a/",
)
MIB = 1 << 20


def adversarial(fragment: str, size: int, *, space_every: int | None = None) -> str:
    text = fragment * (size // len(fragment) + 1)
    if space_every:
        text = " ".join(text[i : i + space_every] for i in range(0, len(text), space_every))
    return text[:size]


def elapsed(work: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    work(text)
    return time.perf_counter() - started


@pytest.mark.parametrize("fragment", ADVERSARIAL_FRAGMENTS)
def test_a_one_mebibyte_adversarial_line_is_redacted_within_a_second(fragment: str) -> None:
    for line in (adversarial(fragment, MIB), adversarial(fragment, MIB, space_every=4000)):
        assert elapsed(redact_text, line) < 1.0


@pytest.mark.parametrize("fragment", ADVERSARIAL_FRAGMENTS)
def test_every_pattern_is_linear_up_to_the_input_cap(fragment: str) -> None:
    # The whole cap goes through every pattern: quadratic backtracking over 64 KiB takes
    # seconds, a linear scan milliseconds.
    line = adversarial(fragment, REDACT_INPUT_MAX)
    assert elapsed(redact_text, line) < 0.5


def test_a_text_over_the_cap_is_cut_with_the_word_the_cut_went_through() -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    line = "x" * (REDACT_INPUT_MAX - 20) + " " + secret + " tail"
    redacted = redact_text(line)
    assert redacted.endswith(" " + TRUNCATED)
    assert "eyJ" not in redacted
    assert "tail" not in redacted
    assert len(redacted) <= REDACT_INPUT_MAX + len(TRUNCATED)


def test_an_unterminated_private_key_is_masked_to_the_end() -> None:
    text = "loaded -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n(cut)"
    assert redact_text(text) == "loaded " + REDACTED


def test_addresses_keep_being_masked_with_the_bounded_pattern() -> None:
    text = "to alice.smith+ops@mail.example.co.uk and bob@example.com, not a@b"
    assert redact_text(text) == "to [EMAIL] and [EMAIL], not a@b"


@pytest.mark.parametrize("fragment", ADVERSARIAL_FRAGMENTS)
def test_a_one_mebibyte_adversarial_line_gets_its_template_within_a_second(fragment: str) -> None:
    line = adversarial(fragment, MIB)
    assert elapsed(log_template, line) < 1.0
    assert len(log_template(line)) <= TEMPLATE_MAX
