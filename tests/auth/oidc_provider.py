"""A small OpenID provider on loopback: discovery, authorize, token and JWKS endpoints.

It behaves like Keycloak where it matters to a client: it checks the client id, redirect URI,
client secret (HTTP Basic), PKCE (S256) and single use of each code, and signs ID and access
tokens with RS256. ``/authorize`` signs in ``provider.user`` at once (no login form), so a
test, or a browser, goes straight back to the client with a code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "chronosops-console"
CLIENT_SECRET = "console-secret-0123456789abcdef0123456789"
API_AUDIENCE = "chronosops-api"


@dataclass
class OpenIdProvider:
    url: str
    key: rsa.RSAPrivateKey
    redirect_uri: str = ""
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "oidc-alice",
            "name": "Alice Oncall",
            "email": "alice@example.test",
            "realm_access": {"roles": ["CHRONOSOPS_ANALYST"]},
        }
    )
    access_roles: list[str] = field(default_factory=lambda: ["CHRONOSOPS_VIEWER"])
    # Misbehaviours a test can switch on.
    wrong_nonce: bool = False
    issuer_in_discovery: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.url

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "idp-1"})

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any]]:
        self.authorize_requests.append(query)
        problems = []
        if query.get("client_id") != CLIENT_ID:
            problems.append("unknown client")
        if query.get("redirect_uri") != self.redirect_uri:
            problems.append("redirect_uri not registered")
        if query.get("response_type") != "code":
            problems.append("response_type must be code")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            problems.append("PKCE S256 required")
        if "openid" not in query.get("scope", "").split():
            problems.append("scope must include openid")
        if problems:
            return 400, {}, {"error": "invalid_request", "error_description": "; ".join(problems)}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": query["code_challenge"],
            "nonce": query.get("nonce"),
            "redirect_uri": query["redirect_uri"],
        }
        location = f"{query['redirect_uri']}?" + urlencode(
            {"code": code, "state": query.get("state", "")}
        )
        return 302, {"Location": location}, {}

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append({**form, "authorization": authorization})
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != expected:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        id_token = self._sign(
            {
                **self.user,
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "nonce": "someone-elses-nonce" if self.wrong_nonce else grant["nonce"],
            }
        )
        access_token = self._sign(
            {
                "sub": self.user["sub"],
                "iss": self.issuer,
                "aud": API_AUDIENCE,
                "iat": now,
                "exp": now + 300,
                "roles": self.access_roles,
            }
        )
        return 200, {"id_token": id_token, "access_token": access_token, "token_type": "Bearer"}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_in_discovery or self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks.json",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid="idp-1", use="sig", alg="RS256")
        return {"keys": [public]}


@contextmanager
def openid_provider() -> Iterator[OpenIdProvider]:
    provider = OpenIdProvider(
        url="", key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery(), {})
            elif parts.path == "/jwks.json":
                self._send(200, provider.jwks(), {})
            elif parts.path == "/authorize":
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, headers, body = provider.authorize(query)
                self._send(status, body, headers)
            else:
                self._send(404, {"error": "not found"}, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._send(404, {"error": "not found"}, {})
                return
            status, body = provider.token(form, self.headers.get("Authorization"))
            self._send(status, body, {})

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
