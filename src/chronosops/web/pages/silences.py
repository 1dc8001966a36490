"""Silences (maintenance windows): the live and past ones, a form to add one, expire buttons.

The same validation and use case as ``POST /v1/silences``; a form that breaks a rule comes
back with the rules it broke, by field, and nothing is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.core.ingest_request import SOURCE_TYPES
from chronosops.core.timestamps import format_instant, parse_instant
from chronosops.web.api.silences import validate_silence
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.rendering import PageUser, render
from chronosops.web.pages.session import AnalystAction, CheckedForm, PageRoute, ViewerPage

router = APIRouter(route_class=PageRoute)

MAX_HOURS = 24 * 30


async def _page(
    request: Request,
    services: ServicesDep,
    user: PageUser,
    *,
    form: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
    notice: str | None = None,
) -> Response:
    async with services.database.unit_of_work(write=False) as session:
        silences = await services.silences.list(session, include_expired=True, limit=100)
    context = {
        "silences": silences,
        "sources": SOURCE_TYPES,
        "form": form or {},
        "errors": errors or [],
        "notice": notice,
    }
    return render(
        request, "silences/list.html", context, user=user, status_code=400 if errors else 200
    )


@router.get("/silences", summary="Silences")
async def silences_page(request: Request, services: ServicesDep, user: ViewerPage) -> Response:
    done = request.query_params.get("done")
    notice = {"created": "Silence created.", "expired": "Silence expired."}.get(done or "")
    return await _page(request, services, user, notice=notice)


def _labels(text: str) -> dict[str, str] | None:
    """``name=value`` pairs separated by commas or new lines."""
    labels: dict[str, str] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise InvalidInputError(
                "Invalid silence",
                [FieldError("matchers.labels", f"{part.strip()!r} is not name=value")],
            )
        labels[name.strip()] = value.strip()
    return labels or None


def _body(form: dict[str, str]) -> dict[str, Any]:
    matchers: dict[str, Any] = {
        key: form[key].strip()
        for key in ("service", "environment", "source")
        if form.get(key, "").strip()
    }
    labels = _labels(form.get("labels", ""))
    if labels:
        matchers["labels"] = labels
    body: dict[str, Any] = {"matchers": matchers, "comment": form.get("comment", "")}
    starts = form.get("startsAt", "").strip()
    if starts:
        body["startsAt"] = starts
    try:
        hours = float(form.get("hours", "") or "0")
    except ValueError:
        raise InvalidInputError(
            "Invalid silence", [FieldError("hours", "must be a number of hours")]
        ) from None
    if not 0 < hours <= MAX_HOURS:
        raise InvalidInputError(
            "Invalid silence", [FieldError("hours", f"must be more than 0 and at most {MAX_HOURS}")]
        )
    body["hours"] = hours
    return body


def _instant(text: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise InvalidInputError("Invalid silence", [FieldError("startsAt", str(exc))]) from None


@router.post("/silences", summary="Create a silence")
async def create_silence(
    request: Request, services: ServicesDep, user: AnalystAction, form: CheckedForm
) -> Response:
    now = services.clock.now()
    try:
        body = _body(form)
        hours = body.pop("hours")
        start = _instant(body["startsAt"]) if "startsAt" in body else now
        body["endsAt"] = format_instant(start + timedelta(hours=hours))
        silence = validate_silence(body, now=now)
    except InvalidInputError as error:
        return await _page(request, services, user, form=form, errors=list(error.errors))
    await services.silencing.create(silence, by=user.principal.subject)
    return RedirectResponse("/silences?done=created", status_code=303)


@router.post("/silences/{silence_id}/expire", summary="Expire a silence")
async def expire_silence(
    silence_id: str, services: ServicesDep, user: AnalystAction, _form: CheckedForm
) -> Response:
    await services.silencing.expire(silence_id, by=user.principal.subject)
    return RedirectResponse("/silences?done=expired", status_code=303)
