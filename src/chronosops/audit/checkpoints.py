"""Signing the audit chain's head, so truncation and wholesale rewrites become visible.

Hashes alone prove only that the chain is consistent with itself: whoever can write the
database can delete its last events, or rewrite an event and recompute every later hash, and
the result verifies. A checkpoint records the head (seq and hash) with an HMAC whose key lives
outside the database, so neither change can produce a checkpoint that still matches.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from chronosops.core.canonical import canonical_json
from chronosops.core.timestamps import format_instant


@dataclass(frozen=True)
class CheckpointPolicy:
    """The signing key and how often appends write a checkpoint on their own."""

    key: bytes
    # Every event whose seq is a multiple of this gets a checkpoint (0: only on demand or by time).
    every_events: int = 100
    # An append also writes one when the last this process wrote is older than this (None: never).
    interval: timedelta | None = timedelta(minutes=60)

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key without revealing it."""
        return hashlib.sha256(b"chronosops-audit-checkpoint-key:" + self.key).hexdigest()[:16]

    def sign_head(self, *, chain_id: str, seq: int, digest: str, created_at: datetime) -> str:
        return self._sign(
            {
                "kind": "chain",
                "chainId": chain_id,
                "seq": seq,
                "hash": digest,
                "createdAt": format_instant(created_at),
            }
        )

    def sign_incident_head(
        self,
        *,
        chain_id: str,
        checkpoint_seq: int,
        incident_id: str,
        incident_seq: int,
        digest: str,
    ) -> str:
        return self._sign(
            {
                "kind": "incident",
                "chainId": chain_id,
                "checkpointSeq": checkpoint_seq,
                "incidentId": incident_id,
                "incidentSeq": incident_seq,
                "hash": digest,
            }
        )

    def _sign(self, fields: dict[str, object]) -> str:
        return hmac.new(self.key, canonical_json(fields), hashlib.sha256).hexdigest()


def same_signature(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
