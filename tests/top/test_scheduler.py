"""The CPU budget: the degrade/recover order, hysteresis, the knobs, status and metrics, thread sizing.

The decision core is pure (readings and a clock given by the test). One test runs the real
pipeline on a clip replayed live, with a vision detector that holds frames until released, so
the stream's vision queue really fills, and shows each level reaching the stages, the stream
status and /metrics, then the recovery once the detector lets frames through.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import pytest

from asr import AsrOptions, AsrStage
from events import ConfigError, Evidence, SampledFrame, StreamState
from livewatch.config import Config, Detectors
from livewatch.health import watch_health
from livewatch.metrics import Metrics
from livewatch.scheduler import (
    CHEAPER_SPEECH,
    FEWER_OCR_READS,
    FULL,
    LEVELS,
    LONGER_SAMPLING,
    Load,
    Scheduler,
    SchedulerOptions,
    available_cores,
    pressure,
)
from livewatch.service import format_status
from livewatch.sinks import CollectingSink, InlineRules, RulesThread
from livewatch.stages import Stages
from livewatch.worker import Pipeline
from ocr import OcrOptions, OcrStage
from tests.fakes import CardEngine, SilentWhisper
from tests.leaks import held
from tests.media import make_clip
from tests.waiting import wait_until

OPTS = SchedulerOptions(cores=2)  # degrade after 5 s of high load, recover after 30 s of low load
HIGH = Load(vision_wait_s=3.0)  # over the 2 s limit
MID = Load(vision_wait_s=1.5)  # between half the limit and the limit
LOW = Load(vision_wait_s=0.2)


def feed(scheduler: Scheduler, load: Load, start: float, end: float, every: float = 1.0) -> list[int]:
    """Readings of ``load`` from ``start`` to ``end`` (inclusive) every ``every`` s; the levels stepped to."""
    steps = []
    t = start
    while t <= end + 1e-9:
        step = scheduler.observe("s", load, t)
        if step is not None:
            steps.append(step.level)
        t += every
    return steps


# --- the pure core --------------------------------------------------------------


def test_high_load_degrades_one_step_at_a_time_in_the_known_order_then_stops() -> None:
    scheduler = Scheduler(OPTS)
    assert feed(scheduler, HIGH, 0, 4) == [], "a few seconds over the limit are not enough"
    assert feed(scheduler, HIGH, 5, 5) == [FEWER_OCR_READS]
    assert feed(scheduler, HIGH, 6, 9) == [], "each step waits a full period for the previous one to act"
    assert feed(scheduler, HIGH, 10, 60) == [CHEAPER_SPEECH, LONGER_SAMPLING], "then the last level holds"
    state = scheduler.state("s")
    assert (state.level, LEVELS[state.level], state.degrades, state.recoveries) == (3, "longer sampling interval", 3, 0)
    assert "frames wait 3.0 s for vision" in state.reason


def test_low_load_recovers_in_the_reverse_order_slower_than_it_degraded() -> None:
    scheduler = Scheduler(OPTS)
    feed(scheduler, HIGH, 0, 15)
    assert scheduler.state("s").level == LONGER_SAMPLING
    assert feed(scheduler, LOW, 16, 45) == [], "recovery needs 30 s of low load"
    assert feed(scheduler, LOW, 46, 46) == [CHEAPER_SPEECH]
    assert feed(scheduler, LOW, 47, 200) == [FEWER_OCR_READS, FULL]
    state = scheduler.state("s")
    assert (state.level, state.reason, state.degrades, state.recoveries) == (FULL, "", 3, 3)


def test_load_around_a_limit_does_not_flap() -> None:
    """High and in-between readings alternating never degrade; in-between ones never recover."""
    scheduler = Scheduler(OPTS)
    for t in range(0, 120, 2):
        assert scheduler.observe("s", HIGH, t) is None
        assert scheduler.observe("s", MID, t + 1) is None
    feed(scheduler, HIGH, 200, 205)
    assert scheduler.state("s").level == FEWER_OCR_READS
    assert feed(scheduler, MID, 206, 600) == [], "load that is not low keeps the level"
    for t in range(600, 700, 10):  # low for 9 s, then one in-between reading: the recovery clock restarts
        feed(scheduler, LOW, t, t + 8)
        assert scheduler.observe("s", MID, t + 9) is None
    assert scheduler.state("s").level == FEWER_OCR_READS


def test_streams_degrade_on_their_own_pressure() -> None:
    """Each stream has its share: the one over it degrades, the others keep full quality."""
    scheduler = Scheduler(OPTS)
    for t in range(10):
        scheduler.observe("busy", Load(asr_lag_s=5.0), t)
        scheduler.observe("calm", LOW, t)
    assert scheduler.state("busy").level == FEWER_OCR_READS and scheduler.state("calm").level == FULL
    scheduler.forget("busy")
    assert scheduler.state("busy").level == FULL and list(scheduler.states()) == ["calm"]


def test_max_level_caps_the_degradation() -> None:
    scheduler = Scheduler(dataclasses.replace(OPTS, max_level=0))
    assert feed(scheduler, HIGH, 0, 100) == []
    with pytest.raises(ConfigError):
        SchedulerOptions(max_level=4)


def test_pressure_names_the_reading_closest_to_its_limit() -> None:
    share, what = pressure(Load(vision_wait_s=1.0, asr_lag_s=4.5, runner_lag_s=1.0), OPTS)
    assert share == pytest.approx(1.5) and "speech waits 4.5 s" in what
    share, what = pressure(Load(frames_dropped=2), OPTS)
    assert share > 1 and "2 frame(s) dropped" in what
    assert pressure(Load(vision_fill=1.0), OPTS)[0] >= 1.0, "a full vision queue is high pressure"
    assert pressure(Load(asr_backlog_s=40.0), OPTS)[0] > 1.0
    assert pressure(Load(), OPTS)[0] == 0.0


def test_each_level_sets_its_knob_on_top_of_the_previous_ones() -> None:
    def at(level: int) -> tuple[float, bool, float]:
        s = OPTS.settings(level, full_detect_interval_s=3.0, sample_interval_s=1.0)
        return s.full_detect_interval_s, s.speech_degraded, s.sample_interval_s

    assert [at(level) for level in range(4)] == [
        (3.0, False, 1.0), (9.0, False, 1.0), (9.0, True, 1.0), (9.0, True, 2.0)
    ]


def test_threads_are_sized_from_one_core_count() -> None:
    """Live, OCR and ASR share the cores; ``scan`` runs them one after the other, each with all of them."""
    two = SchedulerOptions(cores=2)
    live = two.threads(ocr_workers=1, asr_workers=1)
    assert (live.vision, live.ocr, live.asr) == (2, 1, 1)
    inline = two.threads(ocr_workers=1, asr_workers=0, inline=True)
    assert (inline.ocr, inline.asr) == (2, 2)
    eight = SchedulerOptions(cores=8).threads(ocr_workers=2, asr_workers=1)
    assert (eight.vision, eight.ocr, eight.asr) == (8, 2, 4)
    assert SchedulerOptions(cores=1).threads(ocr_workers=0, asr_workers=1) == SchedulerOptions(cores=1).threads(
        ocr_workers=1, asr_workers=1)


def test_available_cores_follows_a_cgroup_quota(tmp_path: Path) -> None:
    mine = available_cores(tmp_path)  # no quota file: the affinity mask
    assert mine >= 1
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert available_cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cores(tmp_path) == mine


def test_config_reads_the_core_count_from_the_environment() -> None:
    assert Config.from_env({"LIVEWATCH_CORES": "6"}).scheduler.cores == 6
    with pytest.raises(ConfigError, match="LIVEWATCH_CORES"):
        Config.from_env({"LIVEWATCH_CORES": "0"})


# --- the real pipeline ----------------------------------------------------------------


class Gate:
    """A vision detector that holds the frames it is given until ``release`` (a saturated machine)."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def process(self, frame: SampledFrame) -> list[Evidence]:
        self.open.wait(60)
        return []

    def finish(self, stream_id: str) -> list[Evidence]:
        return []

    def close(self) -> None:
        self.open.set()


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "shop.mp4", 3, size=(320, 180))


def test_the_level_reaches_the_stages_the_status_the_log_and_metrics(clip: Path, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="livewatch.worker")
    cfg = Config(data_dir=tmp_path, detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=False))
    cfg = cfg.replace(ingest=dataclasses.replace(cfg.ingest, realtime=True, loop=True, sample_interval_s=0.25))
    loaded = Stages.load(cfg, rules_only=True)
    ocr = OcrStage(OcrOptions(engine="rapid", workers=0), engine_factory=lambda _options: CardEngine("正品保障"))
    asr = AsrStage(AsrOptions(workers=0), model=SilentWhisper())
    gate = Gate()
    stages = Stages(brands=loaded.brands, rules=loaded.rules, vision=[ocr, gate], audio=[asr], ocr=ocr, asr=asr)
    pipeline = Pipeline(cfg, stages, RulesThread(stages.rules, CollectingSink()))
    metrics = Metrics(process=False)
    watch_health(metrics, pipeline=pipeline)
    try:
        pipeline.add_stream("shop", str(clip), "session-1")
        wait_until(lambda: pipeline.status()[0].frames_dropped > 0, 60,
                   lambda: f"the held detector to fill the stream's vision queue: {pipeline.status()}")
        runner = pipeline._runners["shop"]
        tracker = ocr._streams["shop"].regions

        levels = []
        for now in (0.0, 5.0, 10.0, 15.0, 20.0):
            pipeline.schedule(now)
            status = pipeline.status()[0]
            levels.append(status.degrade_level)
            assert status.state is StreamState.LIVE
        assert levels == [0, 1, 2, 3, 3]
        assert "vision" in status.degrade_reason and "level 3 (longer sampling interval)" in format_status(status)
        assert tracker.full_detect_interval_s == 3 * cfg.ocr.full_detect_interval_s  # level 1
        assert status.asr_degraded and asr.status("shop").degraded  # level 2
        assert runner._source._grid.interval == 0.5  # level 3
        steps = [r for r in caplog.records if r.getMessage().startswith("degraded to level")]
        assert [r.degrade_level for r in steps] == [1, 2, 3]  # type: ignore[attr-defined]
        assert all(r.stream_id == "shop" and r.reason for r in steps)  # type: ignore[attr-defined]
        text = metrics.render().decode()
        assert 'livewatch_degrade_level{stream_id="shop"} 3.0' in text
        assert 'livewatch_degrade_steps_total{direction="degrade",stream_id="shop"} 3.0' in text

        gate.open.set()  # the machine has CPU again: the queue drains, the levels come back one by one
        wait_until(lambda: pipeline._vision is not None and pipeline._vision.backlog("shop")[0] == 0, 60,
                   "the vision queue to drain")
        pipeline.schedule(90.0)  # takes in the frames dropped before the release (high load, at the last level)
        for now in (100.0, 130.0, 160.0, 190.0):
            pipeline.schedule(now)
        status = pipeline.status()[0]
        assert status.degrade_level == 0 and status.degrade_reason == ""
        assert tracker.full_detect_interval_s == cfg.ocr.full_detect_interval_s
        assert not asr.status("shop").degraded and runner._source._grid.interval == 0.25
        assert 'livewatch_degrade_steps_total{direction="recover",stream_id="shop"} 3.0' in metrics.render().decode()

        pipeline.remove_stream("shop", timeout=60)
        assert pipeline.discard_stream("shop")
        assert held(pipeline, "shop", ignore=frozenset({"alert_sink"})) == []
        assert "livewatch_degrade_level{" not in metrics.render().decode()
    finally:
        gate.open.set()
        pipeline.close(timeout=60)


def test_scan_is_never_scheduled(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=False))
    stages = Stages.load(cfg, rules_only=True)
    pipeline = Pipeline(cfg, stages, InlineRules(stages.rules, CollectingSink()), on_caller_thread=True)
    try:
        assert pipeline.schedule(0.0) == [] and pipeline.degrade_levels() == {}
    finally:
        pipeline.close()


def test_the_status_loop_hands_free_memory_back_at_most_every_30_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The main process's streams free blocks inside many threads' arenas; its status loop trims them."""
    trims: list[float] = []
    monkeypatch.setattr("events.malloc.release_free_memory", lambda: trims.append(1.0) or True)
    cfg = Config(data_dir=tmp_path, detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=False))
    stages = Stages.load(cfg, rules_only=True)
    pipeline = Pipeline(cfg, stages, RulesThread(stages.rules, CollectingSink()))
    try:
        for now in (1000.0, 1001.0, 1029.0):
            pipeline.schedule(now)
        assert len(trims) == 1, "the first reading trims, the next ones within 30 s do not"
        pipeline.schedule(1030.0)
        assert len(trims) == 2
    finally:
        pipeline.close()
