"""The rate limits' store: one it cannot count in stops the start with the setting named."""

from __future__ import annotations

import pytest

from chronosops.auth.rate_limits import RateLimiter
from chronosops.config import ConfigurationError, LimitSettings


@pytest.mark.parametrize("url", ["notaurl", "foo://chronosops:hunter2@cache:1"])
def test_a_storage_url_the_limits_cannot_use_is_a_configuration_error_without_its_password(
    url: str,
) -> None:
    settings = LimitSettings(enabled=True, ingest="600/minute", read="1200/minute", storage_url=url)
    with pytest.raises(ConfigurationError, match="CHRONOSOPS_RATE_LIMIT_STORAGE_URL") as refused:
        RateLimiter(settings)
    assert "hunter2" not in refused.value.message
    assert "memory://" in refused.value.message


def test_the_memory_store_is_accepted() -> None:
    settings = LimitSettings(
        enabled=True, ingest="600/minute", read="1200/minute", storage_url="memory://"
    )
    RateLimiter(settings)
