"""How soon a re-broadcast of a show protected while live is alerted, from the copy going on air.

Issue 13 promised the alert within 15 s. Real parts: nginx-rtmp serves show A (a looped
synthetic programme) and its copies; one real ``livewatch worker`` (fingerprints only: the
figure is about the live index, not the models) on the embedded broker watches A, which
``livewatch protect`` protects. Then, one after another, each copy goes on air re-publishing A
as it plays, is handed over with ``livewatch streams add`` and, once alerted, removed.

Per copy, two times from nginx reporting it publishing: until the worker's /metrics show it
watched (the hand-over alone: the CLI, the stream topic, the worker opening the RTMP URL) and
until its ``piracy.rebroadcast_live`` alert, naming A, is read on the alert topic. The
hand-over is the baseline: the ratio says how much matching adds to what any stream pays.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.figures import figure
from livewatch.broker import EmbeddedBroker
from tests.distributed.cluster import livewatch_cli
from tests.live_server import LiveServer
from tests.live_show import LIVE_RULE, SHOW, ProtectedShow, protected_live_show
from tests.waiting import wait_until

COPIES = 3
ALERT_TIMEOUT_S = 90.0


def _time_one_copy(show: ProtectedShow, copy: str) -> tuple[float, float]:
    """``copy`` re-publishing show A: seconds from it going on air until watched and until alerted; then removed."""
    relay, on_air = show.copy_on_air(copy)
    wait_until(lambda: copy in show.worker.watched(), 60, f"{copy} to be watched")
    handover_s = time.monotonic() - on_air
    alert, arrived = show.watch.first(copy, LIVE_RULE, ALERT_TIMEOUT_S)
    if alert is None or f"live:{SHOW}" not in alert["title"]:
        raise RuntimeError(f"bench_live_protect: no {LIVE_RULE} alert naming {SHOW} for {copy}:\n{show.worker.log_tail()}")
    livewatch_cli(show.kafka, "streams", "remove", copy)
    relay.stop()
    return handover_s, arrived - on_air


def run() -> list[dict]:
    handovers: list[float] = []
    alerts: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker, LiveServer() as server, \
            protected_live_show(server, broker.kafka_options(), Path(tmp)) as show:
        for copy in (f"copy{i}" for i in range(COPIES)):
            handover_s, alert_s = _time_one_copy(show, copy)
            handovers.append(handover_s)
            alerts.append(alert_s)
    notes = (f"{COPIES} copies one after another, median; each {', '.join(f'{a:.1f}' for a in alerts)} s; "
             "1 worker (fingerprints only), Tansu, nginx-rtmp; issue 13's bound is 15 s")
    return [figure("re-broadcast of a live-protected show: alert after the copy goes on air", statistics.median(alerts),
                   "s", "the copy watched (hand-over alone)", statistics.median(handovers), notes)]


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
