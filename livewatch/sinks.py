"""Where alerts go: the durable store and Kafka (live, ``AlertPublisher``), or a JSONL file (scan)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from events import Alert


class CollectingSink:
    """Keeps the latest revision of every alert, in order of first appearance."""

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


def read_jsonl(path: Path) -> list[Alert]:
    with path.open(encoding="utf-8") as src:
        return [Alert.from_dict(json.loads(line)) for line in src if line.strip()]
