"""Real ``livewatch`` services as subprocesses, their /metrics read like Prometheus would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping

from prometheus_client.parser import text_string_to_metric_families

from events.kafka import KafkaOptions
from tests.conftest import kafka_env, read_topic

ROOT = Path(__file__).resolve().parents[2]
COUNTERFEIT_CARD = "高仿LV包 1:1 原单 ¥99"


class Service:
    """One running ``livewatch`` service process; its ``LIVEWATCH_*`` environment is ``env`` alone."""

    def __init__(self, name: str, command: list[str], log_path: Path, metrics_port: int,
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_path
        self.metrics_port = metrics_port
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")}, **(env or {})}
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=5) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except OSError:
            return 0, ""

    @property
    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def samples(self, metric: str) -> dict[str, float]:
        """{stream_id: value} of one per-stream metric family (sample name as exposed)."""
        status, text = self.get("/metrics")
        if status != 200:
            return {}
        return {
            s.labels["stream_id"]: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == metric and "stream_id" in s.labels
        }

    def watched(self) -> set[str]:
        """Streams this worker reads live now, per its own metrics."""
        return {sid for sid, up in self.samples("livewatch_stream_live").items() if up == 1.0}

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: the crash, nothing drains
        self.proc.wait(10)

    def terminate(self, timeout_s: float) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def _cli_env(kafka: KafkaOptions) -> dict[str, str]:
    """This environment without its ``LIVEWATCH_*``, then the broker and topics of ``kafka``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")} | kafka_env(kafka)


def streams_cli(kafka: KafkaOptions, *args: str) -> subprocess.Popen:
    """``livewatch streams ...`` as an operator runs it (the broker and topics from ``LIVEWATCH_KAFKA*``), started."""
    return subprocess.Popen([sys.executable, "-m", "livewatch", "streams", *args],
                            cwd=ROOT, env=_cli_env(kafka), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def livewatch_cli(kafka: KafkaOptions, *args: str) -> str:
    """``livewatch ARGS...`` as an operator runs it, to its end: its output (a failure raises with its stderr)."""
    done = subprocess.run([sys.executable, "-m", "livewatch", *args], cwd=ROOT, env=_cli_env(kafka),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"livewatch {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def alerts_on_topic(kafka: KafkaOptions, stream_ids: set[str]) -> list[dict]:
    """Every alert record of these streams on the alert topic (read with confluent-kafka), in topic order."""
    records = read_topic(kafka.bootstrap_servers or "", kafka.topics.alerts, min_records=1, timeout_s=10.0, idle_s=1.0)
    return [r.json() for r in records if r.key is not None and r.key.decode() in stream_ids]
