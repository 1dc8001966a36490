from __future__ import annotations

import os

import pytest

# A pytest-xdist worker starts with COLUMNS=80 in its environment (readline exports it), and a
# rich Console made at import with COLUMNS set keeps that width for good: the CLI tests set the
# width they read their tables at, as in a process started without it.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.console",
    "tests.fixtures.webhooks",
    "tests.fixtures.receivers",
    "tests.fixtures.shared_state",
]

# The fixtures through which a test reaches the database under test.
DATABASE_FIXTURES = {"database_url", "migrated_template"}
# What a module imports when it reads the database under test by itself.
DATABASE_NAMES = {"POSTGRES_URL", "on_postgres"}


def touches_the_database(item: pytest.Item) -> bool:
    """Whether the test can behave differently on PostgreSQL than on SQLite."""
    # Imported here: a conftest import before pytest_plugins would skip assertion rewriting.
    from tests.fixtures import database

    if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    if item.get_closest_marker("postgres") is not None:
        return True
    names = vars(getattr(item, "module", None) or object)
    return any(name in names and names[name] is getattr(database, name) for name in DATABASE_NAMES)


def shares_an_expensive_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture set up once for its module (a Prometheus, a browser …)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definitions[-1].scope in ("module", "package", "class")
        for definitions in info.name2fixturedefs.values()
        if definitions
    )


def handed_out_late(item: pytest.Item) -> bool:
    """False for the tests pytest-xdist hands out first: ``slow`` and ``long``."""
    return item.get_closest_marker("slow") is None and item.get_closest_marker("long") is None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what `-m` and pytest-xdist select on, before either looks.

    ``no_database``: the test neither uses the database fixtures nor reads
    CHRONOSOPS_TEST_DATABASE_URL, so it runs the same on either database (CI's PostgreSQL pass
    leaves these out with ``-m "not no_database"``: the SQLite pass ran them).

    ``xdist_group``: a module whose tests share a module-scoped fixture runs on one worker
    (``--dist loadgroup``), so its Prometheus or browser starts once, not once per worker.

    Under pytest-xdist the ``slow`` tests (real servers, up to a minute each) and the ``long``
    ones (ten seconds or more without a server: a thousand alerts in one delivery,
    schemathesis) are handed out first: left to the end, as the alphabet would leave tests/web
    and tests/worker, one of them is a tail that a single worker runs while the others wait.
    Not the backlog drain (tests/worker/test_drain.py): it measures a worker's pace against a
    budget, and beside the slow tests' processes at the start it missed it (647 of 2,000 jobs
    left after 90 s on a loaded machine, 2026-12-08).
    """
    for item in items:
        if not touches_the_database(item):
            item.add_marker(pytest.mark.no_database)
        if shares_an_expensive_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    if hasattr(config, "workerinput"):
        items.sort(key=handed_out_late)
