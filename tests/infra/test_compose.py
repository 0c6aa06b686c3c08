"""docker-compose.yml, the Dockerfile and .dockerignore, checked against the code.

No Docker engine runs here, so the file is parsed (PyYAML) and every value the
code depends on is compared with the code itself: the metrics port and health
paths, the dashboard port and /health route, Config.from_env reading the
environment, the Kafka version the tests run, and Kafka's KRaft settings are
fed to Kafka's real storage tool.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from kafka_apache.broker import kafka_version, random_cluster_id, storage_format, write_properties

from dashboard import DashboardSettings
from livewatch.config import DEFAULT_RULES_DIR, Config
from livewatch.metrics import DEFAULT_METRICS_PORT, LIVENESS_PATH, Metrics, MetricsServer

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
LIVEWATCH_SERVICES = {"worker": ["worker"], "rules-service": ["rules-service"], "dashboard": ["dashboard"]}
SERVICES = {"kafka", "postgres", *LIVEWATCH_SERVICES}
RESTART_POLICIES = {"always", "unless-stopped", "on-failure"}
SECRETS = {"LIVEWATCH_SECRET_KEY", "LIVEWATCH_DB_PASSWORD"}
FAKE_ENV = {"LIVEWATCH_SECRET_KEY": "s" * 40, "LIVEWATCH_DB_PASSWORD": "pw-from-env"}
_VAR = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


class MissingVariable(Exception):
    pass


def interpolate(value: object, env: dict[str, str]) -> object:
    """Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1) or match.group(4), match.group(2), match.group(3)
        have = env.get(name)
        if op in (":?", "?") and not have:
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and not have:
            return arg
        return have or ""

    return _VAR.sub(one, value)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw: dict) -> dict:
    return interpolate(raw, FAKE_ENV)


def service_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def health_url(service: dict) -> str:
    """The URL a livewatch service's health check GETs."""
    command = " ".join(service["healthcheck"]["test"])
    match = re.search(r"http://[^'\" ]+", command)
    assert match, f"health check does not GET a URL: {command}"
    return match.group(0)


def container_ports(service: dict) -> set[int]:
    return {int(str(p).rsplit(":", 1)[-1].split("/")[0]) for p in service.get("ports", [])}


def test_services_images_and_the_tested_kafka_version(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version()}", "compose runs the Kafka the tests run"
    assert services["postgres"]["image"].startswith("postgres:")
    for name in LIVEWATCH_SERVICES:
        assert services[name]["build"] == "." and services[name]["image"] == "livewatch:latest"
        assert services[name]["command"][: len(LIVEWATCH_SERVICES[name])] == LIVEWATCH_SERVICES[name]


def test_every_service_has_a_health_check_and_a_restart_policy(compose: dict) -> None:
    for name, service in compose["services"].items():
        assert service.get("restart") in RESTART_POLICIES, name
        check = service.get("healthcheck") or {}
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("interval") and check.get("retries"), name


def test_services_wait_for_healthy_dependencies(compose: dict) -> None:
    services = compose["services"]
    for name in LIVEWATCH_SERVICES:
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy", name
    assert services["dashboard"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_workers_scale_and_expose_metrics_on_the_code_default_port(compose: dict) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and not worker.get("ports"), "--scale worker=N needs no fixed name or host port"
    for name in ("worker", "rules-service"):
        service = compose["services"][name]
        url = urlsplit(health_url(service))
        assert (url.port, url.path) == (DEFAULT_METRICS_PORT, LIVENESS_PATH), name
        assert str(DEFAULT_METRICS_PORT) in service["expose"], name
        assert int(service_env(service)["LIVEWATCH_METRICS_PORT"]) == DEFAULT_METRICS_PORT, name


def test_livewatch_environment_is_what_config_reads(compose: dict) -> None:
    kafka_env = service_env(compose["services"]["kafka"])
    advertised = dict(
        listener.split("://", 1) for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    inter_broker = kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    for name in LIVEWATCH_SERVICES:
        service = compose["services"][name]
        env = service_env(service)
        cfg = Config.from_env(env)
        assert cfg.kafka.bootstrap_servers == advertised[inter_broker], f"{name} must reach Kafka on its in-network listener"
        assert cfg.kafka.group_settings() == {}, f"{name}: Kafka's own group timings in production"
        assert cfg.metrics_port == DEFAULT_METRICS_PORT
        assert cfg.data_dir == Path(env["LIVEWATCH_DATA_DIR"]) == Path("/data")
        mounts = {m.split(":")[1]: m.split(":")[0] for m in service.get("volumes", [])}
        assert str(cfg.rules_dir) in mounts, f"{name}: LIVEWATCH_RULES_DIR is not mounted"
        assert (REPO / mounts[str(cfg.rules_dir)]).resolve() == DEFAULT_RULES_DIR.resolve()


def test_snapshots_are_shared_and_the_alert_outbox_is_not(compose: dict) -> None:
    worker, dashboard = compose["services"]["worker"], compose["services"]["dashboard"]
    snapshot_dir = str(Config.from_env(service_env(worker)).snapshot_dir)
    assert f"snapshots:{snapshot_dir}" in worker["volumes"]
    assert f"snapshots:{snapshot_dir}:ro" in dashboard["volumes"]
    # The SQLite outbox (data_dir/alerts.sqlite3) must not sit on a volume shared by scaled workers.
    assert not any(v.split(":")[1] == "/data" for v in worker["volumes"])


def test_dashboard_port_health_route_and_settings(compose: dict, tmp_path: Path) -> None:
    from dashboard import create_app

    dashboard = compose["services"]["dashboard"]
    default_port = {f.name: f.default for f in dataclasses.fields(DashboardSettings)}["port"]
    assert default_port in container_ports(dashboard)
    url = urlsplit(health_url(dashboard))
    assert url.port == default_port
    app = create_app(DashboardSettings(secret_key="k" * 32, db_url=f"sqlite:///{tmp_path / 'd.sqlite3'}"))
    assert app.url_path_for("health") == url.path, "the dashboard's health check path is a real route"

    env = service_env(dashboard)
    postgres = service_env(compose["services"]["postgres"])
    db = urlsplit(env["LIVEWATCH_DB_URL"])
    assert (db.username, db.password, db.hostname, db.port, db.path.lstrip("/")) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], "postgres", 5432, postgres["POSTGRES_DB"]
    )
    DashboardSettings(secret_key=env["LIVEWATCH_SECRET_KEY"], db_url=env["LIVEWATCH_DB_URL"]).validate()


def test_secrets_only_come_from_the_environment(raw: dict) -> None:
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert re.search(r"\$\{" + name + r":\?", text), f"{name} must be required from the environment"
    for service_name, service in raw["services"].items():
        for key, value in service_env(service).items():
            if re.search(r"SECRET|PASSWORD|TOKEN", key):
                assert "${" in value, f"{service_name}.{key} is a literal secret"
    for name in ("worker", "rules-service"):
        assert "LIVEWATCH_SECRET_KEY" not in service_env(raw["services"][name]), "least privilege"
    for missing in SECRETS:
        with pytest.raises(MissingVariable, match=missing):
            interpolate(raw, {k: v for k, v in FAKE_ENV.items() if k != missing})


def kafka_properties(env: dict[str, str]) -> dict[str, str]:
    """The apache/kafka image's env-to-property rule: KAFKA_A_B -> a.b, '__' -> '_', '___' -> '-'."""
    props = {}
    for key, value in env.items():
        if key.startswith("KAFKA_") and key != "KAFKA_HEAP_OPTS":
            name = key[len("KAFKA_"):].lower().replace("___", "\0").replace("__", "\1").replace("_", ".")
            props[name.replace("\0", "-").replace("\1", "_")] = value
    return props


def test_kafka_kraft_settings_format_with_kafkas_own_storage_tool(compose: dict, tmp_path: Path) -> None:
    env = service_env(compose["services"]["kafka"])
    props = kafka_properties(env)
    assert set(props["process.roles"].split(",")) == {"broker", "controller"}
    assert not any("zookeeper" in key for key in props)
    assert props["offsets.topic.replication.factor"] == "1" and props["group.initial.rebalance.delay.ms"] == "0"
    cluster_id = env["CLUSTER_ID"]
    assert base64.urlsafe_b64encode(base64.urlsafe_b64decode(cluster_id + "==")).decode().rstrip("=") == cluster_id
    props["log.dirs"] = str(tmp_path / "data")
    storage_format(write_properties(tmp_path / "server.properties", props), cluster_id)
    assert f"cluster.id={cluster_id}" in (tmp_path / "data" / "meta.properties").read_text()


def test_worker_health_check_command_against_a_real_metrics_server(compose: dict) -> None:
    test = compose["services"]["worker"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    with MetricsServer(Metrics(process=False).registry, port=0) as server:
        command = [sys.executable] + [arg.replace(f":{DEFAULT_METRICS_PORT}/", f":{server.port}/") for arg in test[2:]]
        assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    assert subprocess.run(command, capture_output=True, timeout=30).returncode != 0, "a dead server is unhealthy"


def test_service_commands_parse_with_the_cli(compose: dict) -> None:
    from livewatch.cli import build_parser

    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse has no public listing
    assert set(LIVEWATCH_SERVICES) <= known, sorted(set(LIVEWATCH_SERVICES) - known)
    for name in LIVEWATCH_SERVICES:
        parser.parse_args(compose["services"][name]["command"])


def test_dockerfile_builds_every_package_and_serves_the_ports() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["livewatch"\]', dockerfile, re.M)
    assert f"LIVEWATCH_METRICS_PORT={DEFAULT_METRICS_PORT}" in dockerfile
    default_port = {f.name: f.default for f in dataclasses.fields(DashboardSettings)}["port"]
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", dockerfile, re.M) for p in line.split()}
    assert {DEFAULT_METRICS_PORT, default_port} <= exposed
    copied = set(re.findall(r"^COPY (\S+?)/? ", dockerfile, re.M))
    for source in copied:
        assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert packages and set(packages) <= copied, f"Dockerfile misses packages {set(packages) - copied}"
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M), "services do not run as root"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv", "var"} <= ignored


def test_a_random_cluster_id_never_reads_as_an_option() -> None:
    """One id in 64 would start with "-" and kafka-storage's parser would take it for an option (a CI run met one)."""
    ids = [random_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
