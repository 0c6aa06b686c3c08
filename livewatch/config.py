"""One typed configuration object for the whole pipeline.

Stages own their options (``IngestOptions``, ``OcrOptions``, ...); this module
only gathers them, together with what belongs to the top floor (broker, data
directory, which detectors run). Environment variables are read here and
nowhere else, so a stage never depends on the process environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from asr import AsrOptions
from events import ConfigError
from events.kafka import SASL_MECHANISMS, SECURITY_PROTOCOLS, KafkaOptions, KafkaSecurity, KafkaTopics
from frames import DedupOptions
from ingest import IngestOptions
from livewatch.paths import DEFAULT_BRANDS_DIR, DEFAULT_RULES_DIR
from livewatch.scheduler import SchedulerOptions
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
    kafka: KafkaOptions = field(default_factory=KafkaOptions)  # bootstrap_servers None: embedded broker (run)
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
    scheduler: SchedulerOptions = field(default_factory=SchedulerOptions)  # cores, threads, degrade levels
    vision_queue_per_stream: int = 4
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

    def replace(self, **changes: Any) -> Config:
        """``dataclasses.replace`` as a method, like ``KafkaOptions.replace``: an unknown field is a TypeError."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the config from ``LIVEWATCH_*`` variables over the defaults."""
        env = os.environ if environ is None else environ
        cfg = cls()

        def text(key: str) -> str | None:
            return env.get(ENV_PREFIX + key) or None

        def path(key: str) -> Path | None:
            raw = text(key)
            return Path(raw) if raw else None

        ocr_engine, asr_model = text("OCR_ENGINE"), text("ASR_MODEL")
        return dataclasses.replace(
            cfg,
            data_dir=path("DATA_DIR") or cfg.data_dir,
            rules_dir=path("RULES_DIR") or cfg.rules_dir,
            lexicon_dir=path("LEXICON_DIR") or cfg.lexicon_dir,
            brands_dir=path("BRANDS_DIR") or cfg.brands_dir,
            protected_dir=path("PROTECTED_DIR") or cfg.protected_dir,
            kafka=kafka_from_env(env),
            metrics_port=env_int(env, "METRICS_PORT", 0, minimum=0) if text("METRICS_PORT") else cfg.metrics_port,
            metrics_host=env[ENV_PREFIX + "METRICS_HOST"].strip() if text("METRICS_HOST") else cfg.metrics_host,
            min_free_mb=float(env_int(env, "MIN_FREE_MB", 0, minimum=0)) if text("MIN_FREE_MB") else cfg.min_free_mb,
            split=env_flag(env, "SPLIT", False),
            scheduler=dataclasses.replace(cfg.scheduler, cores=env_int(env, "CORES", cfg.scheduler.cores)),
            ocr=dataclasses.replace(cfg.ocr, engine=ocr_engine) if ocr_engine else cfg.ocr,
            asr=dataclasses.replace(cfg.asr, model=asr_model) if asr_model else cfg.asr,
        )


_TOPIC_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,249}")


def kafka_from_env(env: Mapping[str, str]) -> KafkaOptions:
    """The ``LIVEWATCH_KAFKA*`` variables (README, "Kafka settings"); unset ones keep Kafka's own defaults.

    Secrets (``LIVEWATCH_KAFKA_SASL_PASSWORD``, ``LIVEWATCH_KAFKA_SSL_KEY_PASSWORD``) are read from
    here only, never from flags (which show in ``ps``). Settings that contradict each other (SASL
    credentials with a protocol that does not use them) are an error, not silently ignored.
    """

    def text(name: str) -> str | None:
        return env.get(ENV_PREFIX + name, "").strip() or None

    def choice(name: str, allowed: tuple[str, ...]) -> str | None:
        raw = text(name)
        if raw is not None and raw.upper() not in allowed:
            raise ConfigError(f"{ENV_PREFIX}{name}={raw!r} is not one of {', '.join(allowed)}: fix the variable")
        return raw.upper() if raw is not None else None

    def timing(name: str) -> int | None:
        return env_int(env, name, 0) if text(name) else None

    protocol = choice("KAFKA_SECURITY_PROTOCOL", SECURITY_PROTOCOLS) or "PLAINTEXT"
    security = KafkaSecurity(
        security_protocol=protocol,
        sasl_mechanism=choice("KAFKA_SASL_MECHANISM", SASL_MECHANISMS),
        sasl_plain_username=text("KAFKA_SASL_USERNAME"),
        sasl_plain_password=env.get(ENV_PREFIX + "KAFKA_SASL_PASSWORD") or None,  # a password may end in a space
        ssl_cafile=text("KAFKA_SSL_CAFILE"),
        ssl_certfile=text("KAFKA_SSL_CERTFILE"),
        ssl_keyfile=text("KAFKA_SSL_KEYFILE"),
        ssl_password=env.get(ENV_PREFIX + "KAFKA_SSL_KEY_PASSWORD") or None,
        ssl_crlfile=text("KAFKA_SSL_CRLFILE"),
        ssl_check_hostname=env_flag(env, "KAFKA_SSL_CHECK_HOSTNAME", True),
    )
    _check_security(security)
    session, heartbeat = timing("KAFKA_SESSION_TIMEOUT_MS"), timing("KAFKA_HEARTBEAT_INTERVAL_MS")
    if session is not None and heartbeat is not None and heartbeat >= session:
        raise ConfigError(f"{ENV_PREFIX}KAFKA_HEARTBEAT_INTERVAL_MS={heartbeat} must be below "
                          f"{ENV_PREFIX}KAFKA_SESSION_TIMEOUT_MS={session} (a third of it is usual)")
    topics = {}
    for topic in dataclasses.fields(KafkaTopics):
        name = "KAFKA_TOPIC_" + topic.name.upper()
        value = text(name)
        if value is not None:
            if not _TOPIC_PATTERN.fullmatch(value):
                raise ConfigError(f"{ENV_PREFIX}{name}={value!r} is not a Kafka topic name: "
                                  "use up to 249 letters, digits, '.', '_' or '-'")
            topics[topic.name] = value
    return KafkaOptions(
        bootstrap_servers=text("KAFKA"),
        client_id=text("KAFKA_CLIENT_ID") or KafkaOptions.client_id,
        security=security,
        session_timeout_ms=session,
        heartbeat_interval_ms=heartbeat,
        topics=KafkaTopics(**topics),
    )


def _check_security(s: KafkaSecurity) -> None:
    """SASL settings need a SASL protocol and both credentials; SSL settings need an SSL protocol."""
    protocol = f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={s.security_protocol}"
    sasl = s.security_protocol.startswith("SASL_")
    if sasl and s.sasl_mechanism is None:
        raise ConfigError(f"{protocol} needs {ENV_PREFIX}KAFKA_SASL_MECHANISM: set one of {', '.join(SASL_MECHANISMS)}")
    if sasl:
        for name, value in (("KAFKA_SASL_USERNAME", s.sasl_plain_username), ("KAFKA_SASL_PASSWORD", s.sasl_plain_password)):
            if not value:
                raise ConfigError(f"{ENV_PREFIX}KAFKA_SASL_MECHANISM={s.sasl_mechanism} needs {ENV_PREFIX}{name}: set it")
    elif s.sasl_mechanism or s.sasl_plain_username or s.sasl_plain_password:
        raise ConfigError(f"SASL credentials are set but {protocol} does not use them: "
                          f"set {ENV_PREFIX}KAFKA_SECURITY_PROTOCOL to SASL_SSL (or SASL_PLAINTEXT)")
    files = [n for n, v in (("KAFKA_SSL_CAFILE", s.ssl_cafile), ("KAFKA_SSL_CERTFILE", s.ssl_certfile),
                            ("KAFKA_SSL_KEYFILE", s.ssl_keyfile), ("KAFKA_SSL_KEY_PASSWORD", s.ssl_password),
                            ("KAFKA_SSL_CRLFILE", s.ssl_crlfile)) if v]
    if files and not s.security_protocol.endswith("SSL"):
        raise ConfigError(f"{ENV_PREFIX}{files[0]} is set but {protocol} does not use SSL: "
                          f"set {ENV_PREFIX}KAFKA_SECURITY_PROTOCOL to SSL or SASL_SSL")


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
