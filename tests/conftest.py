pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.console",
    "tests.fixtures.webhooks",
    "tests.fixtures.receivers",
    "tests.fixtures.shared_state",
]
