"""Process health: free space at start, the health metrics, readiness, and a quiet Kafka client."""

from __future__ import annotations

import logging
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from livewatch.cli import quiet_kafka_client
from livewatch.config import Config
from livewatch.health import check_free_space, watch_health
from livewatch.metrics import Metrics, MetricsServer
from tests.infra.test_metrics import scrape

Usage = namedtuple("Usage", "total used free")


def test_little_free_space_at_start_is_one_warning_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="livewatch.health")
    monkeypatch.setattr("livewatch.health.shutil.disk_usage", lambda path: Usage(10 * 2**30, 0, 200 * 2**20))
    message = check_free_space(tmp_path / "not" / "made" / "yet", 1024)
    assert message and message.startswith("only 200 MB free on the volume of") and "LIVEWATCH_MIN_FREE_MB" in message
    assert [r.getMessage() for r in caplog.records] == [message]
    assert check_free_space(tmp_path, 100) is None


def test_min_free_mb_is_a_config_field_with_a_default_and_an_environment_variable() -> None:
    assert Config().min_free_mb == 1024.0
    assert Config.from_env({"LIVEWATCH_MIN_FREE_MB": "50"}).min_free_mb == 50.0


def test_health_metrics_and_readiness_follow_the_store_and_the_workers() -> None:
    publisher = SimpleNamespace(store_ok=True, held=0, dropped=0)
    pipeline = SimpleNamespace(snapshots_missing=3, degrade_levels=lambda: {"shop": 2.0},
                               degrade_steps=lambda: {("shop", "degrade"): 3.0, ("shop", "recover"): 1.0})
    stages = SimpleNamespace(worker_stats=lambda: {
        "ocr": {"died": 1, "replaced": 1, "gap_s_last": 6.5, "gap_s_total": 6.5},
        "asr": {"died": 1, "replaced": 0, "gap_s_last": None, "gap_s_total": 0.0},
    })
    metrics = Metrics(process=False)
    watch_health(metrics, pipeline=pipeline, publisher=publisher, stages=stages)
    with MetricsServer(metrics.registry, port=0, ready=lambda: publisher.store_ok) as server:
        got = scrape(server.url)
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        publisher.store_ok, publisher.held, publisher.dropped = False, 4, 1
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        down = scrape(server.url)
    assert got[("livewatch_snapshots_missing_total", ())] == 3
    assert got[("livewatch_alert_store_writable", ())] == 1
    assert (down[("livewatch_alert_store_writable", ())], down[("livewatch_alerts_held", ())]) == (0, 4)
    assert down[("livewatch_alerts_lost_total", ())] == 1
    assert got[("livewatch_worker_deaths_total", (("stage", "ocr"),))] == 1
    assert got[("livewatch_worker_replacements_total", (("stage", "asr"),))] == 0
    assert got[("livewatch_worker_restart_gap_seconds", (("stage", "ocr"),))] == 6.5
    assert ("livewatch_worker_restart_gap_seconds", (("stage", "asr"),)) not in got, "no gap until one is known"
    assert got[("livewatch_worker_down_seconds_total", (("stage", "ocr"),))] == 6.5
    assert got[("livewatch_degrade_level", (("stream_id", "shop"),))] == 2
    assert got[("livewatch_degrade_steps_total", (("direction", "degrade"), ("stream_id", "shop")))] == 3
    assert got[("livewatch_degrade_steps_total", (("direction", "recover"), ("stream_id", "shop")))] == 1


@pytest.mark.parametrize(("level", "expected"), [("INFO", logging.CRITICAL), ("warning", logging.CRITICAL),
                                                 ("DEBUG", logging.DEBUG)])
def test_the_kafka_client_is_silent_unless_debugging(level: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    kafka_log = logging.getLogger("kafka")
    monkeypatch.setattr(kafka_log, "level", kafka_log.level)
    quiet_kafka_client(level)
    assert kafka_log.level == expected
    assert logging.getLogger("kafka.net.manager").getEffectiveLevel() == expected
