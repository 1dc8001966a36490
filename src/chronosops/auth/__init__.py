"""Principals, roles and the verification of whoever calls: bearer tokens (and, later, webhooks)."""

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
    "parse_role",
    "roles_from_claims",
]
