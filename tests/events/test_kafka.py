"""The one Kafka client factory: what it hands kafka-python's constructors (fakes here; real brokers elsewhere)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kafka
import pytest
from kafka.errors import KafkaTimeoutError

from events import LivewatchError
from events.kafka import KafkaOptions, KafkaSecurity, KafkaUnavailable, make_admin, make_consumer, make_producer

SECURE = KafkaOptions(
    bootstrap_servers="k1:9093,k2:9093",
    client_id="shop-eu",
    security=KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="lw",
                           sasl_plain_password="hunter2-secret", ssl_cafile="/etc/kafka/ca.pem"),
)


class FakeClient:
    """Records the arguments a kafka-python constructor got."""

    made: list[FakeClient] = []

    def __init__(self, *topics: str, **settings: Any) -> None:
        self.topics, self.settings = topics, settings
        self._coordinator = SimpleNamespace(join_group_async=None, need_rejoin=None)  # what make_consumer wraps
        FakeClient.made.append(self)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> list[FakeClient]:
    FakeClient.made = []
    for name in ("KafkaProducer", "KafkaConsumer", "KafkaAdminClient"):
        monkeypatch.setattr(kafka, name, type(name, (FakeClient,), {}))
    return FakeClient.made


@pytest.mark.parametrize("make", [make_producer, make_consumer, make_admin])
def test_every_client_gets_the_bootstrap_servers_client_id_and_security_settings(make, fakes) -> None:
    make(SECURE, "alerts")
    (client,) = fakes
    assert client.settings == {
        "bootstrap_servers": "k1:9093,k2:9093",
        "client_id": "shop-eu-alerts",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "lw",
        "sasl_plain_password": "hunter2-secret",
        "ssl_cafile": "/etc/kafka/ca.pem",
        "ssl_check_hostname": True,
    }


def test_the_callers_tuning_is_passed_on_but_not_where_or_how_to_connect(fakes) -> None:
    make_producer(SECURE, "evidence", acks="all", linger_ms=5)
    assert (fakes[0].settings["acks"], fakes[0].settings["linger_ms"]) == ("all", 5)
    with pytest.raises(TypeError, match="bootstrap_servers"):
        make_producer(SECURE, "evidence", bootstrap_servers="elsewhere:9092")
    with pytest.raises(TypeError, match="sasl_plain_password"):
        make_consumer(SECURE, "rules", sasl_plain_password="other")


def test_group_timings_only_when_set_and_only_for_group_members(fakes) -> None:
    make_consumer(SECURE, "rules", "livewatch.evidence", group_id="livewatch-rules")
    member = fakes[-1]
    assert member.topics == ("livewatch.evidence",) and member.settings["group_id"] == "livewatch-rules"
    assert "session_timeout_ms" not in member.settings and "heartbeat_interval_ms" not in member.settings, \
        "unset: kafka-python's own defaults"

    tuned = SECURE.replace(session_timeout_ms=6000, heartbeat_interval_ms=2000)
    make_consumer(tuned, "rules", "livewatch.evidence", group_id="livewatch-rules")
    assert (fakes[-1].settings["session_timeout_ms"], fakes[-1].settings["heartbeat_interval_ms"]) == (6000, 2000)
    make_consumer(tuned, "alerts-reconcile")
    assert "group_id" not in fakes[-1].settings and "session_timeout_ms" not in fakes[-1].settings
    with pytest.raises(TypeError, match="session_timeout_ms"):
        make_consumer(SECURE, "rules", group_id="g", session_timeout_ms=6000)


def test_no_broker_configured_or_none_reachable_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LivewatchError, match="set LIVEWATCH_KAFKA"):
        make_producer(KafkaOptions(), "alerts")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise KafkaTimeoutError("Unable to bootstrap from k1:9093,k2:9093")

    monkeypatch.setattr(kafka, "KafkaProducer", refuse)
    with pytest.raises(KafkaUnavailable) as err:
        make_producer(SECURE, "alerts")
    message = str(err.value)
    assert message.startswith("cannot connect to Kafka at k1:9093,k2:9093 (KafkaTimeoutError")
    assert "LIVEWATCH_KAFKA_SECURITY_PROTOCOL" in message and "\n" not in message
    assert "hunter2" not in message


def test_passwords_stay_out_of_repr() -> None:
    options = SECURE.replace(security=KafkaSecurity("SSL", ssl_keyfile="/k.pem", ssl_password="key-secret"))
    for shown in (repr(SECURE), str(SECURE), repr(options)):
        assert "hunter2" not in shown and "key-secret" not in shown
    assert "sasl_plain_username='lw'" in repr(SECURE), "what is not secret stays visible"


def test_kafka_pythons_own_debug_log_of_its_configuration_shows_no_password(caplog: pytest.LogCaptureFixture) -> None:
    """kafka-python's admin client logs every setting at DEBUG; the factory masks the passwords in it."""
    caplog.set_level(logging.DEBUG, logger="kafka")
    options = KafkaOptions(bootstrap_servers="127.0.0.1:9", security=KafkaSecurity(
        "SASL_PLAINTEXT", "PLAIN", "lw", "pa'ss\\word-secret", ssl_password="key-secret"))
    with pytest.raises(KafkaUnavailable):
        make_admin(options, "check", bootstrap_timeout_ms=300, request_timeout_ms=300)
    logged = [r for r in caplog.records if "configuration" in r.getMessage()]
    assert logged and "sasl_plain_username': 'lw'" in logged[0].getMessage(), "the line is still there"
    assert "secret" not in caplog.text


def test_importing_the_ground_floor_and_alerts_does_not_import_kafka_python() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "import sys, events.kafka, alerts; sys.exit('kafka' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60).returncode == 0
