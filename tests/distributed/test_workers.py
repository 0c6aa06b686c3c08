"""Issue 7's done-when: two ``livewatch worker`` processes share six streams; one dies; nothing is lost or doubled.

On Tansu (the embedded broker) and on Apache Kafka (KRaft), through the real
CLI: the streams are added with ``livewatch streams add``, the workers run
real OCR and logo matching on looped counterfeit clips, alerts are read back
from ``livewatch.alerts`` with confluent-kafka, and the workers' own
``/metrics`` say which streams each one reads.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from alerts import AlertStore, validate_alert
from events.kafka import KafkaOptions
from tests.conftest import kafka_for
from tests.distributed.cluster import Service, alerts_on_topic, streams_cli
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

STREAMS = 6
START_TIMEOUT_S = 150.0  # two workers loading OCR at once on a busy 2-core machine
SETTLE_TIMEOUT_S = 90.0


def start_workers(services, kafka: KafkaOptions, run_id: str, names: tuple[str, ...]) -> list[Service]:
    return [services(name, kafka, "worker", "--loop", "--group", f"workers-{run_id}") for name in names]


def add_streams(kafka: KafkaOptions, run_id: str, clip: Path) -> set[str]:
    """``livewatch streams add`` for each stream (in parallel: each is a Python start-up), then ``list``."""
    ids = {f"{run_id}-shop{i}" for i in range(STREAMS)}
    procs = [streams_cli(kafka, "add", stream_id, str(clip)) for stream_id in sorted(ids)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert "start requested" in out
    listing = streams_cli(kafka, "list")
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0, err[-2000:]
    assert {line.split("\t")[0] for line in out.splitlines()} == ids
    return ids


def logs(*workers: Service) -> str:
    return "\n".join(f"--- {w.name} ---\n{w.log_tail()}" for w in workers)


def per_stream(alerts: list[dict]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = collections.defaultdict(set)
    for alert in alerts:
        ids[alert["stream_id"]].add(alert["alert_id"])
    return ids


def test_two_workers_share_six_streams_and_survive_a_kill(any_broker: str, services, counterfeit_clip: Path,
                                                          run_id: str) -> None:
    kafka = kafka_for(any_broker, streams=f"livewatch.streams.{run_id}")
    workers = start_workers(services, kafka, run_id, ("worker-a", "worker-b"))
    wait_until(lambda: all(w.ready for w in workers), START_TIMEOUT_S, lambda: "both workers ready\n" + logs(*workers))
    stream_ids = add_streams(kafka, run_id, counterfeit_clip)

    # Steady state: every stream watched, none twice, and each has raised an alert.
    def shared_out() -> bool:
        a, b = (w.watched() for w in workers)
        return a | b == stream_ids and not a & b

    wait_until(shared_out, SETTLE_TIMEOUT_S, lambda: f"six streams split over two workers: "
               f"{[sorted(w.watched()) for w in workers]}\n" + logs(*workers))
    before = wait_until(lambda: (found := alerts_on_topic(kafka, stream_ids)) and per_stream(found).keys() == stream_ids
                        and found, SETTLE_TIMEOUT_S, lambda: "an alert from every stream\n" + logs(*workers))
    owned = {w.name: w.watched() for w in workers}
    victim, survivor = sorted(workers, key=lambda w: len(owned[w.name]), reverse=True)
    moved = owned[victim.name]
    assert moved, "the victim watched something"

    victim.kill()
    wait_until(lambda: survivor.watched() == stream_ids, SETTLE_TIMEOUT_S,
               lambda: f"the survivor watching all six (has {sorted(survivor.watched())})\n" + logs(survivor))

    # The moved streams raise new alerts on the survivor (a new watch session, so new alert ids).
    before_ids = {a["alert_id"] for a in before}

    def new_alerts_for_moved() -> list[dict] | None:
        found = alerts_on_topic(kafka, stream_ids)
        fresh = per_stream([a for a in found if a["alert_id"] not in before_ids])
        return found if moved <= fresh.keys() else None

    after = wait_until(new_alerts_for_moved, SETTLE_TIMEOUT_S, lambda: "new alerts from the moved streams\n" + logs(survivor))

    keys = collections.Counter((a["alert_id"], a["revision"]) for a in after)
    doubled = {k: n for k, n in keys.items() if n > 1}
    assert not doubled, f"alerts delivered more than once: {doubled}"
    assert {(a["alert_id"], a["revision"]) for a in before} <= set(keys), "an alert raised before the kill went missing"
    assert all(a["stream_url"] == str(counterfeit_clip) and a["category"] == "counterfeit" for a in after)
    for alert in after:
        validate_alert(alert)  # session-scoped ids still meet the alert schema the dashboard checks

    # Prometheus view of the survivor: lag and frames for every stream, all six watched.
    lag = survivor.samples("livewatch_stream_lag_seconds")
    assert set(lag) == stream_ids and all(value >= 0 for value in lag.values())
    assert set(survivor.samples("livewatch_frames_sampled_total")) == stream_ids
    assert "livewatch_streams_watched 6.0" in survivor.get("/metrics")[1]

    # SIGTERM: drains, flushes the outbox, leaves the group, within its bound.
    assert survivor.terminate(timeout_s=45) == 0, survivor.log_tail()  # 30 s drain budget, + start-up of the drain
    store = AlertStore(survivor.log_path.parent / survivor.name / "alerts.sqlite3")
    try:
        assert store.counts()["unsent"] == 0, "alerts left in the outbox after SIGTERM"
    finally:
        store.close()
