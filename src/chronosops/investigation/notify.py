"""Telling people: incident events become notification deliveries, sent by jobs.

`Notifier.emit` runs inside the transaction of the event it reports (the incident stored, its
analysis stored, its lifecycle moved): it stores one delivery per receiver the rules name and a
``notify`` job for each, so a notification is as durable as the event and never delays it — a
failing receiver fails only its own job, which is retried with backoff (``CHRONOSOPS_JOB_*``).
Silenced incidents are never notified.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.metrics import OperatorMetrics
from chronosops.core.timestamps import format_instant
from chronosops.incidents import IncidentRead
from chronosops.jobs import JobRead, JobService
from chronosops.notifications import DeliveryFailedError, EventName, NotificationService
from chronosops.reasoning import AnalysisRead
from chronosops.storage import Database

log = structlog.get_logger(__name__)

NOTIFY_JOB = "notify"


def _analysis_facts(analysis: AnalysisRead) -> dict[str, Any]:
    result = analysis.result
    actions = [
        action.get("title", "") if isinstance(action, dict) else str(action)
        for action in result.get("recommendedActions", result.get("recommended_actions", []))
    ]
    return {
        "analysisId": analysis.analysis_id,
        "topHypothesisId": analysis.top_hypothesis_id,
        "overallConfidence": analysis.overall_confidence,
        "inconclusive": analysis.inconclusive,
        "culpritService": analysis.culprit_service,
        "summary": str(result.get("summary", ""))[:1000],
        "topActions": [action for action in actions if action][:3],
    }


class Notifier:
    def __init__(
        self,
        *,
        database: Database,
        notifications: NotificationService,
        jobs: JobService,
        public_url: str,
        metrics: OperatorMetrics,
    ) -> None:
        self.database = database
        self.notifications = notifications
        self.jobs = jobs
        self.public_url = public_url.rstrip("/")
        self.metrics = metrics

    @property
    def has_rules(self) -> bool:
        """Whether any event can be notified: without rules `emit` does nothing, and its caller
        need not build the incident's read model for it."""
        return bool(self.notifications.config.rules)

    async def emit(
        self,
        session: AsyncSession,
        event: EventName,
        incident: IncidentRead,
        *,
        by: str,
        analysis: AnalysisRead | None = None,
        lifecycle: dict[str, Any] | None = None,
        investigation: dict[str, Any] | None = None,
    ) -> int:
        """Store and enqueue the deliveries this event calls for; how many."""
        if incident.silence_id is not None or not self.notifications.config.rules:
            return 0
        message: dict[str, Any] = {
            "event": event,
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "severity": incident.severity,
                "service": incident.metadata.service,
                "environment": incident.metadata.environment,
                "sourceType": incident.source_type,
                "sourceRef": incident.source_ref,
                "status": incident.status,
                "lifecycle": incident.lifecycle.state,
                "assignee": incident.assignee,
                "start": format_instant(incident.timeline.start),
            },
            "url": f"{self.public_url}/incidents/{incident.id}",
        }
        if analysis is not None:
            message["analysis"] = _analysis_facts(analysis)
        if lifecycle is not None:
            message["lifecycle"] = lifecycle
        if investigation is not None:
            message["investigation"] = investigation
        planned = await self.notifications.plan(
            session,
            event,
            incident_id=incident.id,
            message=message,
            severity=incident.severity,
            service=incident.metadata.service,
            environment=incident.metadata.environment,
        )
        for delivery in planned:
            await self.jobs.enqueue(
                session,
                kind=NOTIFY_JOB,
                incident_id=incident.id,
                payload={"deliveryId": delivery.id},
                by=by,
            )
        return len(planned)

    async def run(self, job: JobRead) -> None:
        """Send one delivery (the job's); raise when the receiver did not take it."""
        delivery_id = str(job.payload.get("deliveryId", ""))
        async with self.database.unit_of_work(write=False) as session:
            delivery = await self.notifications.get(session, delivery_id)
        if delivery is None or delivery.state == "sent":
            async with self.database.unit_of_work() as session:
                await self.jobs.succeed(session, job.id)
            return
        try:
            status_code = await self.notifications.send(delivery)
        except DeliveryFailedError as error:
            final = job.attempts >= job.max_attempts
            self.metrics.delivered(delivery.receiver, "gave_up" if final else "retrying")
            async with self.database.unit_of_work() as session:
                await self.notifications.record_attempt(
                    session,
                    delivery.id,
                    state="failed" if final else "pending",
                    status_code=error.status_code,
                    error=str(error),
                )
            log.warning(
                "notification.failed", receiver=delivery.receiver, attempt=job.attempts, final=final
            )
            raise
        self.metrics.delivered(delivery.receiver, "sent")
        async with self.database.unit_of_work() as session:
            await self.notifications.record_attempt(
                session, delivery.id, state="sent", status_code=status_code, error=None
            )
            await self.jobs.succeed(session, job.id)
