"""ChronosOps: incident ingestion, evidence bundles and root-cause analysis."""

__version__ = "0.1.0"
