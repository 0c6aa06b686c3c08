"""The evidence sinks: where a pipeline's evidence goes, each kind on its own, with small fakes.

The rules are a fake that raises one alert per piece of evidence and one when a stream closes;
the alert sink collects. The Kafka sink gets a fake producer. A pipeline on a generated clip
shows it hands everything to whatever sink it holds and completes the alerts raised there.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from events import Alert, Category, Evidence, Modality, SampledFrame, Severity, VideoFrame
from livewatch import distributed
from livewatch.config import Config, Detectors
from livewatch.distributed import KafkaEvidenceSink, Sessions, ocr_timer
from livewatch.metrics import Metrics
from livewatch.sinks import CollectingSink, Complete, InlineRules, RulesThread, Tap
from livewatch.stages import Stages
from livewatch.worker import Pipeline
from ocr import OcrOptions, OcrStage
from tests.media import make_clip
from tests.waiting import wait_until


def _evidence(stream_id: str, t: float, text: str = "高仿") -> Evidence:
    return Evidence(stream_id, Modality.OCR, t, t + 1.0, text, 0.9, time.time())


def _alert(stream_id: str, name: str, t: float) -> Alert:
    return Alert(alert_id=f"{stream_id}-{name}", stream_id=stream_id, rule_id="r", rule_version=1,
                 category=Category.COUNTERFEIT, severity=Severity.HIGH, score=0.9, media_start=t, media_end=t + 1,
                 evidence=())


class FakeRules:
    """An alert per piece of evidence, one more when the stream closes; notes the thread of each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (call, argument, thread name)
        self.gate = threading.Event()
        self.gate.set()

    def open_stream(self, stream_id: str, scope: str = "") -> None:
        self.calls.append(("open", f"{stream_id}/{scope}", threading.current_thread().name))

    def process(self, evidence: Evidence) -> list[Alert]:
        self.gate.wait()
        self.calls.append(("process", evidence.text, threading.current_thread().name))
        return [_alert(evidence.stream_id, evidence.text, evidence.media_start)]

    def finish(self, stream_id: str) -> list[Alert]:
        self.calls.append(("finish", stream_id, threading.current_thread().name))
        return [_alert(stream_id, "closed", 99.0)]


def _completed(alert: Alert) -> Alert:
    return dataclasses.replace(alert, title="completed")


def test_inline_rules_judge_on_the_callers_thread_and_deliver_completed_alerts() -> None:
    rules, sink = FakeRules(), CollectingSink()
    inline = InlineRules(rules, sink)
    inline.start(_completed)
    inline.open("shop", "session-1")
    inline.publish(_evidence("shop", 1.0, "a"))
    assert [a.alert_id for a in sink.alerts] == ["shop-a"], "judged before publish returns"
    inline.finish("shop")
    inline.close(1.0)
    me = threading.current_thread().name
    assert rules.calls == [("open", "shop/session-1", me), ("process", "a", me), ("finish", "shop", me)]
    assert [a.alert_id for a in sink.alerts] == ["shop-a", "shop-closed"]
    assert {a.title for a in sink.alerts} == {"completed"} and inline.depth() == 0


def test_an_alert_that_cannot_be_delivered_is_counted_and_logged_and_the_next_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def complete(alert: Alert) -> Alert:
        if alert.alert_id == "shop-bad":
            raise OSError("disk full")
        return alert

    rules, sink = FakeRules(), CollectingSink()
    inline = InlineRules(rules, sink)
    inline.start(complete)
    caplog.set_level(logging.ERROR)
    for text in ("bad", "good"):
        inline.publish(_evidence("shop", 1.0, text))
    assert [a.alert_id for a in sink.alerts] == ["shop-good"] and inline.alerts_failed == 1
    assert [r.getMessage() for r in caplog.records] == ["alert shop-bad rev 1 could not be handed to the outbox"]


def test_the_rules_thread_judges_behind_a_queue_and_finish_waits_for_earlier_evidence() -> None:
    rules, sink = FakeRules(), CollectingSink()
    thread = RulesThread(rules, sink)
    thread.start(_completed)
    try:
        thread.open("shop", "s")
        rules.gate.clear()  # the rules are busy: publish still returns, the evidence waits in the queue
        for text in ("a", "b", "c"):
            thread.publish(_evidence("shop", 1.0, text))
        wait_until(lambda: thread.depth() == 2, 10, lambda: f"two waiting behind the first: {thread.depth()}")
        assert sink.alerts == []
        finishing = threading.Thread(target=thread.finish, args=("shop",))
        finishing.start()
        rules.gate.set()
        finishing.join(10)
        assert not finishing.is_alive()
        assert [a.alert_id for a in sink.alerts] == ["shop-a", "shop-b", "shop-c", "shop-closed"], \
            "finish returns once the evidence before it is judged and the stream's alerts are closed"
        assert {a.title for a in sink.alerts} == {"completed"}
        assert {thread_name for call, _, thread_name in rules.calls if call != "open"} == {"rules"}
    finally:
        thread.close(10)


def test_closing_the_rules_thread_judges_what_is_queued_first() -> None:
    rules, sink = FakeRules(), CollectingSink()
    thread = RulesThread(rules, sink)
    thread.start(_completed)
    rules.gate.clear()
    for text in ("a", "b"):
        thread.publish(_evidence("shop", 1.0, text))
    rules.gate.set()
    thread.close(10)
    assert [a.alert_id for a in sink.alerts] == ["shop-a", "shop-b"]
    thread.close(10)  # twice is harmless


class RecordingSink:
    """An evidence sink that notes every call (what a pipeline or a tap hands on)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.complete: Complete | None = None

    def start(self, complete: Complete) -> None:
        self.complete = complete
        self.calls.append(("start", None))

    def open(self, stream_id: str, session: str) -> None:
        self.calls.append(("open", (stream_id, session)))

    def publish(self, evidence: Evidence) -> None:
        self.calls.append(("publish", evidence.text))

    def finish(self, stream_id: str) -> None:
        self.calls.append(("finish", stream_id))

    def depth(self) -> int:
        return 7

    def close(self, timeout: float) -> None:
        self.calls.append(("close", timeout))


def test_a_tap_records_each_piece_then_hands_everything_on() -> None:
    inner, recorded = RecordingSink(), []

    def record(ev: Evidence) -> None:
        recorded.append(ev.text)
        assert ("publish", ev.text) not in inner.calls, "recorded before it is handed on"

    tap = Tap(record, inner)
    tap.start(_completed)
    tap.open("shop", "s")
    tap.publish(_evidence("shop", 1.0, "a"))
    tap.finish("shop")
    tap.close(3.0)
    assert recorded == ["a"] and tap.depth() == 7 and inner.complete is _completed
    assert inner.calls == [("start", None), ("open", ("shop", "s")), ("publish", "a"), ("finish", "shop"), ("close", 3.0)]


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
        self.flushed: float | None = None
        self.closed = False

    def send(self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        self.sent.append((topic, key, value, headers))
        return type("Future", (), {"add_errback": lambda self, f: None})()

    def flush(self, timeout: float) -> None:
        self.flushed = timeout

    def close(self, timeout: float) -> None:
        self.closed = True


def test_the_kafka_sink_sends_evidence_and_the_end_marker_with_the_streams_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()
    monkeypatch.setattr(distributed, "make_producer", lambda *a, **kw: producer)
    sessions = Sessions()
    token = sessions.open("shop", "rtmp://example/shop")
    sink = KafkaEvidenceSink(Config().kafka, sessions)
    sink.start(_completed)  # nothing raised here: the rules service raises the alerts
    sink.open("shop", token)
    sink.publish(_evidence("shop", 1.0, "a"))
    sink.finish("shop")
    sink.close(2.0)
    (topic, key, value, headers), (_, _, _, end) = producer.sent
    assert topic == sink.topic and key == b"shop" and b'"a"' in value
    assert dict(headers) == {"kind": b"evidence", "session": token.encode(), "url": b"rtmp://example/shop"}
    assert dict(end) == {"kind": b"finish", "session": token.encode()}
    assert producer.flushed == 2.0 and producer.closed and sink.depth() == 0


def test_a_pipeline_hands_everything_to_its_sink_and_completes_the_alerts_raised_there(tmp_path: Path) -> None:
    class CardReader:
        def process(self, frame: SampledFrame) -> list[Evidence]:
            return [_evidence(frame.stream_id, frame.media_time, "card")]

        def finish(self, stream_id: str) -> list[Evidence]:
            return []

        def close(self) -> None:
            pass

    clip = make_clip(tmp_path / "card.mp4", 2, size=(320, 180), with_audio=False)
    cfg = Config(data_dir=tmp_path, detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=False))
    loaded = Stages.load(cfg, rules_only=True)
    sink = RecordingSink()
    pipeline = Pipeline(cfg, Stages(brands=loaded.brands, rules=loaded.rules, vision=[CardReader()]), sink,
                        on_caller_thread=True)
    pipeline.add_stream("shop", str(clip), "session-1")
    assert sink.calls[:2] == [("start", None), ("open", ("shop", "session-1"))]
    assert {c for c, _ in sink.calls[2:-1]} == {"publish"} and sink.calls[-1] == ("finish", "shop")
    assert pipeline.queue_depths()["evidence"] == 7
    assert sink.complete is not None
    completed = sink.complete(_alert("shop", "x", 0.0))
    assert completed.stream_url == str(clip), "the pipeline adds what it knows of the stream"
    (status,) = pipeline.status()
    assert status.alerts == 1 and status.evidence == len(sink.calls) - 3
    pipeline.close(timeout=5.0)
    assert sink.calls[-1] == ("close", 5.0)


class StillEngine:
    name = "fake"

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        return []

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return []


def test_the_vision_timer_times_each_detector_and_the_workers_histogram_takes_ocr_only() -> None:
    class Logos:
        def process(self, frame: SampledFrame) -> list[Evidence]:
            return []

        def finish(self, stream_id: str) -> list[Evidence]:
            return []

        def close(self) -> None:
            pass

    class Failing(Logos):
        def process(self, frame: SampledFrame) -> list[Evidence]:
            raise RuntimeError("boom")

    ocr = OcrStage(OcrOptions(engine="rapid", workers=0), engine_factory=lambda _options: StillEngine())
    metrics = Metrics(process=False)
    timed = ocr_timer(metrics)
    seen: list[tuple[str, float]] = []

    def timer(detector: Any, frame: SampledFrame, seconds: float) -> None:
        seen.append((type(detector).__name__, seconds))
        timed(detector, frame, seconds)

    logos, failing = Logos(), Failing()
    stages = Stages(brands=[], rules=None, vision=[ocr, logos, failing], ocr=ocr, vision_timer=timer)  # type: ignore[arg-type]
    frame = SampledFrame(VideoFrame("shop", 0, 0.0, time.time(), np.zeros((90, 160, 3), np.uint8)), phash=0)
    try:
        with pytest.raises(RuntimeError):
            stages.see(frame)
    finally:
        ocr.close()
    assert [name for name, _ in seen] == ["OcrStage", "Logos", "Failing"], "timed, the failing one too"
    assert metrics.registry.get_sample_value("livewatch_ocr_latency_seconds_count", {"stream_id": "shop"}) == 1
