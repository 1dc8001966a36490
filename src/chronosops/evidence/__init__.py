"""Evidence: artifacts from evidenceLite (and collectors), sealed into content-addressed bundles."""

from chronosops.evidence.bundle import HASH_INPUT_VERSION, BundleDraft, CollectionNote, artifacts_of
from chronosops.evidence.collection import (
    DEFAULT_ITEM_CAPS,
    CollectionPolicy,
    CollectionResult,
    CollectorRunner,
)
from chronosops.evidence.errors import BundleNotFoundError, BundleTamperedError
from chronosops.evidence.schemas import BundleRead, IncidentBundleRead, StoredBundle
from chronosops.evidence.service import EvidenceService
from chronosops.evidence.template_memory import StaleTemplatesError, TemplateCheck

__all__ = [
    "DEFAULT_ITEM_CAPS",
    "HASH_INPUT_VERSION",
    "BundleDraft",
    "BundleNotFoundError",
    "BundleRead",
    "BundleTamperedError",
    "CollectionNote",
    "CollectionPolicy",
    "CollectionResult",
    "CollectorRunner",
    "EvidenceService",
    "IncidentBundleRead",
    "StaleTemplatesError",
    "StoredBundle",
    "TemplateCheck",
    "artifacts_of",
]
