"""The ChronosOps app plus a "framework floor" route, served for the ingest benchmark.

The floor route only reads and parses the JSON body, so comparing it with the real ingest
route in the same run shows what ChronosOps adds on top of FastAPI + uvicorn.
"""

from __future__ import annotations

import argparse
import json
import secrets
from typing import Any

import uvicorn
from fastapi import Request

from chronosops import migrations
from chronosops.bootstrap import build_services, configure_logging
from chronosops.config import Settings
from chronosops.web.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--secret", default=secrets.token_hex(32))
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url,
        jwt_secret=args.secret,
        rate_limit_enabled=False,
        log_level="WARNING",
    )
    migrations.upgrade(settings.database_url)
    configure_logging(settings)
    app = create_app(build_services(settings), owns_services=True)

    @app.post("/bench/floor")
    async def floor(request: Request) -> dict[str, Any]:
        body = json.loads(await request.body())
        return {"ok": isinstance(body, dict)}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
