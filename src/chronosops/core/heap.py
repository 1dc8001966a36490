"""The garbage collector's view of a long-running process.

A full collection scans every tracked object, and most of a ChronosOps process's objects are
made at start-up and live until exit: modules, pydantic schemas, SQLAlchemy's mappers and
compiled statements, the signal table, the drain3 masks. Analysing a 3 MB bundle triggers
several full collections, each paying again for all of them (90–190 ms of a 2.9 MB Nezha
analysis, measured). Moving what start-up made into the permanent generation takes them out of
those scans; they are never freed, which they would not be anyway.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect start-up's garbage, then keep what is left out of later collections; how many
    objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


# A synchronous ingest makes and drops tens of thousands of container objects, almost all freed
# by reference counting moments later. At CPython's default of 700 net allocations, the young
# generation was collected ~100 times a second under load (the middle one ~10), each time
# walking objects that would be gone anyway: over the same ~3,000 ingests, 10,000 took the young
# collections 1,116-1,373 -> 24 and the time paused in collections ~450-530 -> 110 ms
# (docs/benchmarks.md, seventh pass).
# The young generation holds at most this many objects more before a collection: a few MB.
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_long_running_heap() -> int:
    """For a server or worker process once it has started: freeze start-up's objects and collect
    the young generation less often; how many objects were frozen."""
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
    return freeze_startup_objects()
