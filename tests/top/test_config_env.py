"""One reader of LIVEWATCH_* variables, one way to read a yes/no or a number."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from events import ConfigError
from events.kafka import KafkaSecurity, KafkaTopics
from livewatch.config import Config
from livewatch.dashboard_cmd import dashboard_settings

SECRET = {"LIVEWATCH_SECRET_KEY": "k" * 32}


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on"])
def test_yes_in_any_case_means_yes(raw: str) -> None:
    assert Config.from_env({"LIVEWATCH_SPLIT": raw}).split is True
    assert dashboard_settings(Config(), {**SECRET, "LIVEWATCH_SECURE_COOKIES": raw}).secure_cookies is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "OFF"])
def test_no_in_any_case_means_no(raw: str) -> None:
    assert Config.from_env({"LIVEWATCH_SPLIT": raw}).split is False
    assert dashboard_settings(Config(), {**SECRET, "LIVEWATCH_SECURE_COOKIES": raw}).secure_cookies is False


def test_anything_else_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="LIVEWATCH_SPLIT='maybe'"):
        Config.from_env({"LIVEWATCH_SPLIT": "maybe"})
    with pytest.raises(ConfigError, match="LIVEWATCH_METRICS_PORT"):
        Config.from_env({"LIVEWATCH_METRICS_PORT": "http"})


def test_metrics_endpoint_from_the_environment() -> None:
    cfg = Config.from_env({"LIVEWATCH_METRICS_HOST": "0.0.0.0", "LIVEWATCH_METRICS_PORT": "9500"})
    assert (cfg.metrics_host, cfg.metrics_port) == ("0.0.0.0", 9500)


def test_paths_and_detector_settings_from_the_environment_and_unset_or_empty_keep_the_defaults() -> None:
    cfg = Config.from_env({"LIVEWATCH_DATA_DIR": "/data", "LIVEWATCH_LEXICON_DIR": "lex", "LIVEWATCH_BRANDS_DIR": "",
                           "LIVEWATCH_MIN_FREE_MB": "64", "LIVEWATCH_OCR_ENGINE": "rapid", "LIVEWATCH_ASR_MODEL": ""})
    default = Config()
    assert (cfg.data_dir, cfg.lexicon_dir, cfg.min_free_mb, cfg.ocr.engine) == (Path("/data"), Path("lex"), 64.0, "rapid")
    assert (cfg.brands_dir, cfg.rules_dir, cfg.protected_dir) == (default.brands_dir, default.rules_dir, None)
    assert (cfg.asr, cfg.metrics_port, cfg.metrics_host) == (default.asr, None, default.metrics_host)
    assert Config.from_env({}) == default


# -- Kafka: LIVEWATCH_KAFKA* ---------------------------------------------------------------------------


def test_kafka_defaults_are_kafkas_own() -> None:
    kafka = Config.from_env({"LIVEWATCH_KAFKA": "kafka:9092"}).kafka
    assert kafka.bootstrap_servers == "kafka:9092" and kafka.client_id == "livewatch"
    assert (kafka.session_timeout_ms, kafka.heartbeat_interval_ms) == (None, None)
    assert kafka.group_settings() == {}, "no embedded-broker tuning on a configured cluster"
    assert kafka.security == KafkaSecurity() and kafka.topics == KafkaTopics()
    assert Config().kafka.group_settings() == {} and Config.from_env({}).kafka.bootstrap_servers is None


def test_a_configured_broker_runs_with_the_configured_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """``livewatch run`` adjusts the options only when it starts the embedded broker itself."""
    import livewatch.service as service

    monkeypatch.setattr(service, "check_broker", lambda *args, **kwargs: None)
    cfg = Config.from_env({"LIVEWATCH_KAFKA": "kafka:9092"})
    with service.with_broker(cfg) as running:
        assert running.kafka == cfg.kafka and running.kafka.group_settings() == {}


def test_embedded_group_timings_reach_no_production_module() -> None:
    """Only livewatch/broker.py (the embedded broker) knows them; run, worker, rules, dashboard never name them."""
    root = Path(__file__).resolve().parents[2]
    named = [str(p.relative_to(root)) for package in ("events", "alerts", "livewatch", "dashboard")
             for p in sorted((root / package).rglob("*.py"))
             if p.name != "broker.py" and re.search(r"EMBEDDED_GROUP_TIMINGS|with_embedded_timings|FAST_GROUP",
                                                     p.read_text(encoding="utf-8"))]
    assert named == []


def test_kafka_security_settings_pass_through() -> None:
    env = {
        "LIVEWATCH_KAFKA": "b1:9093,b2:9093",
        "LIVEWATCH_KAFKA_CLIENT_ID": "shop-eu",
        "LIVEWATCH_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "LIVEWATCH_KAFKA_SASL_MECHANISM": "scram-sha-256",
        "LIVEWATCH_KAFKA_SASL_USERNAME": "livewatch",
        "LIVEWATCH_KAFKA_SASL_PASSWORD": "s3cret pass ",
        "LIVEWATCH_KAFKA_SSL_CAFILE": "/etc/kafka/ca.pem",
        "LIVEWATCH_KAFKA_SSL_CERTFILE": "/etc/kafka/client.pem",
        "LIVEWATCH_KAFKA_SSL_KEYFILE": "/etc/kafka/client.key",
        "LIVEWATCH_KAFKA_SSL_KEY_PASSWORD": "key pass",
        "LIVEWATCH_KAFKA_SSL_CHECK_HOSTNAME": "0",
        "LIVEWATCH_KAFKA_SESSION_TIMEOUT_MS": "30000",
        "LIVEWATCH_KAFKA_HEARTBEAT_INTERVAL_MS": "10000",
        "LIVEWATCH_KAFKA_TOPIC_ALERTS": "shop-eu.alerts",
        "LIVEWATCH_KAFKA_TOPIC_TAKEDOWNS_DLQ": "shop-eu.takedowns.dlq",
    }
    kafka = Config.from_env(env).kafka
    assert kafka.security == KafkaSecurity(
        security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="livewatch",
        sasl_plain_password="s3cret pass ", ssl_cafile="/etc/kafka/ca.pem", ssl_certfile="/etc/kafka/client.pem",
        ssl_keyfile="/etc/kafka/client.key", ssl_password="key pass", ssl_check_hostname=False)
    assert (kafka.bootstrap_servers, kafka.client_id) == ("b1:9093,b2:9093", "shop-eu")
    assert kafka.group_settings() == {"session_timeout_ms": 30000, "heartbeat_interval_ms": 10000}
    assert (kafka.topics.alerts, kafka.topics.takedowns_dlq) == ("shop-eu.alerts", "shop-eu.takedowns.dlq")
    assert kafka.topics.evidence == KafkaTopics().evidence
    settings = kafka.client_settings("alerts")
    assert settings["sasl_plain_password"] == "s3cret pass " and settings["ssl_password"] == "key pass"
    assert settings["client_id"] == "shop-eu-alerts"


def test_kafka_passwords_never_show_in_repr() -> None:
    cfg = Config.from_env({"LIVEWATCH_KAFKA": "b:9093", "LIVEWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                           "LIVEWATCH_KAFKA_SASL_MECHANISM": "PLAIN", "LIVEWATCH_KAFKA_SASL_USERNAME": "u",
                           "LIVEWATCH_KAFKA_SASL_PASSWORD": "hunter2", "LIVEWATCH_KAFKA_SSL_KEY_PASSWORD": "keypw"})
    for shown in (repr(cfg), str(cfg), repr(cfg.kafka), repr(cfg.kafka.security), f"{cfg.kafka}"):
        assert "hunter2" not in shown and "keypw" not in shown


@pytest.mark.parametrize(("env", "named"), [
    ({"LIVEWATCH_KAFKA_SECURITY_PROTOCOL": "TLS"}, "LIVEWATCH_KAFKA_SECURITY_PROTOCOL='TLS'"),
    ({"LIVEWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs LIVEWATCH_KAFKA_SASL_MECHANISM"),
    ({"LIVEWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "LIVEWATCH_KAFKA_SASL_MECHANISM": "GSSAPI"},
     "LIVEWATCH_KAFKA_SASL_MECHANISM='GSSAPI'"),
    ({"LIVEWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "LIVEWATCH_KAFKA_SASL_MECHANISM": "PLAIN",
      "LIVEWATCH_KAFKA_SASL_USERNAME": "u"}, "needs LIVEWATCH_KAFKA_SASL_PASSWORD"),
    ({"LIVEWATCH_KAFKA_SASL_USERNAME": "u", "LIVEWATCH_KAFKA_SASL_PASSWORD": "p"},
     "LIVEWATCH_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use them"),
    ({"LIVEWATCH_KAFKA_SSL_CAFILE": "/ca.pem"}, "LIVEWATCH_KAFKA_SSL_CAFILE is set but"),
    ({"LIVEWATCH_KAFKA_SESSION_TIMEOUT_MS": "6s"}, "LIVEWATCH_KAFKA_SESSION_TIMEOUT_MS='6s'"),
    ({"LIVEWATCH_KAFKA_HEARTBEAT_INTERVAL_MS": "0"}, "LIVEWATCH_KAFKA_HEARTBEAT_INTERVAL_MS='0'"),
    ({"LIVEWATCH_KAFKA_SESSION_TIMEOUT_MS": "3000", "LIVEWATCH_KAFKA_HEARTBEAT_INTERVAL_MS": "3000"},
     "LIVEWATCH_KAFKA_HEARTBEAT_INTERVAL_MS=3000 must be below"),
    ({"LIVEWATCH_KAFKA_SSL_CHECK_HOSTNAME": "maybe"}, "LIVEWATCH_KAFKA_SSL_CHECK_HOSTNAME='maybe'"),
    ({"LIVEWATCH_KAFKA_TOPIC_ALERTS": "alerts/../x"}, "LIVEWATCH_KAFKA_TOPIC_ALERTS='alerts/../x'"),
])
def test_bad_kafka_settings_are_one_line_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_env({"LIVEWATCH_KAFKA": "b:9093", **env})
    assert named in str(err.value) and "\n" not in str(err.value)
    assert "hunter2" not in str(err.value)
