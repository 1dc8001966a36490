"""Principals, roles and the verification of whoever calls: bearer tokens and webhook deliveries."""

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
    "JwksCache",
    "LimitGroup",
    "LocalTokenIssuer",
    "Principal",
    "RateLimiter",
    "Role",
    "TokenVerifier",
    "WebhookDisabledError",
    "WebhookVerifier",
    "parse_role",
    "roles_from_claims",
    "signature",
    "webhook_principal",
]
