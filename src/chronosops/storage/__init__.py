"""Persistence plumbing shared by the domain packages: metadata, column types, the unit of work."""

from chronosops.storage.base import JSONValue, TableBase, UtcDateTime, metadata
from chronosops.storage.cursors import decode_cursor, encode_cursor
from chronosops.storage.database import (
    Database,
    at_group_commit,
    before_commit,
    is_unique_violation,
)
from chronosops.storage.direct_statements import run_prepared
from chronosops.storage.failures import DatabaseUnavailableError
from chronosops.storage.inserts import (
    add_unless_taken,
    insert_each_or_ignore,
    insert_or_ignore,
    insert_row,
    insert_rows,
    insert_unless_taken,
)
from chronosops.storage.liveness import Liveness, process_name
from chronosops.storage.shared_state import SharedState

__all__ = [
    "Database",
    "DatabaseUnavailableError",
    "JSONValue",
    "Liveness",
    "SharedState",
    "TableBase",
    "UtcDateTime",
    "add_unless_taken",
    "at_group_commit",
    "before_commit",
    "decode_cursor",
    "encode_cursor",
    "insert_each_or_ignore",
    "insert_or_ignore",
    "insert_row",
    "insert_rows",
    "insert_unless_taken",
    "is_unique_violation",
    "metadata",
    "process_name",
    "run_prepared",
]
