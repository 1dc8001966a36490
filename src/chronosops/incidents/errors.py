from __future__ import annotations

from chronosops.core.errors import ConflictError, NotFoundError, UnprocessableError


class IncidentNotFoundError(NotFoundError):
    code = "incident-not-found"

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"Incident not found: {incident_id}")


class IdempotencyKeyReusedError(UnprocessableError):
    code = "idempotency-key-reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request body; "
            "use a new key for a different request"
        )


class IdempotencyKeyInFlightError(ConflictError):
    code = "idempotency-key-in-flight"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"A request with Idempotency-Key {key!r} is still being processed; retry shortly"
        )


class DeliveryInFlightError(ConflictError):
    """A retry arrived while the first attempt of the same delivery is still being processed."""

    code = "delivery-in-flight"
    retry_after_seconds = 2

    def __init__(self, source: str) -> None:
        super().__init__(
            f"The same {source} delivery is still being processed; retry in a few seconds"
        )


class LifecycleTransitionError(ConflictError):
    """The transition does not apply in the incident's current state (e.g. acknowledge a resolved one)."""

    code = "invalid-lifecycle-transition"

    def __init__(self, incident_id: str, transition: str, state: str) -> None:
        super().__init__(
            f"Cannot {transition} incident {incident_id}: it is {state}"
            + ("; reopen it first" if state == "resolved" else "")
        )
        self.state = state
