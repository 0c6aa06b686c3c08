"""The worker's pipeline when writing fails: snapshots on a full disk, an alert the sink refuses.

Real ingest, dedup, rules and snapshot store on a small generated clip; only the OCR is a stand-in
(it "reads" the same counterfeit card on every frame), so the test takes seconds.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from events import Alert, Evidence, Modality, SampledFrame
from livewatch.config import Config, Detectors
from livewatch.sinks import AlertSink, CollectingSink, InlineRules
from livewatch.stages import Stages
from livewatch.worker import Pipeline
from tests.faults import SnapshotsFail
from tests.media import make_clip

CARD = "高仿LV包 1:1 原单 ¥99"


class CardReader:
    """An OCR stand-in (an ``events.FrameDetector``): it reads the counterfeit card on every sampled frame."""

    def process(self, frame: SampledFrame) -> list[Evidence]:
        return [Evidence(frame.stream_id, Modality.OCR, frame.media_time, frame.media_time + 1.0, CARD, 0.95,
                         time.time(), observation_id="card-1")]

    def finish(self, stream_id: str) -> list[Evidence]:
        return []

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "card.mp4", 4, size=(320, 180), with_audio=False)


def _pipeline(tmp_path: Path, sink: AlertSink, stages: type[Stages] = Stages) -> Pipeline:
    """``scan``'s wiring: the card reader and the real rules, all on the caller's thread."""
    cfg = Config(data_dir=tmp_path, detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=False))
    loaded = Stages.load(cfg, rules_only=True)
    return Pipeline(cfg, stages(brands=loaded.brands, rules=loaded.rules, vision=[CardReader()]),
                    InlineRules(loaded.rules, sink), on_caller_thread=True)


def test_a_snapshot_that_cannot_be_written_never_holds_the_alert_back(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    full = SnapshotsFail().install(monkeypatch)
    full.on.set()
    sink = CollectingSink()
    pipeline = _pipeline(tmp_path, sink)
    pipeline.add_stream("shop", str(clip))
    assert sink.alerts, "the alert is raised although no snapshot could be written"
    for alert in sink.alerts:
        screen = [e for e in alert.evidence if e.modality is Modality.OCR]
        assert screen and all(e.snapshot_missing and e.snapshot_path is None for e in screen)
    assert full.refused >= 1 and pipeline.snapshots_missing >= 1
    lines = [r for r in caplog.records if "snapshot(s) not written" in r.getMessage()]
    assert lines and {r.alert_id for r in lines} <= {a.alert_id for a in sink.alerts}
    assert all(r.getMessage().startswith(f"alert {r.alert_id} rev ") for r in lines), "one line naming the alert"
    assert "No space left on device" in lines[0].getMessage()
    assert not list((tmp_path / "snapshots").glob("*.jpg"))

    full.on.clear()  # space again: the next watch gets its pictures
    sink2 = CollectingSink()
    pipeline2 = _pipeline(tmp_path, sink2)
    pipeline2.add_stream("shop", str(clip))
    screen = [e for a in sink2.alerts for e in a.evidence if e.modality is Modality.OCR]
    assert screen and all(e.snapshot_path and not e.snapshot_missing for e in screen)


def test_an_alert_the_sink_refuses_is_logged_by_id_and_the_rest_go_on(
    clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Refusing(CollectingSink):
        def __init__(self) -> None:
            super().__init__()
            self.refused: list[Alert] = []

        def emit(self, alert: Alert) -> None:
            if not self.refused:
                self.refused.append(alert)
                raise RuntimeError("boom")
            super().emit(alert)

    caplog.set_level(logging.ERROR)
    sink = Refusing()
    cfg = Config(data_dir=tmp_path, detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=False))
    loaded = Stages.load(cfg, rules_only=True)
    rules = InlineRules(loaded.rules, sink)
    Pipeline(cfg, Stages(brands=loaded.brands, rules=loaded.rules, vision=[CardReader()]), rules,
             on_caller_thread=True).add_stream("shop", str(clip))
    (refused,) = sink.refused
    (line,) = [r for r in caplog.records if "could not be handed to the outbox" in r.getMessage()]
    assert line.getMessage().startswith(f"alert {refused.alert_id} rev {refused.revision}")
    assert rules.alerts_failed == 1
    assert sink.alerts, "later revisions still reach the sink"


def test_the_session_given_to_add_stream_scopes_the_ids_the_rules_log(
    clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rules.engine")
    ids = {}
    for session in ("", "one", "two"):
        sink = CollectingSink()
        _pipeline(tmp_path, sink).add_stream("shop", str(clip), session)
        ids[session] = {a.alert_id for a in sink.alerts}
    assert ids[""] and ids["one"] and ids["two"]
    assert not ids[""] & ids["one"] and not ids["one"] & ids["two"], "a new session raises new alerts"
    logged = {r.getMessage().split()[1] for r in caplog.records if r.getMessage().startswith("alert ")}
    assert ids["one"] | ids["two"] <= logged, "the id the engine logs is the id the sink gets"


def test_an_ended_stream_is_forgotten_by_the_detectors_after_its_last_alert(clip: Path, tmp_path: Path) -> None:
    """A worker runs for days: it must not keep the transcript and status of every stream it watched."""
    forgotten: list[str] = []

    class Remembering(Stages):
        def forget(self, stream_id: str) -> None:
            forgotten.append(stream_id)

    sink = CollectingSink()
    _pipeline(tmp_path, sink, Remembering).add_stream("shop", str(clip))
    assert sink.alerts and forgotten == ["shop"]
