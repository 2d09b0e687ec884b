"""Fixtures shared by the whole suite live in tests/fixtures/, one module per service."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.factories",
    "tests.fixtures.twilio",
    "tests.fixtures.daemon",
    "tests.fixtures.influxdb",
]
