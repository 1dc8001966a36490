"""Persistence plumbing shared by the domain packages: metadata, column types, the unit of work."""

from chronosops.storage.base import JSONValue, TableBase, UtcDateTime, metadata
from chronosops.storage.database import Database, is_unique_violation

__all__ = ["Database", "JSONValue", "TableBase", "UtcDateTime", "is_unique_violation", "metadata"]
