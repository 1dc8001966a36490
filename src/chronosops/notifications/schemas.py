from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from chronosops.core.ingest_request import Severity
from chronosops.core.timestamps import Instant

EventName = Literal[
    "incident.created",
    "analysis.completed",
    "analysis.top_changed",
    "investigation.finished",
    "lifecycle.changed",
]
ReceiverType = Literal["slack", "teams", "webhook"]
DeliveryState = Literal["pending", "sent", "failed"]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class Receiver(BaseModel):
    """Where messages go: a Slack incoming webhook, a Teams workflow webhook, or any URL
    (signed with ``secret``, HMAC-SHA256)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    type: ReceiverType
    url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2048)]
    secret: str | None = Field(default=None, min_length=16, repr=False)

    @model_validator(mode="after")
    def _signed_webhooks(self) -> Receiver:
        if self.type == "webhook" and not self.secret:
            raise ValueError(f"receiver {self.name}: a webhook receiver needs a secret (16+ chars)")
        return self


class Rule(BaseModel):
    """Which events go to which receivers; an empty filter list means any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    receivers: list[Name] = Field(min_length=1)
    events: list[EventName] = Field(min_length=1)
    severities: list[Severity] = []
    services: list[str] = []
    environments: list[str] = []


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    receivers: list[Receiver] = []
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _known_receivers(self) -> NotificationsConfig:
        names = [receiver.name for receiver in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        for index, rule in enumerate(self.rules):
            unknown = sorted(set(rule.receivers) - set(names))
            if unknown:
                raise ValueError(f"rules[{index}] names unknown receivers: {', '.join(unknown)}")
        return self

    def receiver(self, name: str) -> Receiver | None:
        return next((r for r in self.receivers if r.name == name), None)


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )


class DeliveryRead(CamelModel):
    id: str
    incident_id: str
    receiver: str
    receiver_type: str
    event: str
    state: DeliveryState
    attempts: int
    status_code: int | None
    last_error: str | None
    created_at: Instant
    sent_at: Instant | None
    message: dict[str, Any]
