"""One message's template is its masked form: values become placeholders, words stay."""

from __future__ import annotations

import pytest

from chronosops.analysis import log_template


@pytest.mark.parametrize(
    ("message", "template"),
    [
        (
            "User 123e4567-e89b-12d3-a456-426614174000 failed after 2.5s at 0xDEADbeef",
            "user <uuid> failed after <num> at <hex>",
        ),
        (
            "Token abcdefghijklmnopqrstuvwxyz0123 expired   for id 42",
            "token <token> expired for id <num>",
        ),
        ("", "<empty>"),
        ("Connection pool exhausted", "connection pool exhausted"),
        ("mail to ops@example.com bounced", "mail to <email> bounced"),
    ],
)
def test_messages_become_their_masked_templates(message: str, template: str) -> None:
    assert log_template(message) == template


def test_lines_that_differ_only_in_values_share_a_template() -> None:
    assert log_template("timeout after 3000 ms calling 10.0.0.7") == log_template(
        "timeout after 120 ms calling 10.0.0.9"
    )


def test_templates_are_capped_at_300_characters() -> None:
    assert len(log_template("word " * 1000)) == 300
