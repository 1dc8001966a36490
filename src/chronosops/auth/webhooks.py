"""Who may post to ``/v1/webhooks/{source}``: the vendor holding the source's secret or token.

Each source declares what its vendor can send (`sources.WebhookAuth`); the secret and token
come from settings (``CHRONOSOPS_WEBHOOK_<SOURCE>_SECRET`` / ``_TOKEN``). A source with
neither is switched off: its webhook answers 404 with the setting to set, never "open".

- Signature (PagerDuty V3): ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]``, the HMAC-SHA256
  of the raw body keyed with the secret. During a rotation PagerDuty signs with both secrets;
  one matching ``v1`` value is enough. A present but wrong signature is refused outright.
- Token: ``Authorization: Bearer <token>``, or basic auth with the token as the password (as
  the user name when the password is empty, for ``https://<token>@host`` URLs); ``?token=``
  only where the vendor can set no header (Google Cloud Monitoring); a body field only where
  the vendor protocol carries its key in the body (PagerDuty Events API ``routing_key``).

Every comparison is `hmac.compare_digest` over bytes, so timing says nothing about a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any, Literal

from chronosops.auth.principals import Principal, Role
from chronosops.config import WebhookSettings, webhook_setting
from chronosops.core.errors import AuthenticationError, DisabledError
from chronosops.sources import Source

Method = Literal["signature", "bearer", "basic", "query", "body"]
SIGNATURE_VERSION = "v1"
# PagerDuty sends at most a couple of signatures; more is not a rotation but an attempt.
_MAX_SIGNATURES = 8


class WebhookDisabledError(DisabledError):
    code = "webhook-disabled"

    def __init__(self, source: Source) -> None:
        settings = [webhook_setting(source.kind, "TOKEN")]
        if source.auth.uses_secret:
            settings.insert(0, webhook_setting(source.kind, "SECRET"))
        super().__init__(
            f"Webhooks from {source.title} are switched off: set {' or '.join(settings)} to "
            f"accept them (docs/sources.md#{source.kind})"
        )


def webhook_principal(kind: str) -> Principal:
    """The identity a verified delivery acts as: it may ingest, nothing else."""
    return Principal(subject=f"webhook:{kind}", roles=frozenset({Role.ANALYST}), issuer="webhook")


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())


def signature(secret: str, raw_body: bytes) -> str:
    """The ``v1=`` value PagerDuty sends for ``raw_body`` signed with ``secret``."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def _signature_matches(secret: str, raw_body: bytes, header: str) -> bool:
    expected = signature(secret, raw_body)
    presented = [part.strip() for part in header.split(",")][:_MAX_SIGNATURES]
    # Compare every candidate (no early exit), so the time taken does not tell which matched.
    matches = [_same(candidate, expected) for candidate in presented]
    return any(matches)


def _basic_credential(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    if colon and password:
        return password
    return user or None


class WebhookVerifier:
    def __init__(self, settings: WebhookSettings) -> None:
        self.secrets = dict(settings.secrets)
        self.tokens = dict(settings.tokens)

    def is_enabled(self, source: Source) -> bool:
        has_secret = source.auth.uses_secret and source.kind in self.secrets
        return has_secret or source.kind in self.tokens

    def methods(self, source: Source) -> list[dict[str, Any]]:
        """How the source authenticates, for ``GET /v1/sources`` (never the values)."""
        found: list[dict[str, Any]] = []
        auth = source.auth
        if auth.signature_header:
            found.append(
                {
                    "type": "hmac-sha256",
                    "header": auth.signature_header,
                    "format": f"{SIGNATURE_VERSION}=<hex HMAC-SHA256 of the raw body>, comma-separated during rotation",
                    "setting": webhook_setting(source.kind, "SECRET"),
                    "configured": source.kind in self.secrets,
                }
            )
        if auth.token:
            where = ["Authorization: Bearer <token>", "basic auth password"]
            if auth.query_token:
                where.append("?token=<token>")
            if auth.body_token_field:
                where.append(f"JSON field {auth.body_token_field}")
            found.append(
                {
                    "type": "token",
                    "accepted": where,
                    "setting": webhook_setting(source.kind, "TOKEN"),
                    "configured": source.kind in self.tokens,
                }
            )
        return found

    def verify(
        self,
        source: Source,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        raw_body: bytes,
        body: Callable[[], Any],
    ) -> Method:
        """Return how the delivery proved itself, or raise (404 when switched off, else 401).

        ``body`` parses the JSON body; it is called only for sources that carry a key in it.
        """
        if not self.is_enabled(source):
            raise WebhookDisabledError(source)
        auth = source.auth
        secret = self.secrets.get(source.kind) if auth.uses_secret else None
        if secret is not None and auth.signature_header:
            header = headers.get(auth.signature_header)
            if header is not None:
                if _signature_matches(secret, raw_body, header):
                    return "signature"
                raise AuthenticationError(
                    f"{auth.signature_header} does not match the body: check "
                    f"{webhook_setting(source.kind, 'SECRET')}"
                )
        token = self.tokens.get(source.kind)
        if token is not None:
            presented = self._presented(headers, query if auth.query_token else {})
            if presented is not None:
                method, value = presented
                if _same(value, token):
                    return method
                raise AuthenticationError(
                    f"The token does not match {webhook_setting(source.kind, 'TOKEN')}"
                )
            if auth.body_token_field:
                parsed = body()
                in_body = parsed.get(auth.body_token_field) if isinstance(parsed, Mapping) else None
                if isinstance(in_body, str):
                    if _same(in_body, token):
                        return "body"
                    raise AuthenticationError(
                        f"{auth.body_token_field} does not match "
                        f"{webhook_setting(source.kind, 'TOKEN')}"
                    )
        raise AuthenticationError(self._expected(source, has_secret=secret is not None))

    @staticmethod
    def _presented(
        headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[Method, str] | None:
        header = headers.get("authorization")
        if header:
            scheme, _, value = header.strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return "bearer", value.strip()
            if scheme.lower() == "basic":
                credential = _basic_credential(value)
                if credential is not None:
                    return "basic", credential
            raise AuthenticationError(
                "The Authorization header must be 'Bearer <token>' or basic auth with the "
                "token as password"
            )
        token = query.get("token")
        if token:
            return "query", token
        return None

    def _expected(self, source: Source, *, has_secret: bool) -> str:
        ways = []
        if has_secret and source.auth.signature_header:
            ways.append(f"a {source.auth.signature_header} header")
        if source.kind in self.tokens:
            ways.append("the source token (Authorization: Bearer, or basic auth)")
            if source.auth.query_token:
                ways.append("?token=")
            if source.auth.body_token_field:
                ways.append(f"the token as {source.auth.body_token_field}")
        return f"No credentials for the {source.title} webhook: send {' or '.join(ways)}"
