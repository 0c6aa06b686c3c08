"""A dummy stream worker for the assignment tests: a real StreamAssigner in its own process.

    python assigner_proc.py BOOTSTRAP GROUP TOPIC NAME

Prints one JSON line per event to stdout: {"event": "start"|"stop"|"up"|"closed",
"worker": NAME, "stream_id": ..., "t": time.monotonic()} (the monotonic clock
is shared by all processes of the machine, so the parent can order events of
different workers), and {"event": "partitions", "partitions": [...]} whenever the
control-topic partitions it holds change (so the parent sees a rebalance settle).
SIGTERM closes it cleanly; SIGKILL is the crash.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from events.kafka import KafkaOptions
from livewatch.assignment import StreamAssigner
from livewatch.broker import with_embedded_timings

_print_lock = threading.Lock()


def emit(name: str, event: str, **fields: object) -> None:
    with _print_lock:
        print(json.dumps({"event": event, "worker": name, "t": time.monotonic(), **fields}), flush=True)


def main(bootstrap: str, group: str, topic: str, name: str) -> None:
    assigner = StreamAssigner(
        # the tests' short group timings: a killed worker's streams move in 6 s
        with_embedded_timings(KafkaOptions(bootstrap_servers=bootstrap)).with_topics(streams=topic),
        group,
        on_start=lambda stream_id, url: emit(name, "start", stream_id=stream_id, url=url),
        on_stop=lambda stream_id: emit(name, "stop", stream_id=stream_id),
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    assigner.start()
    emit(name, "up")
    held: set[int] = set()
    while not done.wait(0.2):
        if assigner.partitions() != held:
            held = assigner.partitions()
            emit(name, "partitions", partitions=sorted(held))
        if assigner.error is not None:
            emit(name, "error", error=repr(assigner.error))
            sys.exit(1)
    assigner.close()
    emit(name, "closed")


if __name__ == "__main__":
    main(*sys.argv[1:5])
