"""This process's copy of the remembered log templates, so that an ingest need not read them.

Every evidenceLite with log lines is mined against the templates remembered for its services
(so that baselines and incidents share template ids). On SQLite that read was a write unit of
its own before the ingest's (read, mine, remember), about a sixth of a small ingest's CPU,
although the templates almost never change once a service's lines have been seen. Here they are
kept after a unit read or wrote them, and used while nothing can have changed them since:

- another connection (another process) committed nothing to the database file, told by a
  *change token* the caller reads from the database (SQLite's ``PRAGMA data_version`` on the
  writer's connection, which moves on any other connection's commit); without a token
  (PostgreSQL, an in-memory database) nothing is kept;
- no unit of this process wrote templates since the copy was taken: each write counts a
  *generation* (in the writer's unit order), and a copy whose unit saw an older generation than
  the current one is dropped rather than kept.

So a copy is only ever what a committed transaction read or wrote, with nothing committed after
it; when in doubt the caller reads in a unit as before. Mining with the copy gives the same
templates as mining with a fresh read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


class TemplateMemory:
    def __init__(self) -> None:
        self._templates: dict[str, list[str]] = {}
        self._token: object | None = None
        self._generation = 0

    @property
    def generation(self) -> int:
        """How many writes of templates this process made: read inside a unit, with its
        snapshot, and handed back to `keep`."""
        return self._generation

    def known(self, services: Collection[str], token: object | None) -> dict[str, list[str]] | None:
        """The templates of these services, when this copy holds them all and the database is
        unchanged since (``token`` as the database tells it now); None otherwise."""
        if token is None or token != self._token:
            return None
        templates = self._templates
        if not all(service in templates for service in services):
            return None
        return {service: templates[service] for service in services}

    def wrote(self, services: Collection[str]) -> None:
        """A unit of this process writes these services' templates (before its commit)."""
        self._generation += 1
        for service in services:
            self._templates.pop(service, None)

    def keep(
        self, templates: Mapping[str, Sequence[str]], *, token: object | None, generation: int
    ) -> None:
        """What a unit read or wrote, once committed: ``token`` and ``generation`` as that unit
        saw them. Dropped when a later write of this process came in between."""
        if token is None or generation != self._generation:
            return
        if token != self._token:
            self._templates.clear()
            self._token = token
        for service, kept in templates.items():
            self._templates[service] = list(kept)

    def forget(self) -> None:
        self._templates.clear()
        self._token = None


# Services whose templates a `CheckedCopy` holds at most (a process sees few; past this the
# copy starts over rather than grow without bound).
CHECKED_COPY_SERVICES = 4096


class CheckedCopy:
    """PostgreSQL: this process's copy of the remembered log templates, to mine an ingest's
    lines against without the read (a round trip and a connection's turn of its own, ~5% of a
    synchronous ingest's CPU; docs/benchmarks.md, twenty-eighth pass) — only where the
    ingest's own transaction reads them again and finds them unchanged (`TemplateCheck`).

    PostgreSQL has no cheap token that says nothing changed (SQLite's ``data_version``), so
    the copy is never trusted: it is a guess the transaction that stores the mined evidence
    checks, as of that transaction, before anything is kept. A wrong guess costs the ingest
    one more attempt (after a fresh read), never a different result. ``None`` for a service
    says none were remembered for it when it was read.
    """

    def __init__(self) -> None:
        self._templates: dict[str, tuple[str, ...] | None] = {}

    def known(self, services: Collection[str]) -> dict[str, list[str]] | None:
        """The copy for these services as `EvidenceService.known_templates` would answer it
        (services with none left out); None when it does not hold them all."""
        templates = self._templates
        if not all(service in templates for service in services):
            return None
        return {
            service: list(kept) for service in services if (kept := templates[service]) is not None
        }

    def keep(self, services: Collection[str], templates: Mapping[str, Sequence[str]]) -> None:
        """What a read (or a committed write) found for these services."""
        if len(self._templates) + len(services) > CHECKED_COPY_SERVICES:
            self._templates.clear()
        for service in services:
            kept = templates.get(service)
            self._templates[service] = tuple(kept) if kept is not None else None

    def forget(self, services: Collection[str]) -> None:
        for service in services:
            self._templates.pop(service, None)


class TemplateCheck:
    """The templates an ingest's lines were mined against from a `CheckedCopy`, by service
    (``None``: none remembered), which its transaction must find unchanged before it stores
    anything mined from them."""

    def __init__(self) -> None:
        self.used: dict[str, list[str] | None] = {}

    def mined_against(self, services: Collection[str], known: Mapping[str, Sequence[str]]) -> None:
        for service in services:
            kept = known.get(service)
            self.used[service] = list(kept) if kept is not None else None


class StaleTemplatesError(Exception):
    """The templates an ingest mined against changed before its transaction: nothing of that
    attempt is kept, and it is made again after a fresh read."""

    def __init__(self, services: Collection[str]) -> None:
        super().__init__(f"the remembered log templates of {sorted(services)} changed")
        self.services = list(services)
