"""What the CLI commands do, as functions (the CLI only parses arguments)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterator, Sequence

from alerts import AlertPublisher, AlertStore, export_bundle, snapshots_not_written, verify_evidence
from events import Alert, Evidence, LivewatchError, Modality, StreamState, StreamStatus
from events.kafka import check_broker
from livewatch.broker import EmbeddedBroker
from livewatch.config import Config
from livewatch.health import check_free_space, watch_health
from livewatch.metrics import Metrics, MetricsServer
from livewatch.scheduler import LEVELS
from livewatch.signals import stop_on_signals
from livewatch.sinks import CollectingSink, EvidenceSink, InlineRules, RulesThread, Tap
from livewatch.stages import Stages
from livewatch.worker import Pipeline, new_session

log = logging.getLogger(__name__)

_DONE = {StreamState.ENDED, StreamState.FAILED}
SCHEDULE_EVERY_S = 1.0  # how often ``run`` reads the streams' load (the scheduler's hysteresis is in seconds)


@contextlib.contextmanager
def with_broker(cfg: Config) -> Iterator[Config]:
    """``cfg`` with its configured broker (checked, fail fast), or with an embedded one for the duration.

    Only the embedded broker's options carry its short group timings; a configured broker keeps
    the configured ones (Kafka's defaults unless set).
    """
    if cfg.kafka.bootstrap_servers:
        check_broker(cfg.kafka, timeout_s=10.0)
        yield cfg
        return
    with EmbeddedBroker() as broker:
        print(f"livewatch: embedded Kafka broker on {broker.bootstrap} (alerts on topic {cfg.kafka.topics.alerts})",
              file=sys.stderr)
        yield cfg.replace(kafka=broker.kafka_options(cfg.kafka))


def format_status(s: StreamStatus) -> str:
    line = (
        f"[{s.stream_id}] {s.state.value:<12} media {s.media_time:7.1f}s  lag {s.lag_s:5.1f}s  "
        f"frames {s.frames_decoded} decoded, {s.frames_sampled} sampled ({s.frames_duplicate} unchanged, "
        f"{s.frames_dropped} dropped)  evidence {s.evidence}  alerts {s.alerts}"
    )
    if s.degrade_level:
        line += f"  degraded to level {s.degrade_level} ({LEVELS[s.degrade_level]}): {s.degrade_reason}"
    elif s.asr_degraded:
        line += "  ASR degraded (audio dropped before the ASR worker)"
    if s.error:
        line += f"  error: {s.error}"
    return line


def run_live(
    cfg: Config,
    sources: Sequence[tuple[str, str]],
    *,
    status_every: float = 5.0,
    max_seconds: float | None = None,
) -> int:
    """Watch sources until they all end, a signal arrives, or ``max_seconds`` pass.

    With ``cfg.metrics_port`` set, ``/metrics``, ``/healthz`` and ``/readyz`` are served
    (not ready while the alert store cannot be written). Exits 1 when no stream could be
    watched, when every stream failed, or when an alert was lost (the store never took it).
    """
    check_free_space(cfg.data_dir, cfg.min_free_mb)
    with contextlib.ExitStack() as stack:
        cfg = stack.enter_context(with_broker(cfg))
        store = AlertStore(cfg.store_path, snapshot_root=cfg.snapshot_dir)
        stack.callback(store.close)
        publisher = AlertPublisher(store, cfg.kafka)
        stack.callback(publisher.close, 30.0)
        stages = Stages.load(cfg)
        # The publisher appends to the store (the outbox) first, then delivers.
        pipeline = Pipeline(cfg, stages, RulesThread(stages.rules, publisher))
        if cfg.metrics_port is not None:
            metrics = Metrics()
            watch_health(metrics, pipeline=pipeline, publisher=publisher, stages=stages)
            metrics.watch_queue("alerts_unsent", lambda: store.counts()["unsent"])
            stack.enter_context(MetricsServer(metrics.registry, cfg.metrics_port, ready=lambda: publisher.store_ok))
        stop = stack.enter_context(stop_on_signals())
        started = 0
        session = new_session()  # alert ids of this run: watching the same broadcast again raises new ones
        for stream_id, url in sources:
            try:
                pipeline.add_stream(stream_id, url, session)
                started += 1
            except LivewatchError as exc:
                print(f"livewatch: {exc}", file=sys.stderr)
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        next_print = time.monotonic() + status_every
        while started and not stop.is_set():
            stop.wait(min(SCHEDULE_EVERY_S, status_every))
            pipeline.schedule()
            statuses = pipeline.status()
            if time.monotonic() >= next_print:
                next_print += status_every
                for s in statuses:
                    print(format_status(s), file=sys.stderr)
            if all(s.state in _DONE for s in statuses) or (deadline and time.monotonic() > deadline):
                break
        print("livewatch: stopping: draining frames, audio and alerts", file=sys.stderr)
        pipeline.close()
        publisher.flush(30.0)
        failed = [s for s in pipeline.status() if s.state is StreamState.FAILED]
    if publisher.lost:
        print(f"livewatch: {publisher.lost} alert(s) lost: the alert store {cfg.store_path} could not be written "
              "(see the log for their ids); free space on its volume", file=sys.stderr)
        return 1
    return 1 if started == 0 or len(failed) == len(sources) else 0


def scan_file(
    cfg: Config,
    path: Path,
    *,
    out: Path | None = None,
    stages: Stages | None = None,
    sink: CollectingSink | None = None,
    evidence: list[Evidence] | None = None,
) -> list[Alert]:
    """Process a recording as fast as possible; the same alerts ``run`` would raise.

    ``evidence``, when given, collects every piece of evidence the detectors
    produced, so other rule sets can be replayed over it (``--compare``).
    """
    if not path.exists():
        raise LivewatchError(f"{path}: no such file: give the path of a recorded stream")
    own_stages = stages is None
    stages = stages or Stages.load(cfg, inline=True)
    sink = sink or CollectingSink()
    rules: EvidenceSink = InlineRules(stages.rules, sink)
    pipeline = Pipeline(cfg, stages, rules if evidence is None else Tap(evidence.append, rules), on_caller_thread=True)
    try:
        pipeline.add_stream(path.stem, str(path))
        failed = [s for s in pipeline.status() if s.state is StreamState.FAILED]
        if failed:
            raise LivewatchError(failed[0].error or f"{path}: could not be scanned")
    finally:
        if own_stages:
            pipeline.close()
    if out is not None:
        sink.write_jsonl(out)
    return sink.alerts


def compare_rule_sets(cfg: Config, evidence: list[Evidence], alerts_a: list[Alert], rules_b: Path) -> str:
    """Replay the evidence of one scan through rule set B: alerts added and removed vs A."""
    from rules import RuleEngine, compare_alerts, replay

    brands = Stages.load(cfg.replace(rules_dir=rules_b), rules_only=True).brands
    engine_b = RuleEngine(rules_b, None, brands)
    return str(compare_alerts(alerts_a, replay(engine_b, evidence)))


def rules_check(cfg: Config) -> int:
    from rules import check_rules

    errors = check_rules(cfg.rules_dir, cfg.lexicon_dir)
    for err in errors:
        print(err)
    print(f"{cfg.rules_dir}: {'OK' if not errors else f'{len(errors)} error(s)'}")
    return 1 if errors else 0


def explain_text(cfg: Config, text: str, *, heard: bool = False) -> str:
    """What the rules make of ``text`` shown on screen, or ``heard`` (speech: matched by sound too)."""
    from rules import explain

    stages = Stages.load(cfg, rules_only=True)
    return str(explain(stages.rules, text, Modality.ASR if heard else Modality.OCR))


def evidence_verify(cfg: Config) -> int:
    """Tampering (exit 1) apart from snapshots that were never written (a full disk: said, exit 0)."""
    store = AlertStore(cfg.store_path, snapshot_root=cfg.snapshot_dir)
    try:
        problems = verify_evidence(store, cfg.snapshot_dir)
        not_written = snapshots_not_written(store)
    finally:
        store.close()
    for problem in problems + not_written:
        print(problem)
    missing = ""
    if not_written:
        alerts = len({p.alert_id for p in not_written})
        missing = (f"{len(not_written)} evidence item(s) of {alerts} alert(s) without snapshot: "
                   "it could not be written when the alert was raised, not removed since")
    if problems:
        summary = f"{len(problems)} problem(s): evidence changed or removed after it was recorded"
        summary += f"; also {missing}" if missing else ""
    elif missing:
        summary = f"no tampering found, but {missing}"
    else:
        summary = "evidence intact"
    print(f"{cfg.store_path}: {summary}")
    return 1 if problems else 0


def evidence_export(cfg: Config, alert_id: str, out: Path) -> int:
    store = AlertStore(cfg.store_path, snapshot_root=cfg.snapshot_dir)
    try:
        path = export_bundle(store, alert_id, out)
    finally:
        store.close()
    print(path)
    return 0


def run_eval(cfg: Config, corpus_dir: Path, *, generate: bool = False, out: Path | None = None) -> dict[str, object]:
    """Scan every clip of a labelled corpus and score the alerts against the labels."""
    from livewatch.evaluate import format_report, load_corpus, new_tallies, score_clip, summarise

    if generate and not (corpus_dir / "labels.json").exists():
        from livewatch.corpus import generate as generate_corpus

        print(f"livewatch: generating the evaluation corpus in {corpus_dir}", file=sys.stderr)
        generate_corpus(corpus_dir)
    clips = load_corpus(corpus_dir)
    if (corpus_dir / "protected").is_dir() and cfg.protected_dir is None:
        cfg = cfg.replace(protected_dir=corpus_dir / "protected")
    stages = Stages.load(cfg, inline=True)
    tallies = new_tallies()
    per_clip: list[dict[str, object]] = []
    try:
        for clip in clips:
            sink = CollectingSink()
            alerts = scan_file(cfg, clip.file, stages=stages, sink=sink)
            score_clip(alerts, clip.labels, sink.first_raised, tallies)
            per_clip.append({"file": str(clip.file.name), "alerts": [a.to_dict() for a in alerts]})
            print(f"livewatch: {clip.file.name}: {len(alerts)} alert(s)", file=sys.stderr)
    finally:
        stages.close()
    summary = summarise(tallies)
    print(format_report(summary))
    result = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": f"livewatch eval {corpus_dir}",
        "corpus": str(corpus_dir),
        "clips": len(clips),
        "summary": summary,
        "per_clip": per_clip,
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


BASELINE_RULES_DIR = Path(__file__).resolve().parent.parent / "bench" / "baseline_rules"


def run_replay_eval(
    cfg: Config,
    evidence_dirs: Sequence[Path],
    *,
    rules_dir: Path | None = None,
    baseline_dir: Path | None = BASELINE_RULES_DIR,
    out: Path | None = None,
    slack_s: float = 3.0,
) -> dict[str, object]:
    """Replay stored evidence (bench/evidence/<corpus>) through a rule set and a baseline, side by side.

    No detector runs: each clip's evidence goes through a fresh ``RuleEngine`` and the alerts are
    scored against the clip's labels and traps (``livewatch.evaluate``).
    """
    from livewatch.evaluate import format_replay_report, load_evidence_corpus, replay_corpus
    from logos import load_brand_registry
    from rules import RuleEngine

    clips = [c for d in evidence_dirs for c in load_evidence_corpus(Path(d))]
    brands = load_brand_registry(cfg.brands_dir)
    rule_sets = {"rules": Path(rules_dir or cfg.rules_dir)}
    if baseline_dir is not None and Path(baseline_dir).exists():
        rule_sets["baseline"] = Path(baseline_dir)
    lexicon_dir = cfg.lexicon_dir if rules_dir is None else None
    results: dict[str, dict[str, object]] = {}
    timings: dict[str, float] = {}
    # One INFO line per alert revision is noise over hours of replayed media (kept with --log-level DEBUG).
    rules_log = logging.getLogger("rules")
    quiet = rules_log.getEffectiveLevel() > logging.DEBUG
    previous = rules_log.level
    if quiet:
        rules_log.setLevel(logging.WARNING)
    try:
        for name, directory in rule_sets.items():
            lexicons = lexicon_dir if name == "rules" else None
            RuleEngine(directory, lexicons, brands)  # fail fast (ConfigError) before replaying anything
            t0 = time.monotonic()
            score = replay_corpus(clips, functools.partial(RuleEngine, directory, lexicons, brands), slack_s)
            timings[name] = round(time.monotonic() - t0, 2)
            results[name] = score.to_dict()
    finally:
        rules_log.setLevel(previous)
    print(format_replay_report(results))
    media: defaultdict[str, float] = defaultdict(float)
    for c in clips:
        media[c.split] += c.seconds
    result = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": "livewatch eval " + " ".join(f"--evidence {d}" for d in evidence_dirs)
        + (f" --rules {_shown(rules_dir)}" if rules_dir else "")
        + (f" --baseline-rules {_shown(baseline_dir)}" if "baseline" in rule_sets and baseline_dir else ""),
        "evidence": [str(d) for d in evidence_dirs],
        "rule_sets": {name: _shown(d) for name, d in rule_sets.items()},
        "slack_s": slack_s,
        "clips": len(clips),
        "media_minutes": {split: round(s / 60, 1) for split, s in media.items()},
        "replay_wall_s": timings,
        "notes": [
            "precision/recall: enforce-mode alerts only; an alert is right when category (and brand, if labelled) "
            "match a label it overlaps within slack_s",
            "false alerts: alerts (latest revision) that match no label, per hour of media; benign hours exclude "
            "time under violation labels",
            "brand_accuracy: of enforce counterfeit alerts overlapping a counterfeit label, the share naming its brand",
            "traps: a shot's words or caption trip when an alert cites them (matched evidence inside the shot, not "
            "covered by a label the alert matches); a product trap (card, logo, price) when the product's evidence "
            "replayed alone raises a false alert; a cross-product join when two products replayed together raise "
            "more false alerts across their boundary than each alone",
        ],
        "results": results,
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


def _shown(path: Path | str) -> str:
    """A path as results files show it: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
