"""Gathering an incident's evidence: the caller's evidenceLite, a demo scenario, the backends.

One place decides where evidence comes from, so every door (ingest, analyze, reanalysis)
gets the same rules:

- ``evidenceLite`` in the request is always used;
- without it (or with ``forceCollect``), a ``SCENARIO`` incident whose ``sourceRef`` names a
  scenario gets that scenario's synthetic telemetry, and nothing from real backends (a demo
  incident must not be mixed with production data);
- any other incident gets what the configured collectors find in its window.

Everything found is merged into one list of artifacts (ids are unique: the first source to
claim an id keeps it), and every source leaves a `CollectionNote` saying what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chronosops.core.artifacts import Artifact
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionNote, EvidenceService
from chronosops.incidents import IncidentRead
from chronosops.scenarios import (
    GenerationOptions as ScenarioOptions,
)
from chronosops.scenarios import (
    generate,
    options_from_fields,
    scenario_id_of,
)

SCENARIO_SOURCE_TYPE = "SCENARIO"


@dataclass
class Gathered:
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[CollectionNote] = field(default_factory=list)

    def add(self, artifacts: list[Artifact], note: CollectionNote) -> None:
        """Merge ``artifacts``; an id already present keeps its first artifact."""
        seen = {artifact.artifact_id for artifact in self.artifacts}
        fresh = [a for a in artifacts if a.artifact_id not in seen]
        self.artifacts.extend(fresh)
        dropped = len(artifacts) - len(fresh)
        if dropped:
            note = CollectionNote(
                source=note.source,
                status=note.status,
                detail=f"{note.detail}; {dropped} duplicate artifact id(s) kept from an earlier source",
                items=note.items,
            )
        self.notes.append(note)

    def note_texts(self) -> list[str]:
        return [
            f"{n.source}: {n.status} — {n.detail}"
            for n in sorted(self.notes, key=lambda n: n.source)
        ]


def scenario_options(incident: IncidentRead | IngestIncidentRequest) -> ScenarioOptions:
    """The generation options a SCENARIO incident (or request) carries in customFields."""
    if isinstance(incident, IncidentRead):
        start, end = incident.timeline.start, incident.timeline.end
        custom = incident.metadata.custom_fields or {}
        before = incident.collection_context.window_minutes_before
        after = incident.collection_context.window_minutes_after
    else:
        start, end = incident.timeline.start, incident.timeline.end
        custom = (incident.metadata.custom_fields if incident.metadata else None) or {}
        before = incident.collection.window_minutes_before
        after = incident.collection.window_minutes_after
    # Without an end the incident window closes ``after`` minutes past the start; so must the
    # telemetry, so the generator is told the incident ended where it began.
    return options_from_fields(
        custom.get("scenario"),
        start=start,
        end=end or start,
        minutes_before=before,
        minutes_after=after,
    )


class EvidenceGatherer:
    def __init__(self, *, evidence: EvidenceService, scenarios_enabled: bool) -> None:
        self.evidence = evidence
        self.scenarios_enabled = scenarios_enabled

    def check(self, request: IngestIncidentRequest) -> None:
        """Refuse, before anything is stored, a request whose evidence could never be gathered."""
        if self.scenarios_enabled and self._names_scenario(request.source_type, request.source_ref):
            scenario_options(request)

    @staticmethod
    def _names_scenario(source_type: str, source_ref: str) -> bool:
        return source_type == SCENARIO_SOURCE_TYPE and scenario_id_of(source_ref) is not None

    async def gather(
        self, incident: IncidentRead, request: IngestIncidentRequest, *, window: TimeWindow
    ) -> Gathered:
        gathered = Gathered()
        if request.has_evidence:
            lite = self.evidence.artifacts_from_request(request)
            gathered.add(
                lite,
                CollectionNote(
                    source="evidenceLite",
                    status="ok",
                    detail=f"{len(lite)} artifact(s) from the request's evidenceLite",
                    items=len(lite),
                ),
            )
        if request.has_evidence and not incident.collection_context.force_collect:
            return gathered
        if self._names_scenario(incident.source_type, incident.source_ref):
            self._scenario(incident, gathered)
        return gathered

    def _scenario(self, incident: IncidentRead, gathered: Gathered) -> None:
        scenario_id = scenario_id_of(incident.source_ref)
        assert scenario_id is not None
        source = f"scenario:{scenario_id}"
        if not self.scenarios_enabled:
            gathered.notes.append(
                CollectionNote(
                    source=source,
                    status="skipped",
                    detail="demo scenarios are switched off (CHRONOSOPS_SCENARIOS_ENABLED=false)",
                )
            )
            return
        options = scenario_options(incident)
        generated = generate(scenario_id, options)
        gathered.add(
            list(generated.artifacts),
            CollectionNote(
                source=source,
                status="ok",
                detail=(
                    f"synthetic evidence generated by demo scenario {scenario_id} "
                    f"(seed {options.seed}, variant {options.variant}); not observed in any "
                    "real system"
                ),
                items=len(generated.artifacts),
            ),
        )
        gathered.notes.append(
            CollectionNote(
                source="collectors",
                status="skipped",
                detail="a demo scenario incident: real backends are not queried",
            )
        )
