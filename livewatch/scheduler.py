"""The CPU budget of a worker: threads sized for the machine, and a degrade level per stream.

A worker's stages share a few cores (OCR and ASR worker processes, the vision pool's
threads, one reader thread per stream). Two things here keep that sharing honest:

- **Threads** (``SchedulerOptions.threads``): one number, ``cores`` (what this process may
  use: its CPU affinity, capped by a cgroup CPU quota), from which the vision pool's threads,
  the threads of each OCR worker process and each ASR worker process are derived, instead of
  each assuming it owns the machine. Live, OCR and ASR run at the same time, so they get half
  the cores each (at least one thread); the vision pool gets a thread per core (its threads
  mostly wait for the OCR process; logo matching runs in them). ``scan`` runs the stages one
  after the other on one thread, so there each gets every core.

- **Degrade levels** (``Scheduler``): a pure decision core (no threads, no clock of its own)
  fed periodic ``Load`` readings. A saturated machine degrades in one known order, one step at
  a time, and recovers in the reverse order when load falls:

    0 full quality;
    1 fewer OCR reads of unchanged regions (whole-frame text detection less often);
    2 the cheaper speech tier (beam 1, no temperature fallback, stricter VAD, fitted encoder window);
    3 a longer sampling interval (fewer frames for every vision detector and the fingerprints).

  The level is **per stream**, driven by that stream's own pressure: its vision queue (fill,
  how long its oldest frame waits, frames dropped), its speech (lag, backlog) and its reader's
  lag. The vision pool serves streams round-robin and the ASR worker the stream that waited
  longest, so each stream has a fair share of the machine: a stream that cannot get its work
  done within its share is the one that degrades, and a saturated machine degrades them all.
  The order is the same whatever the pressure is: every step frees CPU on the shared cores.

  Hysteresis: a level goes up when the stream's pressure has stayed high (any reading at or
  over its limit) for ``degrade_after_s``, and down when it has stayed low (every reading at
  most ``low_share`` of its limit, no frame dropped) for ``recover_after_s``; a reading in
  between restarts both clocks, and each step restarts them too, so a step has time to take
  effect before the next. Recovery is deliberately slower than degrading, so a stream at a
  boundary does not flap.

  Every step is returned as a ``Step`` (the worker logs it, shows the level and its reason in
  the stream status and counts it in Prometheus). The last-resort guards stay where they are:
  the vision pool drops the oldest unchanged frame when a stream's queue is full, and ASR drops
  the oldest speech beyond ``max_backlog_s``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from events import ConfigError

LEVELS = ("full", "fewer OCR reads", "cheaper speech", "longer sampling interval")
FULL, FEWER_OCR_READS, CHEAPER_SPEECH, LONGER_SAMPLING = range(len(LEVELS))
MAX_LEVEL = len(LEVELS) - 1


def available_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota.

    ``os.cpu_count()`` counts the host's CPUs, also in a container limited to two of them.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, int(quota) // int(period))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota
    return max(1, cores)


@dataclass(frozen=True)
class Threads:
    """Threads of each kind for one process (see the module docstring)."""

    vision: int  # the vision pool's threads
    ocr: int  # per OCR worker process
    asr: int  # per ASR worker process


@dataclass(frozen=True)
class SchedulerOptions:
    """The CPU budget and how the degrade level moves (seconds; ``*_high_*`` are the pressure limits).

    ``max_level`` caps how far a stream may degrade (0: never). At level 1 the whole-frame
    text detection runs ``full_detect_factor`` times less often; at level 3 frames are sampled
    ``sample_interval_factor`` times further apart.
    """

    cores: int = field(default_factory=available_cores)
    vision_wait_high_s: float = 2.0  # a frame waiting longer misses the on-screen alert promise (2 s)
    asr_lag_high_s: float = 3.0  # speech waiting longer misses the spoken alert promise (3 s)
    asr_backlog_high_s: float = 30.0  # half of ASR's max_backlog_s by default: speech is about to be dropped
    runner_lag_high_s: float = 3.0
    low_share: float = 0.5
    degrade_after_s: float = 5.0
    recover_after_s: float = 30.0
    max_level: int = MAX_LEVEL
    full_detect_factor: float = 3.0
    sample_interval_factor: float = 2.0

    def __post_init__(self) -> None:
        if self.cores < 1 or not 0 <= self.max_level <= MAX_LEVEL:
            raise ConfigError(f"scheduler cores must be >= 1 and max_level 0..{MAX_LEVEL}: fix SchedulerOptions")
        if not 0 < self.low_share < 1 or self.full_detect_factor < 1 or self.sample_interval_factor < 1:
            raise ConfigError("scheduler low_share must be in (0, 1) and the factors >= 1: fix SchedulerOptions")

    def threads(self, *, ocr_workers: int, asr_workers: int, inline: bool = False) -> Threads:
        """Threads for this many OCR and ASR worker processes (0: in-process, one engine)."""
        share = self.cores if inline else max(1, self.cores // 2)
        return Threads(
            vision=max(2, self.cores),  # one stream's logos go on while another waits for OCR
            ocr=max(1, share // max(1, ocr_workers)),
            asr=max(1, share // max(1, asr_workers)),
        )

    def settings(self, level: int, *, full_detect_interval_s: float, sample_interval_s: float) -> Settings:
        """What a stream at ``level`` runs with, from the configured (full quality) values."""
        return Settings(
            full_detect_interval_s=full_detect_interval_s * (self.full_detect_factor if level >= FEWER_OCR_READS else 1.0),
            speech_degraded=level >= CHEAPER_SPEECH,
            sample_interval_s=sample_interval_s * (self.sample_interval_factor if level >= LONGER_SAMPLING else 1.0),
        )


@dataclass(frozen=True)
class Settings:
    """The stage settings of one level (the worker applies them through each stage's knob)."""

    full_detect_interval_s: float
    speech_degraded: bool
    sample_interval_s: float


@dataclass(frozen=True)
class Load:
    """One reading of a stream's pressure.

    ``vision_fill``: share of the stream's vision queue in use (1.0: full);
    ``vision_wait_s``: how long its oldest waiting frame has waited since it was decoded;
    ``frames_dropped``: frames its full vision queue dropped since the last reading;
    ``asr_lag_s`` / ``asr_backlog_s``: how long its oldest waiting speech has waited, how much waits;
    ``runner_lag_s``: how far behind its reader hands frames on.
    """

    vision_fill: float = 0.0
    vision_wait_s: float = 0.0
    frames_dropped: int = 0
    asr_lag_s: float = 0.0
    asr_backlog_s: float = 0.0
    runner_lag_s: float = 0.0


def pressure(load: Load, o: SchedulerOptions) -> tuple[float, str]:
    """The reading closest to (or furthest over) its limit, as a share of that limit, and what it says.

    A dropped frame is over any limit (the queue was full).
    """
    if load.frames_dropped:
        return math.inf, f"{load.frames_dropped} frame(s) dropped from a full vision queue"
    readings = [
        (load.vision_fill, f"vision queue {load.vision_fill:.0%} full"),
        (load.vision_wait_s / o.vision_wait_high_s, f"frames wait {load.vision_wait_s:.1f} s for vision (limit {o.vision_wait_high_s:g} s)"),
        (load.asr_lag_s / o.asr_lag_high_s, f"speech waits {load.asr_lag_s:.1f} s for ASR (limit {o.asr_lag_high_s:g} s)"),
        (load.asr_backlog_s / o.asr_backlog_high_s, f"{load.asr_backlog_s:.0f} s of speech waiting (limit {o.asr_backlog_high_s:g} s)"),
        (load.runner_lag_s / o.runner_lag_high_s, f"reader {load.runner_lag_s:.1f} s behind (limit {o.runner_lag_high_s:g} s)"),
    ]
    return max(readings, key=lambda r: r[0])


@dataclass(frozen=True)
class Step:
    """A level change of one stream: ``level`` is the new level, ``reason`` the pressure behind it."""

    stream_id: str
    previous: int
    level: int
    reason: str

    @property
    def degraded(self) -> bool:
        return self.level > self.previous


@dataclass(frozen=True)
class StreamLevel:
    """Where a stream stands: its level, why (the reason of the step that set it), steps so far."""

    level: int = FULL
    reason: str = ""
    degrades: int = 0
    recoveries: int = 0


@dataclass
class _State:
    level: StreamLevel = field(default_factory=StreamLevel)
    high_since: float | None = None
    low_since: float | None = None


class Scheduler:
    """Per-stream degrade levels from load readings (see the module docstring). Not thread-safe."""

    def __init__(self, options: SchedulerOptions) -> None:
        self.options = options
        self._streams: dict[str, _State] = {}

    def observe(self, stream_id: str, load: Load, now: float) -> Step | None:
        """Take one reading of ``stream_id`` at ``now`` (seconds, monotonic); the step it causes, if any."""
        o = self.options
        st = self._streams.setdefault(stream_id, _State())
        share, what = pressure(load, o)
        if share >= 1.0:
            st.low_since = None
            st.high_since = now if st.high_since is None else st.high_since
            if now - st.high_since >= o.degrade_after_s and st.level.level < o.max_level:
                return self._step(stream_id, st, +1, what, now)
        elif share <= o.low_share:
            st.high_since = None
            st.low_since = now if st.low_since is None else st.low_since
            if now - st.low_since >= o.recover_after_s and st.level.level > FULL:
                return self._step(stream_id, st, -1, f"load low for {now - st.low_since:.0f} s ({what})", now)
        else:
            st.high_since = st.low_since = None
        return None

    def state(self, stream_id: str) -> StreamLevel:
        st = self._streams.get(stream_id)
        return st.level if st is not None else StreamLevel()

    def states(self) -> dict[str, StreamLevel]:
        return {sid: st.level for sid, st in self._streams.items()}

    def forget(self, stream_id: str) -> None:
        self._streams.pop(stream_id, None)

    def _step(self, stream_id: str, st: _State, direction: int, reason: str, now: float) -> Step:
        old = st.level
        level = old.level + direction
        st.level = StreamLevel(
            level=level,
            reason=reason if level > FULL else "",
            degrades=old.degrades + (direction > 0),
            recoveries=old.recoveries + (direction < 0),
        )
        st.high_since = now if direction > 0 else None  # the next step waits a full period again
        st.low_since = now if direction < 0 else None
        return Step(stream_id, old.level, level, reason)
