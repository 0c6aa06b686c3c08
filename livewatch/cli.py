"""``livewatch``: the command line.

    livewatch run SOURCE... [--kafka HOST:PORT] [--realtime]   watch live sources until stopped
    livewatch run --demo                                       the bundled demo stream, embedded broker
    livewatch scan FILE --out alerts.jsonl [--rules DIR] [--compare DIR]
    livewatch check                                            models, weights and broker present?
    livewatch rules check DIR | rules explain DIR --text "..." [--heard]
    livewatch evidence verify | evidence export ALERT_ID --out DIR
    livewatch eval DIR | eval --evidence DIR [--rules DIR]      precision/recall on a labelled corpus / stored evidence
    livewatch streams add|remove|list                          stream assignment (Kafka control topic)
    livewatch protect STREAM_ID [--off]                        fingerprint a watched stream live, catch its re-broadcasts
    livewatch worker | rules-service | dashboard               the services of docker-compose.yml

Every command exits 0 on success, 1 on a problem the user can fix (one line
on stderr saying what and how), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import sys
from pathlib import Path
from typing import Callable, NotRequired, Sequence, TypedDict

from events import Evidence, LivewatchError
from livewatch.config import Config

log = logging.getLogger("livewatch")

Command = Callable[[argparse.Namespace, Config], int]


def _stream_id_for(source: str, taken: set[str]) -> str:
    """A short, readable id from a URL or path: rtmp://h/live/shop1 -> shop1."""
    name, _, _ = source.partition("=")
    if "=" in source and re.fullmatch(r"[\w.-]{1,64}", name):
        return name
    stem = re.sub(r"\.\w{2,5}$", "", source.rstrip("/").rsplit("/", 1)[-1]) or "stream"
    base = re.sub(r"[^\w.-]+", "-", stem)[:48] or "stream"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def parse_sources(sources: Sequence[str]) -> list[tuple[str, str]]:
    """``[id=]url`` arguments -> (stream id, url) pairs with unique ids."""
    taken: set[str] = set()
    pairs = []
    for raw in sources:
        stream_id = _stream_id_for(raw, taken)
        url = raw.split("=", 1)[1] if raw.startswith(stream_id + "=") else raw
        taken.add(stream_id)
        pairs.append((stream_id, url))
    return pairs


def _cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.service import run_live

    if args.demo:
        from livewatch.demo import ensure_demo

        demo = ensure_demo(cfg.data_dir, cfg.brands_dir)
        args.sources = [f"demo={demo}"]
        args.realtime = True
        args.loop = True
    if not args.sources:
        raise LivewatchError("no source given: pass one or more stream URLs or files, or --demo")
    ingest = dataclasses.replace(cfg.ingest, realtime=args.realtime or args.loop, loop=args.loop)
    if args.give_up_after is not None:
        ingest = dataclasses.replace(ingest, give_up_after_s=args.give_up_after)
    if args.stall_timeout is not None:
        ingest = dataclasses.replace(ingest, stall_timeout_s=args.stall_timeout)
    cfg = cfg.replace(ingest=ingest)
    return run_live(cfg, parse_sources(args.sources), status_every=args.status_every, max_seconds=args.max_seconds)


def _cmd_scan(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.service import compare_rule_sets, scan_file

    if args.rules:
        cfg = cfg.replace(rules_dir=Path(args.rules))
    evidence: list[Evidence] | None = [] if args.compare else None
    alerts = scan_file(cfg, Path(args.file), out=Path(args.out) if args.out else None, evidence=evidence)
    print(f"{len(alerts)} alert(s) from {args.file}" + (f", written to {args.out}" if args.out else ""))
    if args.compare:
        print(compare_rule_sets(cfg, evidence or [], alerts, Path(args.compare)))
    return 0


def _cmd_check(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.check import run_checks

    return run_checks(cfg)


def _cmd_rules(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.service import explain_text, rules_check

    rules_dir = Path(args.dir) if args.dir else cfg.rules_dir
    if args.rules_cmd == "check":
        return rules_check(cfg.replace(rules_dir=rules_dir))
    print(explain_text(cfg.replace(rules_dir=rules_dir), args.text, heard=args.heard))
    return 0


def _cmd_evidence(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.service import evidence_export, evidence_verify

    if args.evidence_cmd == "verify":
        return evidence_verify(cfg)
    return evidence_export(cfg, args.alert_id, Path(args.out))


def _cmd_eval(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.service import BASELINE_RULES_DIR, run_eval, run_replay_eval

    out = Path(args.out) if args.out else None
    if args.evidence:
        baseline = None if args.baseline_rules == "none" else Path(args.baseline_rules or BASELINE_RULES_DIR)
        run_replay_eval(cfg, [Path(d) for d in args.evidence], rules_dir=Path(args.rules) if args.rules else None,
                        baseline_dir=baseline, out=out)
        return 0
    if not args.dir:
        print("livewatch eval: give a corpus DIR or --evidence DIR", file=sys.stderr)
        return 2
    run_eval(cfg, Path(args.dir), generate=args.generate, out=out)
    return 0


def _cmd_demo(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.demo import ensure_demo

    print(ensure_demo(cfg.data_dir, cfg.brands_dir))
    return 0


class _ServiceFlags(TypedDict):
    """The ``ServiceOptions`` fields given on the command line (an unset port keeps the default)."""

    metrics_host: str
    drain_timeout_s: float
    metrics_port: NotRequired[int]


def _service_options(args: argparse.Namespace, cfg: Config) -> _ServiceFlags:
    """Options shared by ``worker`` and ``rules-service`` (metrics endpoint, shutdown budget)."""
    port = args.metrics_port if args.metrics_port is not None else cfg.metrics_port
    options: _ServiceFlags = {"metrics_host": args.metrics_host or cfg.metrics_host, "drain_timeout_s": args.drain_timeout}
    if port is not None:
        options["metrics_port"] = port
    return options


def _cmd_worker(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.distributed import WorkerOptions, run_worker
    from livewatch.signals import stop_on_signals

    ingest = cfg.ingest
    if args.loop:
        ingest = dataclasses.replace(ingest, realtime=True, loop=True)
    if not cfg.detectors.asr and not (cfg.detectors.fingerprints and cfg.protected_dir):
        ingest = dataclasses.replace(ingest, audio=False)  # nobody listens: do not decode it
    cfg = cfg.replace(ingest=ingest)
    options = WorkerOptions(
        **_service_options(args, cfg),
        group_id=args.group,
        split=cfg.split if args.split is None else args.split,
    )
    with stop_on_signals() as stop:
        return run_worker(cfg, options, stop)


def _cmd_rules_service(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.distributed import RulesServiceOptions, run_rules_service
    from livewatch.signals import stop_on_signals

    options = RulesServiceOptions(**_service_options(args, cfg), group_id=args.group)
    with stop_on_signals() as stop:
        return run_rules_service(cfg, options, stop)


def _cmd_dashboard(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.dashboard_cmd import run_dashboard

    return run_dashboard(cfg, host=args.host, port=args.port)


def _cmd_streams(args: argparse.Namespace, cfg: Config) -> int:
    from ingest import validate_source
    from livewatch.assignment import StreamControl

    if not cfg.kafka.bootstrap_servers:
        raise LivewatchError("livewatch streams needs the workers' Kafka broker: set LIVEWATCH_KAFKA or --kafka HOST:PORT")
    with StreamControl(cfg.kafka, validate_url=validate_source) as control:
        if args.streams_cmd == "add":
            control.add(args.stream_id, args.url)
            print(f"{args.stream_id}: start requested")
        elif args.streams_cmd == "remove":
            control.remove(args.stream_id)
            print(f"{args.stream_id}: stop requested")
        else:
            for stream_id, url in sorted(control.list().items()):
                print(f"{stream_id}\t{url}")
    return 0


def _cmd_protect(args: argparse.Namespace, cfg: Config) -> int:
    from livewatch.live_protect import ProtectControl

    if not cfg.kafka.bootstrap_servers:
        raise LivewatchError("livewatch protect needs the workers' Kafka broker: set LIVEWATCH_KAFKA or --kafka HOST:PORT")
    ProtectControl(cfg.kafka).set(args.stream_id, not args.off)
    print(f"{args.stream_id}: {'no longer protected' if args.off else 'protected while live'}")
    return 0


def _add_service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``worker``, ``rules-service``, ``dashboard`` (the services of docker-compose.yml) and ``streams``."""
    from livewatch.assignment import DEFAULT_GROUP
    from livewatch.distributed import RULES_GROUP

    def kafka_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--kafka", default=argparse.SUPPRESS, help="Kafka bootstrap HOST:PORT (default $LIVEWATCH_KAFKA)")

    def service_flags(p: argparse.ArgumentParser) -> None:
        kafka_flag(p)
        p.add_argument("--metrics-host",
                       help="interface of /metrics, /healthz, /readyz (default $LIVEWATCH_METRICS_HOST or 127.0.0.1)")
        p.add_argument("--metrics-port", type=int, help="default $LIVEWATCH_METRICS_PORT or 9464; 0 picks a free port")
        p.add_argument("--drain-timeout", type=float, default=30.0, help="seconds SIGTERM may take to drain and flush")

    worker = sub.add_parser("worker", help="watch this worker's share of the streams (consumer group on livewatch.streams)")
    service_flags(worker)
    worker.add_argument("--group", default=DEFAULT_GROUP, help=f"worker consumer group (default {DEFAULT_GROUP})")
    worker.add_argument("--split", action="store_true", default=None,
                        help="publish evidence to livewatch.evidence for the rules service instead of judging it here ($LIVEWATCH_SPLIT=1)")
    worker.add_argument("--loop", action="store_true", help="replay local files forever at real-time pace (test and demo streams)")
    worker.set_defaults(func=_cmd_worker)

    rules = sub.add_parser("rules-service", help="judge the split workers' evidence and publish alerts")
    service_flags(rules)
    rules.add_argument("--group", default=RULES_GROUP, help=f"rules consumer group (default {RULES_GROUP})")
    rules.set_defaults(func=_cmd_rules_service)

    dash = sub.add_parser("dashboard", help="the moderators' dashboard (LIVEWATCH_SECRET_KEY required)")
    kafka_flag(dash)
    dash.add_argument("--host", help="interface to serve on (default 127.0.0.1)")
    dash.add_argument("--port", type=int, help="port (default 8080)")
    dash.set_defaults(func=_cmd_dashboard)

    streams = sub.add_parser("streams", help="add, remove or list the streams the workers watch")
    kafka_flag(streams)
    streams_sub = streams.add_subparsers(dest="streams_cmd", required=True)
    add = streams_sub.add_parser("add", help="watch URL as ID (a new URL for an ID replaces the old one)")
    add.add_argument("stream_id")
    add.add_argument("url")
    rm = streams_sub.add_parser("remove", help="stop watching ID")
    rm.add_argument("stream_id")
    streams_sub.add_parser("list", help="the streams requested, ID<TAB>URL per line")
    streams.set_defaults(func=_cmd_streams)

    protect = sub.add_parser("protect", help="fingerprint a watched stream while it is live: every worker then "
                                             "catches its re-broadcasts, naming it")
    kafka_flag(protect)
    protect.add_argument("stream_id")
    protect.add_argument("--off", action="store_true", help="stop protecting it")
    protect.set_defaults(func=_cmd_protect)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livewatch", description="Livestream infringement monitoring.")
    parser.add_argument("--data-dir", help="where the alert store, snapshots and caches live (default ./var)")
    parser.add_argument("--kafka", help="Kafka bootstrap HOST:PORT (default: $LIVEWATCH_KAFKA, else embedded broker)")
    parser.add_argument("--protected", help="directory of protected videos to detect re-broadcasts of (default: $LIVEWATCH_PROTECTED_DIR)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", choices=("auto", "json", "text"), default="auto",
                        help="auto: text on a terminal, JSON lines otherwise")
    parser.add_argument("--no-asr", action="store_true", help="do not transcribe speech")
    parser.add_argument("--no-ocr", action="store_true", help="do not read on-screen text")
    parser.add_argument("--no-logos", action="store_true", help="do not match brand logos")
    parser.add_argument("--ocr-engine", choices=("paddle", "rapid"), help="OCR engine (default paddle)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="watch live sources until stopped (Ctrl-C drains and exits)")
    run.add_argument("sources", nargs="*", metavar="[ID=]SOURCE", help="rtmp://, rtsp://, http(s):// (HLS, FLV), or a file")
    run.add_argument("--demo", action="store_true", help="watch the bundled demo stream (generated on first use)")
    run.add_argument("--realtime", action="store_true", help="replay local files at real-time pace")
    run.add_argument("--loop", action="store_true", help="replay local files forever, like a live stream")
    run.add_argument("--give-up-after", type=float,
                     help="seconds a live source that dropped, or is not live yet at start, is waited for (default 300)")
    run.add_argument("--stall-timeout", type=float, help="seconds without data before a live source counts as dropped (default 10)")
    run.add_argument("--status-every", type=float, default=5.0, help="seconds between status lines")
    run.add_argument("--max-seconds", type=float, help="stop by itself after this long")
    run.set_defaults(func=_cmd_run)

    scan = sub.add_parser("scan", help="process a recorded stream as fast as possible (back-testing)")
    scan.add_argument("file")
    scan.add_argument("--out", help="write one alert per line (JSONL)")
    scan.add_argument("--rules", help="rules directory (default: the bundled rules)")
    scan.add_argument("--compare", help="a second rules directory: report alerts added and removed")
    scan.set_defaults(func=_cmd_scan)

    check = sub.add_parser("check", help="are models, weights and the broker present and loadable?")
    check.set_defaults(func=_cmd_check)

    rules = sub.add_parser("rules", help="validate rules or explain what fires on a text")
    rules_sub = rules.add_subparsers(dest="rules_cmd", required=True)
    rc = rules_sub.add_parser("check", help="validate a rules directory")
    rc.add_argument("dir", nargs="?")
    rx = rules_sub.add_parser("explain", help="which rules would fire on this text, and why")
    rx.add_argument("dir", nargs="?")
    rx.add_argument("--text", required=True)
    rx.add_argument("--heard", action="store_true",
                    help="the text is speech (a Whisper transcript): names and terms also match by sound")
    rules.set_defaults(func=_cmd_rules)

    evidence = sub.add_parser("evidence", help="verify the evidence hash chain or export a bundle")
    ev_sub = evidence.add_subparsers(dest="evidence_cmd", required=True)
    ev_sub.add_parser("verify", help="report any evidence record or snapshot changed after the fact")
    ex = ev_sub.add_parser("export", help="export an alert as a self-contained evidence bundle")
    ex.add_argument("alert_id")
    ex.add_argument("--out", required=True)
    evidence.set_defaults(func=_cmd_evidence)

    ev = sub.add_parser("eval", help="precision and recall of scan on a labelled corpus, or of a replay of stored evidence")
    ev.add_argument("dir", nargs="?", help="corpus directory with labels.json (see livewatch/corpus.py)")
    ev.add_argument("--generate", action="store_true", help="generate the synthetic corpus there first if missing")
    ev.add_argument("--evidence", action="append", metavar="DIR",
                    help="replay stored evidence instead of scanning: bench/evidence/<corpus> (or bench/evidence "
                         "for every corpus); repeatable (see bench/evidence_corpus.py)")
    ev.add_argument("--rules", metavar="DIR", help="with --evidence: the rule set to score (default: the configured rules)")
    ev.add_argument("--baseline-rules", metavar="DIR",
                    help="with --evidence: the rule set scored beside it (default: bench/baseline_rules; 'none' to skip)")
    ev.add_argument("--out", help="write the full result as JSON")
    ev.set_defaults(func=_cmd_eval)

    demo = sub.add_parser("demo", help="generate the demo clip and print its path")
    demo.set_defaults(func=_cmd_demo)
    _add_service_commands(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    cfg = Config.from_env()
    if args.data_dir:
        cfg = cfg.replace(data_dir=Path(args.data_dir))
    if args.protected:
        cfg = cfg.replace(protected_dir=Path(args.protected))
    if getattr(args, "kafka", None):
        cfg = cfg.replace(kafka=cfg.kafka.replace(bootstrap_servers=args.kafka))
    detectors = dataclasses.replace(
        cfg.detectors,
        asr=cfg.detectors.asr and not args.no_asr,
        ocr=cfg.detectors.ocr and not args.no_ocr,
        logos=cfg.detectors.logos and not args.no_logos,
    )
    cfg = cfg.replace(detectors=detectors)
    if args.ocr_engine:
        cfg = cfg.replace(ocr=dataclasses.replace(cfg.ocr, engine=args.ocr_engine))
    return cfg


def quiet_kafka_client(log_level: str | int) -> None:
    """The one place kafka-python's loggers are set: silent unless the log level is DEBUG.

    kafka-python narrates every connection and offset reset at INFO, and a broker outage
    at WARNING and ERROR on every retry (over a hundred lines in 20 s). livewatch says what
    matters in its own words instead: one line when the broker goes, one "still down, N
    alerts waiting" at most every 10 s, one when it is back (``alerts.publisher``).
    """
    debug = logging.getLevelName(str(log_level).upper()) == logging.DEBUG or log_level == logging.DEBUG
    logging.getLogger("kafka").setLevel(logging.DEBUG if debug else logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from livewatch.logging import configure_logging

    configure_logging(args.log_level, json=args.log_format == "json" or (args.log_format == "auto" and not sys.stderr.isatty()))
    quiet_kafka_client(args.log_level)
    try:
        code: int = args.func(args, config_from_args(args))
        return code
    except LivewatchError as exc:
        print(f"livewatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
