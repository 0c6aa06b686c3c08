"""Where the worker's evidence and alerts go.

A ``Pipeline`` turns streams into evidence and hands every piece to one
``EvidenceSink``; it never asks which kind it holds. The kinds:

- ``RulesThread``: the rules on a thread of their own, behind a queue (``livewatch run``, a
  worker of the group): detectors never wait for the rules;
- ``InlineRules``: the rules on the caller's thread (``scan``, deterministic for a recording);
- ``livewatch.distributed.KafkaEvidenceSink``: the evidence topic (split stages: the rules run
  in ``livewatch rules-service``);
- ``Tap``: records every piece (back-testing), then hands it on to another sink.

The rules sinks deliver the alerts they raise to an ``AlertSink`` (the outbox, or
``CollectingSink`` for ``scan``), each first completed by the pipeline that feeds them
(``start(complete)``): the pipeline holds what an alert needs from the stream (recent frames
for snapshots, the transcript around it, the source URL), the sink decides when rules run.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

from events import Alert, Evidence

log = logging.getLogger(__name__)

Complete = Callable[[Alert], Alert]
"""What the pipeline adds to a raised alert before it is delivered (snapshots, transcript context, URL)."""


class AlertSink(Protocol):
    """Where raised alerts go. What ``emit`` returns (``AlertPublisher``: sent to Kafka yet) is not used."""

    def emit(self, alert: Alert) -> object: ...


class EvidenceSink(Protocol):
    """Where a pipeline's evidence goes. Called from the pipeline's threads (streams, vision pool)."""

    def start(self, complete: Complete) -> None:
        """Called once by the pipeline it is given to: ``complete`` finishes the alerts raised here."""
        ...

    def open(self, stream_id: str, session: str) -> None:
        """A stream starts (``session`` scopes the ids of its alerts; empty for ``scan``)."""
        ...

    def publish(self, evidence: Evidence) -> None: ...

    def finish(self, stream_id: str) -> None:
        """The stream's last evidence has been published: close its alerts (returns once they are raised)."""
        ...

    def depth(self) -> int:
        """Evidence waiting on its way (for the queue-depth metric)."""
        ...

    def close(self, timeout: float) -> None: ...


class Rules(Protocol):
    """What the rules sinks need of ``rules.RuleEngine``."""

    def open_stream(self, stream_id: str, scope: str = "") -> None: ...

    def process(self, evidence: Evidence) -> list[Alert]: ...

    def finish(self, stream_id: str) -> list[Alert]: ...


class _LocalRules:
    """Judging and delivery, shared by the two sinks that run the rules in this process."""

    def __init__(self, rules: Rules, alerts: AlertSink) -> None:
        self.rules = rules
        self.alert_sink = alerts
        self._complete: Complete = _unchanged
        self.alerts_failed = 0  # alerts that could not be handed to the sink (a bug: logged with their id)

    def start(self, complete: Complete) -> None:
        self._complete = complete

    def open(self, stream_id: str, session: str) -> None:
        self.rules.open_stream(stream_id, session)

    def _judge(self, evidence: Evidence) -> None:
        self._deliver(self.rules.process(evidence))

    def _close_stream(self, stream_id: str) -> None:
        self._deliver(self.rules.finish(stream_id))

    def _deliver(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:  # one by one: an alert that fails does not take the others with it
            try:
                self.alert_sink.emit(self._complete(alert))
            except Exception:
                self.alerts_failed += 1
                log.exception("alert %s rev %d could not be handed to the outbox", alert.alert_id, alert.revision,
                              extra={"stream_id": alert.stream_id, "alert_id": alert.alert_id,
                                     "revision": alert.revision})


def _unchanged(alert: Alert) -> Alert:
    return alert


class InlineRules(_LocalRules):
    """The rules on the caller's thread: ``publish`` returns once the evidence is judged.

    For a pipeline that runs on the caller's thread (``scan``): one thread calls it, so the
    rules see the evidence in the order the detectors made it, every run the same.
    """

    def publish(self, evidence: Evidence) -> None:
        self._judge(evidence)

    def finish(self, stream_id: str) -> None:
        self._close_stream(stream_id)

    def depth(self) -> int:
        return 0

    def close(self, timeout: float) -> None:
        pass


@dataclass(frozen=True)
class _Finish:
    """Travels through the queue so the stream's alerts close after its earlier evidence."""

    stream_id: str
    done: threading.Event


class RulesThread(_LocalRules):
    """The rules on a thread of their own, behind a bounded queue (``publish`` blocks when it is full).

    Streams and the vision pool publish from many threads; the rules, which keep per-stream
    windows, run on one, and never hold a detector up.
    """

    def __init__(self, rules: Rules, alerts: AlertSink, *, maxsize: int = 10_000,
                 finish_timeout_s: float = 30.0) -> None:
        super().__init__(rules, alerts)
        self._queue: queue.Queue[Evidence | _Finish | None] = queue.Queue(maxsize=maxsize)
        self._finish_timeout_s = finish_timeout_s
        self._thread = threading.Thread(target=self._loop, name="rules", daemon=True)

    def start(self, complete: Complete) -> None:
        super().start(complete)
        self._thread.start()

    def publish(self, evidence: Evidence) -> None:
        self._queue.put(evidence)

    def finish(self, stream_id: str) -> None:
        """Waits (bounded) until the rules have judged the stream's evidence and closed its alerts."""
        done = threading.Event()
        self._queue.put(_Finish(stream_id, done))
        if not done.wait(self._finish_timeout_s):
            log.warning("rules did not close the stream's alerts in time", extra={"stream_id": stream_id})

    def depth(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float) -> None:
        """Judge what is queued, then stop."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if isinstance(item, _Finish):
                    try:
                        self._close_stream(item.stream_id)
                    finally:
                        item.done.set()
                else:
                    self._judge(item)
            except Exception:
                log.exception("rules failed on evidence", extra={"stream_id": item.stream_id})


class Tap:
    """Records every piece of evidence (back-testing keeps it), then hands it to ``inner``."""

    def __init__(self, record: Callable[[Evidence], None], inner: EvidenceSink) -> None:
        self._record = record
        self.inner = inner

    def start(self, complete: Complete) -> None:
        self.inner.start(complete)

    def open(self, stream_id: str, session: str) -> None:
        self.inner.open(stream_id, session)

    def publish(self, evidence: Evidence) -> None:
        self._record(evidence)
        self.inner.publish(evidence)

    def finish(self, stream_id: str) -> None:
        self.inner.finish(stream_id)

    def depth(self) -> int:
        return self.inner.depth()

    def close(self, timeout: float) -> None:
        self.inner.close(timeout)


class CollectingSink:
    """An alert sink that keeps the latest revision of every alert, in order of first appearance (``scan``)."""

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self.first_raised: dict[str, float] = {}
        """Media time at which each alert was first raised (its first revision's end)."""
        self._lock = threading.Lock()

    def emit(self, alert: Alert) -> None:
        with self._lock:
            self._alerts[alert.alert_id] = alert
            self.first_raised.setdefault(alert.alert_id, alert.media_end)

    @property
    def alerts(self) -> list[Alert]:
        with self._lock:
            return list(self._alerts.values())

    def write_jsonl(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for alert in self.alerts:
                out.write(json.dumps(alert.to_dict(), ensure_ascii=False) + "\n")
