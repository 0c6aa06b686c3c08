"""Apache Kafka itself, in KRaft mode, for tests: one JVM, broker and controller in one node.

The jars come from Maven Central (``tests/kafka_apache/pom.xml``, resolved by
``scripts/setup.d/50-apache-kafka.sh`` into ``var/apache-kafka/<version>/libs``).
Tansu (the embedded broker) speaks the Kafka protocol but is not Kafka; running
the same suites against the real thing catches what Tansu lets through.

    with ApacheKafka(tmp_path) as kafka:
        producer = make_producer(kafka_for(kafka.bootstrap), "test")   # tests.conftest.kafka_for

Start to ready takes ~3 s on an idle 2-core machine (format ~1.5 s, start ~2.5 s).
The JVM heap is capped (512 MiB by default) because the test machines are shared.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from events import LivewatchError
from livewatch.broker import free_port, port_open
from tests.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = Path(__file__).with_name("pom.xml")
SETUP_SCRIPT = REPO_ROOT / "scripts" / "setup.d" / "50-apache-kafka.sh"
READY_LINE = "Kafka Server started"


def kafka_version(pom: Path = POM) -> str:
    """The Apache Kafka version the pom pins (also the image tag docker-compose.yml must use)."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if not match:
        raise LivewatchError(f"{pom} has no <kafka.version> property: add one")
    return match.group(1).strip()


def libs_dir() -> Path:
    """Where the setup step puts the broker's jars for the pinned version."""
    return REPO_ROOT / "var" / "apache-kafka" / kafka_version() / "libs"


def ensure_libs() -> Path:
    """The jar directory, resolving it with the (idempotent) setup step when missing."""
    libs = libs_dir()
    if not (libs / ".complete").is_file():
        proc = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True)
        if proc.returncode != 0 or not (libs / ".complete").is_file():
            tail = " ".join(proc.stderr.split())[-300:]
            raise LivewatchError(
                f"Apache Kafka jars missing in {libs}: {tail or 'setup step failed'}; "
                f"run `bash {SETUP_SCRIPT.relative_to(REPO_ROOT)}` (needs java and mvn)"
            )
    return libs


def java_binary() -> str:
    java = shutil.which("java")
    if java is None:
        raise LivewatchError("java not found: install openjdk-17-jre-headless (requirements/apt.txt)")
    return java


def random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what kafka-storage random-uuid prints).

    Like Kafka's ``Uuid.randomUuid``, never one starting with "-": one in 64 does, and the storage
    tool's argument parser then takes ``-t -xyz...`` for an option without its value.
    """
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cluster_id


def server_properties(node_id: int, port: int, controller_port: int, log_dir: Path) -> dict[str, str]:
    """A single-node combined broker+controller tuned for tests (no replication, instant group joins)."""
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": f"{node_id}@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        # Compaction must be visible within a test, not after the default 7-day segment roll.
        "log.cleaner.backoff.ms": "1000",
    }


def java_command(main: str, *args: str, heap: str = "512m", log_dir: Path | None = None) -> list[str]:
    """``java ... -cp <the Maven-resolved jars> main args`` with a small heap, tuned for a quick start."""
    classpath = os.pathsep.join(sorted(str(p) for p in ensure_libs().glob("*.jar")))
    return [
        java_binary(),
        f"-Xmx{heap}",
        "-Xms64m",
        "-XX:+UseSerialGC",  # 2 shared cores: no parallel GC threads
        "-XX:TieredStopAtLevel=1",  # C1 only: faster start, plenty for tests
        "-Djava.awt.headless=true",
        *([f"-Dkafka.logs.dir={log_dir}"] if log_dir else []),
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-cp", classpath,
        main, *args,
    ]


def write_properties(path: Path, props: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path


def storage_format(config: Path, cluster_id: str, timeout_s: float = 60.0) -> None:
    """Format the KRaft log dirs of ``config`` with Kafka's own storage tool (kafka-storage format)."""
    proc = subprocess.run(
        java_command("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), heap="256m"),
        capture_output=True, text=True, timeout=timeout_s,
    )
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[-300:]
        raise LivewatchError(f"kafka-storage format of {config} failed: {detail}")


class ApacheKafka:
    """An Apache Kafka KRaft node started with ``java -cp`` from the Maven-resolved jars.

    ``start()`` formats a fresh log dir with ``kafka.tools.StorageTool``, runs
    ``kafka.Kafka`` on free 127.0.0.1 ports and waits for "Kafka Server
    started". ``stop()`` sends SIGTERM to this process's own PID (SIGKILL if it
    lingers); ``kill()`` is the crash. The work dir holds ``server.properties``,
    ``data/`` and ``kafka.log`` (look there when a start fails).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        heap: str = "512m",
        ready_timeout_s: float = 60.0,
        extra_properties: dict[str, str] | None = None,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="apache-kafka-"))
        self.heap = heap
        self.ready_timeout_s = ready_timeout_s
        self.extra_properties = dict(extra_properties or {})
        self.port = 0
        self.controller_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path:
        return self.workdir / "kafka.log"

    def _write_config(self) -> Path:
        self.port = free_port()
        self.controller_port = free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        data = self.workdir / "data"
        shutil.rmtree(data, ignore_errors=True)
        props = server_properties(1, self.port, self.controller_port, data) | self.extra_properties
        return write_properties(self.workdir / "server.properties", props)

    def start(self) -> ApacheKafka:
        if self._proc is not None and self._proc.poll() is None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        storage_format(config, random_cluster_id(), self.ready_timeout_s)
        self._log = open(self.log_path, "wb")
        self._proc = subprocess.Popen(
            java_command("kafka.Kafka", str(config), heap=self.heap, log_dir=self.workdir),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        try:
            wait_until(self._ready, self.ready_timeout_s,
                       lambda: f"Apache Kafka to start on {self.bootstrap} (log {self.log_path}): {self._log_tail()}")
        except BaseException:  # it exited or the wait failed the test: leave no JVM behind
            self.stop()
            raise

    def _ready(self) -> bool:
        """Whether the broker logged that it started and takes connections; raises if it exited instead."""
        if self._proc is None or self._proc.poll() is not None:
            raise LivewatchError(f"Apache Kafka exited before starting on {self.bootstrap} "
                                 f"(log {self.log_path}): {self._log_tail()}")
        return READY_LINE in self.log_path.read_text(errors="replace") and port_open("127.0.0.1", self.port)

    def _log_tail(self) -> str:
        return " ".join(self.log_path.read_text(errors="replace").split())[-400:]

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (controlled shutdown), SIGKILL after ``timeout_s``; idempotent."""
        self._signal(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """SIGKILL: the broker dies as in a crash."""
        self._signal(signal.SIGKILL, 10.0)

    def _signal(self, sig: int, timeout_s: float) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout_s)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        """Stop and remove the work dir if this object made it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ApacheKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"ApacheKafka({self.bootstrap}, pid={self.pid})"
