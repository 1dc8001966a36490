"""Templates, the values every page gets, and the headers every page carries.

Autoescaping is on for every template, so a value from an incident (a title, a log line, a
payload) is always text, never markup. Pages load scripts and styles only from ``/static``:
the Content-Security-Policy forbids inline scripts, inline styles and every other origin.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from chronosops import __version__
from chronosops.auth import ADMIN_ROLES, READ_ROLES, WRITE_ROLES, Principal, Role
from chronosops.bootstrap import Services
from chronosops.core.timestamps import format_instant

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    roles: tuple[Role, ...]


# The console's sections, in menu order; an item shows only to the roles that may use it.
NAV: tuple[NavItem, ...] = (
    NavItem("/incidents", "Incidents", READ_ROLES),
    NavItem("/new", "New incident", WRITE_ROLES),
    NavItem("/scenarios", "Scenarios", READ_ROLES),
    NavItem("/sources", "Sources", READ_ROLES),
    NavItem("/silences", "Silences", READ_ROLES),
    NavItem("/audit", "Audit", ADMIN_ROLES),
    NavItem("/jobs", "Jobs", ADMIN_ROLES),
)


def anchor(artifact_id: str) -> str:
    """A fragment-safe, stable HTML id for an evidence artifact (its id may hold any text)."""
    return "ev-" + hashlib.sha256(artifact_id.encode()).hexdigest()[:12]


def instant(value: datetime | None) -> str:
    if value is None:
        return "—"
    return format_instant(value).replace("T", " ").replace(".000Z", "Z").replace("Z", " UTC")


def iso(value: datetime | None) -> str:
    return format_instant(value) if value else ""


def ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{round(value * 100)}%"


def number(value: float | int | None) -> str:
    """A value as people read it on a chart: 1.2k, 3.4M, 0.042, 12.5."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= size:
            return f"{value / size:.3g}{suffix}"
    if magnitude == 0:
        return "0"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def duration_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def safe_link(url: Any) -> str | None:
    """Only http(s) links become clickable: a ``javascript:`` URL in a payload stays text."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        anchor=anchor,
        instant=instant,
        iso=iso,
        percent=percent,
        number=number,
        duration_ms=duration_ms,
        pretty_json=pretty_json,
        safe_link=safe_link,
    )
    environment.globals.update(version=__version__, static=static_url)
    return environment


def static_url(path: str) -> str:
    # The version in the query string lets browsers cache assets until the next release.
    return f"/static/{path}?v={__version__}"


ENVIRONMENT = _environment()


@dataclass(frozen=True)
class PageUser:
    """Who is looking, and the token their forms must carry."""

    principal: Principal
    csrf_token: str

    @property
    def can_write(self) -> bool:
        return self.principal.has_any(WRITE_ROLES)

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def display_name(self) -> str:
        return self.principal.name or self.principal.email or self.principal.subject

    @property
    def role_label(self) -> str:
        for role, label in ((Role.ADMIN, "Admin"), (Role.ANALYST, "Analyst")):
            if role in self.principal.roles:
                return label
        return "Viewer" if Role.VIEWER in self.principal.roles else "No role"


def render_text(template: str, context: dict[str, Any]) -> str:
    return ENVIRONMENT.get_template(template).render(context)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    user: PageUser | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    services: Services = request.app.state.services
    nav = [item for item in NAV if user is not None and user.principal.has_any(item.roles)]
    full_context = {
        "request_path": request.url.path,
        "user": user,
        "nav": nav,
        "now": services.clock.now(),
        "ago": ago,
        **context,
    }
    body = render_text(template, full_context)
    return HTMLResponse(body, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})
