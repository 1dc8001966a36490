"""Persistence plumbing shared by the domain packages: metadata, column types, the unit of work."""

from chronosops.storage.base import JSONValue, TableBase, UtcDateTime, metadata
from chronosops.storage.database import Database, is_unique_violation
from chronosops.storage.inserts import insert_or_ignore

__all__ = [
    "Database",
    "JSONValue",
    "TableBase",
    "UtcDateTime",
    "insert_or_ignore",
    "is_unique_violation",
    "metadata",
]
