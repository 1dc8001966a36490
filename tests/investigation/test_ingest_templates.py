"""On PostgreSQL an ingest (or a job) mines its log lines against this process's copy of the
remembered templates, and its transaction reads them again: when another process changed them
meanwhile, nothing of that attempt is kept and the ingest is made again against what is
remembered now."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit.tables import AuditEvent
from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.artifacts import LogTemplate
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.evidence.repository import EvidenceRepository
from chronosops.incidents.tables import Incident
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import example
from tests.fixtures.psycopg_sends import record_sends

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL (PostgreSQL)"
)

SERVICE = "database-service"


def example_2(ref: str) -> IngestIncidentRequest:
    return IngestIncidentRequest.model_validate(
        {**example("example_2_with_evidence"), "sourceRef": ref}
    )


# An incident stored and analysed once: no event of a rolled-back attempt in its chain.
STORED_ONCE = [
    "INCIDENT_CREATED",
    "EVIDENCE_BUNDLE_CREATED",
    "ANALYSIS_CREATED",
    "POSTMORTEM_CREATED",
]


async def _audit_event_types(session: AsyncSession, incident_id: str) -> list[str]:
    """The incident's audit events in chain order."""
    return [
        str(e)
        for e in await session.scalars(
            select(AuditEvent.event_type)
            .where(AuditEvent.incident_id == incident_id)
            .order_by(AuditEvent.seq)
        )
    ]


async def _templates_of_bundle(services: Services, bundle_id: str) -> list[str]:
    async with services.database.unit_of_work(write=False) as session:
        draft = await services.evidence.draft(session, bundle_id)
    return [a.template for a in draft.artifacts if isinstance(a, LogTemplate)]


async def _remembered_elsewhere(services: Services, templates: list[str]) -> None:
    """What another process's ingest would write: this process's copy does not see it."""
    async with services.database.unit_of_work() as session:
        await EvidenceRepository(session).remember_log_templates(
            SERVICE, templates, at=services.clock.now()
        )


async def test_templates_changed_by_another_process_are_the_ones_the_next_ingest_mines_against(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    assert first.response.evidence_bundle_id is not None
    assert await _templates_of_bundle(services, first.response.evidence_bundle_id) == [
        "connection pool exhausted"
    ]
    await _remembered_elsewhere(services, ["connection pool <*>"])

    sends = record_sends(monkeypatch)
    again = await services.pipeline.ingest(example_2("alert-2"), principal=SYSTEM_PRINCIPAL)

    assert again.response.status == "analyzed"
    assert again.response.evidence_bundle_id is not None
    assert await _templates_of_bundle(services, again.response.evidence_bundle_id) == [
        "connection pool <*>"
    ]
    # The attempt mined against the copy rolled back before writing anything but its
    # incident; the next one read the templates first, then wrote.
    assert [send[0].split()[0] for send in sends[:4]] == ["BEGIN", "ROLLBACK", "SELECT", "BEGIN"]
    assert sends[2] == ["SELECT log_template_state.service, log_template_state.templates"]
    async with services.database.unit_of_work(write=False) as session:
        stored = await session.scalar(
            select(func.count()).select_from(Incident).where(Incident.source_ref == "alert-2")
        )
        events = await _audit_event_types(session, again.response.incident_id)
        verified = await services.audit.verify_chain(session)
    assert stored == 1
    assert events == STORED_ONCE
    assert verified.ok


async def test_the_copy_is_kept_again_after_a_fresh_read_so_the_third_ingest_reads_nothing_first(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    await _remembered_elsewhere(services, ["connection pool <*>"])
    await services.pipeline.ingest(example_2("alert-2"), principal=SYSTEM_PRINCIPAL)

    sends = record_sends(monkeypatch)
    third = await services.pipeline.ingest(example_2("alert-3"), principal=SYSTEM_PRINCIPAL)

    assert third.response.status == "analyzed"
    assert sends[0][0].startswith("BEGIN"), sends
    assert len(sends) == 2, sends


async def test_a_job_that_mined_against_templates_changed_elsewhere_mines_again_and_stores_once(
    services: Services,
) -> None:
    await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    queued = await services.pipeline.ingest(
        example_2("alert-2"), principal=SYSTEM_PRINCIPAL, mode="background"
    )
    assert queued.queued_job is not None
    await _remembered_elsewhere(services, ["connection pool <*>"])

    result = await services.runner.run(queued.queued_job)

    assert result is not None
    assert result.state == "succeeded"
    async with services.database.unit_of_work(write=False) as session:
        incident = await services.incidents.get(session, queued.response.incident_id)
        job = await services.jobs.get(session, queued.queued_job)
        events = await _audit_event_types(session, incident.id)
        verified = await services.audit.verify_chain(session)
    assert incident.status == "analyzed"
    assert incident.latest_bundle_id is not None
    assert await _templates_of_bundle(services, incident.latest_bundle_id) == [
        "connection pool <*>"
    ]
    # The attempt against the stale copy rolled back whole: one attempt, one analysis.
    assert job.attempts == 1
    assert events == STORED_ONCE
    assert verified.ok
