"""End to end under faults: a full disk during a real run, and a live stream that goes live late.

The full-disk run is ``livewatch run`` in this process (``service.run_live``: real ingest, real
OCR, rules, alert store, publisher, metrics endpoint and a real Kafka-protocol broker), with the
full disk injected where it bites (``tests/faults.py``): snapshot files fail with ENOSPC for the
whole run, and the alert store refuses writes with SQLITE_FULL until ``/readyz`` has been seen
saying "not ready". The late stream is the CLI against nginx-rtmp, as a user runs it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Callable

import httpx
import pytest

import livewatch.service as service
from alerts import AlertStore
from livewatch.broker import free_port
from livewatch.config import Config, Detectors
from tests.conftest import kafka_for, read_topic
from tests.e2e.test_run import COUNTERFEIT_CARD, Cli, alerts_for
from tests.faults import FullDisk, SnapshotsFail
from tests.live_server import LiveServer
from tests.media import make_clip
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ENGINE_LINE = re.compile(r"^alert (\S+) rev (\d+):")


@pytest.fixture(scope="module")
def cards_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two counterfeit cards one after the other: a first alert, then more evidence and revisions."""
    cards = [(0, 6, COUNTERFEIT_CARD), (6, 12, "高仿GUCCI包 原单 1:1 ¥199")]
    return make_clip(tmp_path_factory.mktemp("media") / "cards.mp4", 12, text_cards=cards)


class EngineLines(logging.Handler):
    """The (alert id, revision) of every "alert ... rev ..." line the rules engine logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.keys: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if m := ENGINE_LINE.match(record.getMessage()):
            self.keys.append((m.group(1), int(m.group(2))))


def _until(condition: Callable[[], bool], timeout_s: float, stop: threading.Event) -> bool:
    """Whether ``condition`` came true, for the operator thread: it reports rather than fails, and ends with the run."""
    try:
        return wait_until(lambda: "met" if condition() else "run ended" if stop.is_set() else "", timeout_s,
                          "the operator's condition") == "met"
    except pytest.fail.Exception:
        return False


def _ready(port: int) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def test_a_full_disk_during_a_run_loses_no_alert_and_readyz_says_not_ready_meanwhile(
    cards_clip: Path, kafka_broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    snapshots = SnapshotsFail().install(monkeypatch)
    snapshots.on.set()
    disks: list[FullDisk] = []

    def full_store(*args, **kwargs) -> AlertStore:
        store = AlertStore(*args, **kwargs)
        disks.append(FullDisk.install(store))
        disks[-1].full = True
        return store

    monkeypatch.setattr(service, "AlertStore", full_store)
    engine = EngineLines()
    rules_log = logging.getLogger("rules.engine")
    monkeypatch.setattr(rules_log, "level", logging.INFO)
    rules_log.addHandler(engine)
    port = free_port()
    cfg = Config(data_dir=tmp_path, kafka=kafka_for(kafka_broker), metrics_port=port,
                 detectors=Detectors(asr=False, logos=False, fingerprints=False))
    cfg = cfg.replace(ingest=dataclasses.replace(cfg.ingest, realtime=True, audio=False))
    seen: dict[str, object] = {}
    stop = threading.Event()

    def operator() -> None:
        """Waits for an alert while the store is full, sees /readyz say no, then frees the disk."""
        seen["alert"] = _until(lambda: bool(engine.keys), 180, stop)
        seen["not_ready"] = _until(lambda: _ready(port) == 503, 30, stop)
        seen["refused"] = disks[0].refused if disks else 0
        if disks:
            disks[0].full = False
        seen["ready_again"] = _until(lambda: _ready(port) == 200, 30, stop)

    helper = threading.Thread(target=operator, daemon=True)
    helper.start()
    try:
        code = service.run_live(cfg, [("fulldisk", str(cards_clip))], status_every=1.0, max_seconds=240)
    finally:
        stop.set()
        helper.join(10)
        rules_log.removeHandler(engine)
    assert code == 0, capsys.readouterr().err[-3000:]
    assert seen.get("alert") and seen.get("not_ready") and seen.get("ready_again"), seen
    assert seen["refused"] >= 1, "the store really refused writes while the rules raised alerts"

    records = [r.json() for r in read_topic(kafka_broker, "livewatch.alerts", min_records=len(engine.keys))
               if r.key == b"fulldisk"]
    on_topic = [(a["alert_id"], a["revision"]) for a in records]
    assert engine.keys and Counter(on_topic) == Counter(engine.keys), "every alert the rules raised, once"
    with AlertStore(cfg.store_path) as store:
        stored = [(s.alert_id, s.revision) for s in store.stored(stream_id="fulldisk")]
        assert not store.counts()["unsent"]
    assert Counter(stored) == Counter(engine.keys), "the ids the rules logged are the ids stored"
    screen = [e for a in records for e in a["evidence"] if e["modality"] == "ocr"]
    assert screen and all(e["snapshot_missing"] and e["snapshot_path"] is None for e in screen)
    assert snapshots.refused >= 1 and not list(cfg.snapshot_dir.glob("*.jpg"))

    capsys.readouterr()
    assert service.evidence_verify(cfg) == 0
    verdict = capsys.readouterr().out.strip().splitlines()[-1]
    assert "evidence intact" not in verdict and "no tampering found" in verdict, verdict
    assert re.search(r"\d+ evidence item\(s\) of \d+ alert\(s\) without snapshot", verdict), verdict


def test_run_waits_for_an_rtmp_stream_that_goes_live_later_and_raises_its_alert(
    kafka_broker: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    clip = make_clip(tmp_path_factory.mktemp("media") / "late.mp4", 8, text_cards=[(0, 8, COUNTERFEIT_CARD)])
    with LiveServer() as server:
        cli = Cli(
            "--no-asr", "--kafka", kafka_broker, "run", f"late={server.rtmp_url('late')}",
            "--status-every", "1", "--give-up-after", "90", "--stall-timeout", "3",
            data_dir=tmp_path,
        )
        try:
            cli.wait_for(r"not live yet", timeout_s=180)
            # nobody broadcasts: the run keeps trying (with backoff, attempt after attempt) instead of giving up
            cli.wait_for(r"connect attempt 3 failed", timeout_s=120)
            assert cli.proc.poll() is None, cli.output[-3000:]
            assert not re.search(r"\[late\] failed", cli.output), cli.output[-3000:]
            pusher = server.push(clip, "late")
            pusher.wait_publishing()
            cli.wait_for(r"\[late\] live .* sampled", timeout_s=60)
            alerts_for(kafka_broker, "late", cli, timeout_s=90)
        finally:
            code = cli.stop()
    assert code == 0, cli.output[-3000:]
    engine = [json.loads(line) for line in cli.lines if line.startswith("{") and '"rules.engine"' in line]
    assert any(ENGINE_LINE.match(e["msg"]) for e in engine), cli.output[-3000:]
