"""Two API processes with CHRONOSOPS_REDIS_URL behave as one: a rate limit counts requests
to both, and a repeated delivery or Idempotency-Key is answered alike by the other process.

Real ``chronosops serve`` processes on the suite's database and the real Redis.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import jwt
import pytest

from tests.fixtures.guide import request
from tests.fixtures.processes import environment, serving
from tests.fixtures.shared_state import SharedRedis
from tests.fixtures.webhooks import TOKENS
from tests.sources.payloads import load

pytestmark = pytest.mark.slow

SECRET = "scale-4b1e9d7c2a6f3085e1d9c7b5a3f2e0d8c6b4a2"
READS_PER_MINUTE = 6


def token(*roles: str) -> str:
    claims = {
        "iss": "chronosops",
        "aud": "chronosops",
        "sub": "scale-out",
        "roles": list(roles),
        "exp": int(time.time()) + 600,
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_two_api_processes_share_limits_and_replayed_answers_through_redis(
    database_url: str, shared_redis: SharedRedis, tmp_path: Path
) -> None:
    env = environment(
        database_url,
        jwt_secret=SECRET,
        redis_url=shared_redis.url,
        redis_key_prefix=shared_redis.prefix,
        rate_limit_read=f"{READS_PER_MINUTE}/minute",
        webhook_alertmanager_token=TOKENS["alertmanager"],
    )
    viewer = {"Authorization": f"Bearer {token('CHRONOSOPS_VIEWER')}"}
    analyst = {"Authorization": f"Bearer {token('CHRONOSOPS_ANALYST')}"}
    hook = {"Authorization": f"Bearer {TOKENS['alertmanager']}"}
    with ExitStack() as stack:
        first, second = (stack.enter_context(serving(env, tmp_path)) for _ in range(2))
        http = stack.enter_context(httpx.Client(timeout=10))

        # Reads alternate between the processes: the limit counts them all.
        codes = [
            http.get(f"{(first, second)[n % 2]}/v1/incidents", headers=viewer).status_code
            for n in range(READS_PER_MINUTE + 1)
        ]
        assert codes == [200] * READS_PER_MINUTE + [429]

        delivery = load("alertmanager", "firing")
        sent = http.post(f"{first}/v1/webhooks/alertmanager", json=delivery, headers=hook)
        again = http.post(f"{second}/v1/webhooks/alertmanager", json=delivery, headers=hook)
        assert sent.status_code == 201
        assert again.status_code == sent.status_code
        assert again.json() == {**sent.json(), "replayed": True}

        keyed = {**analyst, "Idempotency-Key": "9f3c1a7e5b2d4068"}
        body = request(sourceRef="scale-out-1")
        created = http.post(f"{first}/v1/incidents/ingest", json=body, headers=keyed)
        replayed = http.post(f"{second}/v1/incidents/ingest", json=body, headers=keyed)
        assert created.status_code in (201, 202)
        assert (replayed.status_code, replayed.json()) == (created.status_code, created.json())
        assert replayed.headers["Idempotent-Replayed"] == "true"
        reused = http.post(
            f"{second}/v1/incidents/ingest", json=request(sourceRef="other"), headers=keyed
        )
        assert reused.status_code == 422

    kept = shared_redis.keys()
    assert any(key.startswith(f"{shared_redis.prefix}:limits") for key in kept)
    assert any(":delivery:alertmanager:" in key for key in kept)
    assert any(":idempotency:" in key for key in kept)
