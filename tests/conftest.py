"""One fixture module per real component, shared by the whole suite."""

pytest_plugins = [
    "tests.fixtures.repo",
    "tests.fixtures.scripted",
    "tests.fixtures.model_servers",
    "tests.fixtures.workspace",
    "tests.fixtures.engine",
    "tests.fixtures.sandbox",
    "tests.fixtures.github_double",
    "tests.fixtures.devbot_process",
    "tests.fixtures.postgres",
    "tests.fixtures.webhook",
    "tests.fixtures.feedback",
    "tests.fixtures.fleet",
    "tests.fixtures.dashboard",
    "tests.fixtures.speckit",
]
