"""Who is calling, and what their roles let them do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Role(StrEnum):
    VIEWER = "CHRONOSOPS_VIEWER"
    ANALYST = "CHRONOSOPS_ANALYST"
    ADMIN = "CHRONOSOPS_ADMIN"


# Roles are "any of" lists, as in the guide: every route names each role that may call it.
READ_ROLES: tuple[Role, ...] = (Role.VIEWER, Role.ANALYST, Role.ADMIN)
WRITE_ROLES: tuple[Role, ...] = (Role.ANALYST, Role.ADMIN)
ADMIN_ROLES: tuple[Role, ...] = (Role.ADMIN,)

ROLE_ALIASES = {"viewer": Role.VIEWER, "analyst": Role.ANALYST, "admin": Role.ADMIN}


def parse_role(text: str) -> Role:
    """``admin``, ``ADMIN`` or ``CHRONOSOPS_ADMIN`` → `Role.ADMIN`."""
    key = text.strip().lower().removeprefix("chronosops_")
    if key not in ROLE_ALIASES:
        allowed = ", ".join(sorted(ROLE_ALIASES))
        raise ValueError(f"unknown role {text!r}; use one of {allowed}")
    return ROLE_ALIASES[key]


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    issuer: Literal["local", "oidc", "system", "webhook"]
    email: str | None = None
    name: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_any(self, roles: Iterable[str]) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def log_subject(self) -> str:
        """The subject shortened for logs: enough to correlate, not enough to identify."""
        return f"{self.subject[:8]}..." if len(self.subject) > 8 else "[REDACTED]"


SYSTEM_PRINCIPAL = Principal(
    subject="system", roles=frozenset(Role), issuer="system", name="ChronosOps"
)


def roles_from_claims(claims: Mapping[str, Any], audience: str | None) -> frozenset[str]:
    """Union of ``roles``, ``realm_access.roles`` and ``resource_access.<audience>.roles``."""
    found: list[str] = []

    def take(value: Any) -> None:
        if isinstance(value, list):
            found.extend(item for item in value if isinstance(item, str))

    take(claims.get("roles"))
    realm = claims.get("realm_access")
    if isinstance(realm, Mapping):
        take(realm.get("roles"))
    resources = claims.get("resource_access")
    if audience and isinstance(resources, Mapping):
        client = resources.get(audience)
        if isinstance(client, Mapping):
            take(client.get("roles"))
    return frozenset(role for role in found if role in {r.value for r in Role})
