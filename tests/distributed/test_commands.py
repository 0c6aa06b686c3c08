"""The service commands' edges: settings from the environment, fail-fast errors, the alert's stream URL."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from events import Alert, Category, ConfigError, Severity
from events.kafka import KafkaOptions
from livewatch.broker import free_port
from livewatch.config import Config
from livewatch.dashboard_cmd import dashboard_settings
from livewatch.distributed import with_url
from tests.distributed.cluster import ROOT
from tests.waiting import wait_until

SECRET = "s" * 40


def an_alert(alert_id: str = "a-1", revision: int = 1) -> Alert:
    return Alert(alert_id=alert_id, stream_id="shop", rule_id="r", rule_version=1, category=Category.COUNTERFEIT,
                 severity=Severity.HIGH, score=1.0, media_start=0.0, media_end=1.0, evidence=(), revision=revision)


def test_the_worker_sets_the_stream_url_and_keeps_the_engines_alert_id() -> None:
    """Ids are scoped by the watch session in the rules engine (tests/rules/test_sessions.py), never re-derived here."""
    alert = with_url(an_alert(), "rtmp://x/live/shop")
    assert (alert.alert_id, alert.stream_url) == ("a-1", "rtmp://x/live/shop")
    assert with_url(alert, "rtmp://elsewhere") is alert, "a URL the alert already has is kept"
    assert with_url(an_alert(), None).stream_url is None


def test_dashboard_settings_come_from_the_environment(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, kafka=KafkaOptions(bootstrap_servers="kafka:9092"))
    env = {"LIVEWATCH_SECRET_KEY": SECRET, "LIVEWATCH_ADMIN_PASSWORD": "a long admin password 1"}
    settings = dashboard_settings(cfg, env, host="0.0.0.0", port=8081)
    assert (settings.secret_key, settings.kafka, settings.host, settings.port) == (SECRET, cfg.kafka, "0.0.0.0", 8081)
    assert settings.data_dir == tmp_path / "snapshots", "snapshots resolve where the workers write them"
    assert settings.initial_admin == ("admin", env["LIVEWATCH_ADMIN_PASSWORD"])
    assert settings.db_url.startswith("sqlite:///") and settings.alert_store is None
    with_db = dashboard_settings(cfg, {**env, "LIVEWATCH_DB_URL": "postgresql://u:p@db/lw"})
    assert with_db.db_url == "postgresql://u:p@db/lw" and with_db.host == "127.0.0.1" and with_db.port == 8080
    with pytest.raises(ConfigError, match="LIVEWATCH_SECRET_KEY"):
        dashboard_settings(cfg, {"LIVEWATCH_SECRET_KEY": "short"})


@pytest.mark.slow
def test_dashboard_command_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")}
    env.update(LIVEWATCH_SECRET_KEY=SECRET, LIVEWATCH_ADMIN_PASSWORD="a long admin password 1")
    proc = subprocess.Popen([sys.executable, "-m", "livewatch", "--data-dir", str(tmp_path), "dashboard", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def health() -> int | None:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                return reply.status
        except OSError:
            return None

    try:
        assert wait_until(health, 60, "the dashboard's /health to answer") == 200
    finally:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, "SIGTERM is a clean shutdown"


def test_commands_fail_fast_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from livewatch.cli import main

    for name in [k for k in os.environ if k.startswith("LIVEWATCH_")]:
        monkeypatch.delenv(name)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # main() installs its JSON handler: undo it after
    monkeypatch.setattr(root, "level", root.level)
    kafka_log = logging.getLogger("kafka")
    monkeypatch.setattr(kafka_log, "setLevel", lambda level: None)  # the service commands would quiet it for good

    def last_line(*argv: str) -> str:
        assert main(list(argv)) == 1
        return capsys.readouterr().err.strip().splitlines()[-1]

    assert "LIVEWATCH_SECRET_KEY" in last_line("--data-dir", str(tmp_path), "dashboard")
    assert "LIVEWATCH_KAFKA" in last_line("--data-dir", str(tmp_path), "worker")
    assert "LIVEWATCH_KAFKA" in last_line("streams", "list")
    assert "concat" in last_line("--kafka", "127.0.0.1:1", "streams", "add", "shop-1", "concat:/etc/passwd|x.mp4")
    assert "stream id" in last_line("--kafka", "127.0.0.1:1", "streams", "remove", "../etc")
