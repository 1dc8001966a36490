"""A real identity-provider stand-in: an HTTP server on loopback publishing a JWKS.

It signs tokens with RSA (RS256) and EC (ES256) keys and serves their public halves, so OIDC
verification runs its real path: header → kid → JWKS fetch over HTTP → signature → claims.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.test/realms/chronosops"
AUDIENCE = "chronosops-api"


@dataclass
class IdentityProvider:
    url: str
    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    requests: list[str] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    def token(
        self,
        *,
        alg: str = "RS256",
        sub: str = "oidc-user",
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        expires_in: int = 300,
        not_before_in: int = 0,
        extra: dict[str, Any] | None = None,
        kid: str | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": sub,
            "iat": now,
            "nbf": now + not_before_in,
            "exp": now + expires_in,
            **(extra or {}),
        }
        key = self.rsa_key if alg == "RS256" else self.ec_key
        default_kid = "rsa-1" if alg == "RS256" else "ec-1"
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid or default_kid})


def _jwks(provider: IdentityProvider) -> dict[str, Any]:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.rsa_key.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(provider.ec_key.public_key()))
    rsa_jwk.update(kid="rsa-1", use="sig", alg="RS256")
    ec_jwk.update(kid="ec-1", use="sig", alg="ES256")
    return {"keys": [rsa_jwk, ec_jwk]}


@contextmanager
def identity_provider() -> Iterator[IdentityProvider]:
    provider = IdentityProvider(
        url="",
        rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec_key=ec.generate_private_key(ec.SECP256R1()),
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests.append(self.path)
            body = json.dumps(_jwks(provider)).encode()
            self.send_response(200 if self.path == "/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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
