"""tests/infra: make sure the Apache Kafka plugin is loaded, even before tests/conftest.py registers it.

Registered here only when nobody did, so there is one session Apache Kafka per run.
"""

PLUGIN = "kafka_apache.plugin"


def pytest_configure(config):
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)
