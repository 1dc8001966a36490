"""The floor: a minimal FastAPI app doing the least an ingest must do, to compare against.

It validates the same request model, canonicalises and hashes it (RFC 8785, SHA-256) and
inserts one row into SQLite (WAL), committing before it answers — no auth, no dedup, no
evidence, no analysis, no audit. ChronosOps's ingest, measured beside it in the same run, is
reported as a fraction of this rate.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chronosops.core.canonical import content_hash
from chronosops.core.ingest_request import IngestIncidentRequest

app = FastAPI()
_connection = sqlite3.connect(os.environ.get("FLOOR_DATABASE", "floor.db"), isolation_level=None)
_connection.execute("PRAGMA journal_mode=WAL")
_connection.execute("PRAGMA synchronous=NORMAL")
_connection.execute(
    "CREATE TABLE IF NOT EXISTS incident (id TEXT PRIMARY KEY, hash TEXT, body TEXT)"
)


@app.post("/floor")
async def floor(request: Request) -> JSONResponse:
    body: Any = json.loads(await request.body())
    validated = IngestIncidentRequest.model_validate(body)
    digest = content_hash(validated.model_dump(mode="json", by_alias=True))
    incident_id = uuid.uuid4().hex
    _connection.execute(
        "INSERT INTO incident VALUES (?, ?, ?)", (incident_id, digest, json.dumps(body))
    )
    return JSONResponse({"incidentId": incident_id, "hash": digest}, status_code=201)
