from __future__ import annotations

from chronosops.core.redaction import REDACTED, redact_keys, redact_text


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
