"""One typed configuration object for the whole pipeline.

Stages own their options (``IngestOptions``, ``OcrOptions``, ...); this module
only gathers them, together with what belongs to the top floor (broker, data
directory, which detectors run). Environment variables are read here and
nowhere else, so a stage never depends on the process environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from asr import AsrOptions
from events import ConfigError
from frames import DedupOptions
from ingest import IngestOptions
from livewatch.paths import DEFAULT_BRANDS_DIR, DEFAULT_RULES_DIR
from logos import LogoOptions
from ocr import OcrOptions

ENV_PREFIX = "LIVEWATCH_"


@dataclass(frozen=True)
class Detectors:
    """Which detectors run. Turning one off trades coverage for speed."""

    ocr: bool = True
    logos: bool = True
    asr: bool = True
    fingerprints: bool = True


@dataclass(frozen=True)
class Config:
    """Everything ``livewatch run`` / ``scan`` needs, in one place."""

    data_dir: Path = Path("var")
    kafka: str | None = None
    rules_dir: Path = DEFAULT_RULES_DIR
    lexicon_dir: Path | None = None  # None: the rule set's own lexicons/
    brands_dir: Path = DEFAULT_BRANDS_DIR
    protected_dir: Path | None = None
    detectors: Detectors = field(default_factory=Detectors)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    dedup: DedupOptions = field(default_factory=DedupOptions)
    ocr: OcrOptions = field(default_factory=OcrOptions)
    logos: LogoOptions = field(default_factory=LogoOptions)
    asr: AsrOptions = field(default_factory=AsrOptions)
    vision_queue_per_stream: int = 4
    vision_threads: int = 2
    recent_frames_s: float = 60.0
    status_interval_s: float = 5.0
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    split: bool = False  # worker: publish evidence to livewatch.evidence, rules run in rules-service
    min_free_mb: float = 1024.0  # warn at start when the data dir's volume has less free space

    @property
    def store_path(self) -> Path:
        return self.data_dir / "alerts.sqlite3"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"

    def replace(self, **changes: object) -> Config:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the config from ``LIVEWATCH_*`` variables over the defaults."""
        env = os.environ if environ is None else environ
        cfg = cls()
        paths = {
            "DATA_DIR": "data_dir",
            "RULES_DIR": "rules_dir",
            "LEXICON_DIR": "lexicon_dir",
            "BRANDS_DIR": "brands_dir",
            "PROTECTED_DIR": "protected_dir",
        }
        changes: dict[str, object] = {
            attr: Path(env[ENV_PREFIX + key]) for key, attr in paths.items() if env.get(ENV_PREFIX + key)
        }
        if env.get(ENV_PREFIX + "KAFKA"):
            changes["kafka"] = env[ENV_PREFIX + "KAFKA"]
        if env.get(ENV_PREFIX + "METRICS_PORT"):
            changes["metrics_port"] = env_int(env, "METRICS_PORT", 0, minimum=0)
        if env.get(ENV_PREFIX + "METRICS_HOST"):
            changes["metrics_host"] = env[ENV_PREFIX + "METRICS_HOST"].strip()
        if env.get(ENV_PREFIX + "MIN_FREE_MB"):
            changes["min_free_mb"] = float(env_int(env, "MIN_FREE_MB", 0, minimum=0))
        changes["split"] = env_flag(env, "SPLIT", False)
        if env.get(ENV_PREFIX + "OCR_ENGINE"):
            changes["ocr"] = dataclasses.replace(cfg.ocr, engine=env[ENV_PREFIX + "OCR_ENGINE"])
        if env.get(ENV_PREFIX + "ASR_MODEL"):
            changes["asr"] = dataclasses.replace(cfg.asr, model=env[ENV_PREFIX + "ASR_MODEL"])
        return dataclasses.replace(cfg, **changes)


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A yes/no ``LIVEWATCH_<name>``: 1/true/yes/on or 0/false/no/off, any case; unset or empty: ``default``.

    Anything else is an error rather than a silent "no" (``True`` used to mean insecure cookies).
    """
    raw = env.get(ENV_PREFIX + name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{ENV_PREFIX}{name}={env[ENV_PREFIX + name]!r} is not a yes/no value: use 1 or 0")


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    """A whole-number ``LIVEWATCH_<name>`` of at least ``minimum``; unset or empty: ``default``."""
    raw = env.get(ENV_PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{ENV_PREFIX}{name}={raw!r} must be a whole number of at least {minimum}: fix the variable")
    return value
