"""Principals, roles and the verification of whoever calls: bearer tokens, webhook deliveries,
console sessions, one-time sign-in links and OIDC sign-in."""

from chronosops.auth.oidc_login import (
    LoginStart,
    OidcLogin,
    PendingLogin,
    ProviderMetadata,
    code_challenge,
)
from chronosops.auth.principals import (
    ADMIN_ROLES,
    READ_ROLES,
    SYSTEM_PRINCIPAL,
    WRITE_ROLES,
    Principal,
    Role,
    parse_role,
    roles_from_claims,
)
from chronosops.auth.rate_limits import LimitGroup, RateLimiter
from chronosops.auth.sessions import ConsoleSession, SessionCodec, derive_session_key
from chronosops.auth.sign_in_links import IssuedLink, SignInLinks
from chronosops.auth.sign_outs import SignOuts
from chronosops.auth.tokens import JwksCache, LocalTokenIssuer, TokenVerifier
from chronosops.auth.webhooks import (
    WebhookDisabledError,
    WebhookVerifier,
    signature,
    webhook_principal,
)

__all__ = [
    "ADMIN_ROLES",
    "READ_ROLES",
    "SYSTEM_PRINCIPAL",
    "WRITE_ROLES",
    "ConsoleSession",
    "IssuedLink",
    "JwksCache",
    "LimitGroup",
    "LocalTokenIssuer",
    "LoginStart",
    "OidcLogin",
    "PendingLogin",
    "Principal",
    "ProviderMetadata",
    "RateLimiter",
    "Role",
    "SessionCodec",
    "SignInLinks",
    "SignOuts",
    "TokenVerifier",
    "WebhookDisabledError",
    "WebhookVerifier",
    "code_challenge",
    "derive_session_key",
    "parse_role",
    "roles_from_claims",
    "signature",
    "webhook_principal",
]
