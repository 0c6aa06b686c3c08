"""A worker runs for days while streams come and go: a stream added and removed leaves nothing behind.

The real pipeline and the real stages (OCR tracking, logos, ASR in-process with Silero VAD,
fingerprints, rules with their product segments) on a generated clip replayed live; only the
OCR engine and Whisper are stand-ins, so the test takes seconds. ``tests.leaks.held`` walks the
whole object graph, so per-stream state added later is checked too.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from asr import AsrOptions, AsrStage
from events import Evidence, Modality, StreamState
from frames.fingerprint import FingerprintIndex
from livewatch.config import Config, Detectors
from livewatch.distributed import RulesService, RulesServiceOptions, evidence_record, finish_record
from livewatch.metrics import Metrics
from livewatch.sinks import CollectingSink, InlineRules, RulesThread
from livewatch.stages import Stages
from livewatch.worker import Pipeline
from logos import LogoStage
from ocr import OcrOptions, OcrStage
from tests.conftest import kafka_for
from tests.fakes import CardEngine, SilentWhisper
from tests.leaks import held
from tests.media import make_clip, make_not_video
from tests.waiting import wait_until

CARD = "高仿LV包 1:1 原单 ¥99"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "shop.mp4", 3, size=(320, 180))


@pytest.fixture
def stages(tmp_path: Path) -> Iterator[Stages]:
    cfg = Config(data_dir=tmp_path, detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=False))
    loaded = Stages.load(cfg, rules_only=True)
    ocr = OcrStage(OcrOptions(engine="rapid", workers=0), engine_factory=lambda _options: CardEngine(CARD))
    asr = AsrStage(AsrOptions(workers=0), model=SilentWhisper())
    fingerprints = FingerprintIndex()
    built = Stages(
        brands=loaded.brands,
        rules=loaded.rules,
        vision=[ocr, LogoStage(loaded.brands)],
        every_frame=[fingerprints],
        audio=[asr, fingerprints.audio],
        ocr=ocr,
        asr=asr,
        fingerprints=fingerprints,
    )
    yield built
    built.close()


def _config(tmp_path: Path, *, live: bool) -> Config:
    cfg = Config(data_dir=tmp_path)
    return cfg.replace(ingest=dataclasses.replace(cfg.ingest, realtime=live, loop=live))


def test_a_live_stream_removed_and_discarded_leaves_nothing_in_the_worker_or_any_stage(
    clip: Path, tmp_path: Path, stages: Stages
) -> None:
    sink = CollectingSink()
    pipeline = Pipeline(_config(tmp_path, live=True), stages, RulesThread(stages.rules, sink))
    try:
        pipeline.add_stream("shop", str(clip), "session-1")
        pipeline.add_stream("other", str(clip), "session-2")

        def watched() -> bool:
            pipeline.schedule()  # the scheduler's readings and knobs touch every stage's per-stream state
            st = {s.stream_id: s for s in pipeline.status()}["shop"]
            return st.state is StreamState.LIVE and st.frames_sampled >= 3 and st.audio_seconds >= 2 and bool(sink.alerts)

        wait_until(watched, 60, lambda: f"frames, audio and an alert of the live stream: {pipeline.status()}")
        assert held(pipeline, "shop", ignore=frozenset({"alert_sink"})), "the check sees the live stream's state"

        pipeline.remove_stream("shop", timeout=60)
        assert pipeline.discard_stream("shop")
        assert held(pipeline, "shop", ignore=frozenset({"alert_sink"})) == []
        assert [s.stream_id for s in pipeline.status()] == ["other"], "the other stream goes on"
    finally:
        pipeline.close(timeout=60)


def test_a_stream_whose_source_never_opens_leaves_no_rule_state(tmp_path: Path, stages: Stages) -> None:
    """``add_stream`` opens the stream's watch session in the rules before the source is tried."""
    pipeline = Pipeline(_config(tmp_path, live=False), stages, InlineRules(stages.rules, CollectingSink()),
                        on_caller_thread=True)
    pipeline.add_stream("junk", str(make_not_video(tmp_path / "notes.mp4")), "session-1")
    (status,) = pipeline.status()
    assert status.state is StreamState.FAILED
    assert held(stages, "junk") == []
    assert pipeline.discard_stream("junk") and held(pipeline, "junk") == []


def _stream_series(metrics: Metrics, stream_id: str) -> set[str]:
    """The metrics that have a series of the stream."""
    return {family.name for family in metrics.registry.collect() for sample in family.samples
            if sample.labels.get("stream_id") == stream_id}


@pytest.mark.slow
def test_a_rules_service_session_closed_leaves_no_state_and_no_series(kafka_broker: str, tmp_path: Path) -> None:
    """A rules service runs for days while streams come and go: a finished session keeps no per-stream counter."""
    kafka = kafka_for(kafka_broker, evidence=f"livewatch.evidence.{uuid.uuid4().hex}")
    metrics = Metrics(process=False)
    service = RulesService(Config(data_dir=tmp_path, kafka=kafka), RulesServiceOptions(evidence_partitions=1), metrics)
    try:
        card = Evidence("shop", Modality.OCR, 1.0, 4.0, CARD, 0.95, time.time(), observation_id="card-1")
        service.handle(*evidence_record(card, "session-1", "rtmp://example/shop"), partition=0)
        service.handle(*evidence_record(dataclasses.replace(card, stream_id="other"), "session-2", None), partition=0)
        assert _stream_series(metrics, "shop") == {"livewatch_evidence_consumed", "livewatch_alerts"}
        assert held(service, "shop")

        service.handle(*finish_record("shop", "session-1"), partition=0)
        assert _stream_series(metrics, "shop") == set()
        assert held(service, "shop") == []
        assert _stream_series(metrics, "other") == {"livewatch_evidence_consumed", "livewatch_alerts"}, "the other goes on"
    finally:
        service.close(10.0)


@pytest.mark.slow
def test_a_rules_service_closes_a_session_that_went_silent(kafka_broker: str, tmp_path: Path) -> None:
    """A worker that dies sends no end-of-stream marker; if no worker takes the stream over (it was
    removed meanwhile), the session is closed once idle, or its state and series stay for good."""
    kafka = kafka_for(kafka_broker, evidence=f"livewatch.evidence.{uuid.uuid4().hex}")
    metrics = Metrics(process=False)
    options = RulesServiceOptions(evidence_partitions=1)
    service = RulesService(Config(data_dir=tmp_path, kafka=kafka), options, metrics)
    try:
        card = Evidence("shop", Modality.OCR, 1.0, 4.0, CARD, 0.95, time.time(), observation_id="card-1")
        service.handle(*evidence_record(card, "session-1", "rtmp://example/shop"), partition=0)
        shop_seen_by = time.monotonic()
        service.handle(*evidence_record(dataclasses.replace(card, stream_id="other"), "session-2", None), partition=0)

        assert service.close_idle_sessions() == [], "nothing is idle yet"
        assert service.close_idle_sessions(now=shop_seen_by + options.idle_session_s) == ["shop"]
        assert held(service, "shop") == [] and _stream_series(metrics, "shop") == set()
        assert held(service, "other"), "a stream heard from later stays open"
    finally:
        service.close(10.0)
