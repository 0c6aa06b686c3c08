"""Dashboard fixtures: settings, alerts, a live uvicorn server, a real PostgreSQL, a hook receiver."""

from __future__ import annotations

import http.server
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from dashboard import DashboardSettings, HookOptions
from events import (
    Action,
    Alert,
    AlertEvidence,
    Box,
    Category,
    MatchStrength,
    Modality,
    Mode,
    Price,
    Segment,
    Severity,
    alert_id_for,
)
from events.kafka import KafkaTopics, make_producer
from livewatch.broker import free_port
from tests.waiting import wait_until

SECRET = "test-secret-key-0123456789"
ADMIN = ("admin", "admin-password-1")
PG_BIN = Path("/usr/lib/postgresql/15/bin")

def listens(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout_s: float = 15.0) -> None:
    wait_until(lambda: listens(port), timeout_s, f"something to listen on 127.0.0.1:{port}")


def make_alert(
    *, stream_id: str = "shop-1", rule_id: str = "counterfeit.replica_terms", brand: str | None = "acme",
    onset: float = 12.0, mode: Mode = Mode.ENFORCE, action: Action = Action.TAKEDOWN,
    snapshot_path: str | None = None, revision: int = 1, title: str = "Replica bags promoted",
    confidence: float = 0.91, segment: Segment | None = None, price: Price | None = None,
) -> dict[str, Any]:
    """A realistic alert as ``Alert.to_dict()`` (schema 1.1): speech, screen text and a logo with a box.

    Like the rules engine, ``score`` equals ``confidence``; with a ``segment``, every
    evidence item belongs to it.
    """
    seg = segment.segment_id if segment else None
    evidence = (
        AlertEvidence(Modality.ASR, "这款包包是高仿的，原单品质", ("高仿", "原单"), onset, onset + 3.0, 0.9,
                      strength=MatchStrength.EXACT, segment_id=seg),
        AlertEvidence(Modality.OCR, "原单 ACME 到手价 199", ("原单",), onset + 0.5, onset + 8.0, 0.95,
                      strength=MatchStrength.NORMALIZED, segment_id=seg),
        AlertEvidence(Modality.LOGO, "acme", (), onset + 1.0, onset + 6.0, 0.8, snapshot_path=snapshot_path,
                      snapshot_sha256="ab" * 32 if snapshot_path else None, brand=brand, box=Box(40, 30, 120, 60),
                      strength=MatchStrength.DETECTED, segment_id=seg),
    )
    return Alert(
        alert_id=alert_id_for(stream_id, rule_id, brand, onset), stream_id=stream_id, rule_id=rule_id,
        rule_version=3, category=Category.COUNTERFEIT, severity=Severity.HIGH, score=confidence, media_start=onset,
        media_end=onset + 8.0, evidence=evidence, brand=brand, mode=mode, action=action, title=title,
        stream_url=f"rtmp://127.0.0.1/live/{stream_id}", revision=revision, confidence=confidence,
        segment=segment, price=price,
    ).to_dict()


# The fields of schema 1.0 (alert, evidence item) and what 1.1 added: older workers still publish these.
_FIELDS_1_0 = (
    ("schema_version", "alert_id", "revision", "stream_id", "stream_url", "rule_id", "rule_version", "category",
     "severity", "score", "mode", "action", "title", "media_start", "media_end", "detected_at", "brand", "evidence"),
    ("modality", "text", "matched_terms", "media_start", "media_end", "confidence", "snapshot_path",
     "snapshot_sha256", "brand", "box", "prices"),
)
_ADDED_1_1 = (("confidence", "segment", "price"), ("strength", "segment_id"))


def legacy_alert(version: str = "1.0", **changes: Any) -> dict[str, Any]:
    """An alert as schema ``version`` (1.0 or 1.1) wrote it: only the fields that version had."""
    alert_keys, evidence_keys = _FIELDS_1_0
    if version == "1.1":
        alert_keys, evidence_keys = alert_keys + _ADDED_1_1[0], evidence_keys + _ADDED_1_1[1]
    alert = {k: v for k, v in make_alert(**changes).items() if k in alert_keys}
    alert["schema_version"] = version
    alert["evidence"] = [{k: v for k, v in ev.items() if k in evidence_keys} for ev in alert["evidence"]]
    return alert


def write_jpeg(path: Path, size: tuple[int, int] = (320, 180)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (30, 120, 200)).save(path, "JPEG")
    return path


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "snapshots"
    write_jpeg(root / "ab" / "logo.jpg")
    return root


@pytest.fixture
def rules_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the bundled rule set (the real rules engine validates and explains it)."""
    from rules import DEFAULT_RULES_DIR

    rules, lexicons = tmp_path / "rules", tmp_path / "lexicons"
    shutil.copytree(Path(DEFAULT_RULES_DIR) / "rules", rules)
    shutil.copytree(Path(DEFAULT_RULES_DIR) / "lexicons", lexicons)
    cue = rules / "counterfeit_brand_cue.yaml"
    cue.write_text("# Counterfeit promotion (test copy)\n" + cue.read_text(encoding="utf-8"), encoding="utf-8")
    return rules, lexicons


@pytest.fixture
def make_settings(tmp_path: Path, data_root: Path, rules_dirs: tuple[Path, Path]) -> Callable[..., DashboardSettings]:
    def build(**changes: Any) -> DashboardSettings:
        values: dict[str, Any] = dict(
            secret_key=SECRET, db_url=f"sqlite:///{tmp_path / 'dashboard.sqlite3'}", data_dir=data_root,
            rules_dir=rules_dirs[0], lexicon_dir=rules_dirs[1], initial_admin=ADMIN, port=free_port(),
            hooks=HookOptions(max_attempts=3, initial_backoff_s=0.2, max_backoff_s=1.0, timeout_s=2.0,
                              poll_interval_s=0.1, allow_private_targets=True),  # receivers listen on 127.0.0.1
            outbox_poll_s=0.1, sse_keepalive_s=1.0, sse_reauth_s=0.5,
            secure_cookies=False,  # the documented opt-out for plain-http local use: tests speak http
        )
        values.update(changes)
        return DashboardSettings(**values)

    return build


@pytest.fixture
def client(make_settings: Callable[..., DashboardSettings]) -> Iterator[Any]:
    """A TestClient (lifespan run) without Kafka or hook delivery."""
    from fastapi.testclient import TestClient

    from dashboard import create_app

    with TestClient(create_app(make_settings(deliver_hooks=False)), base_url="http://testserver") as c:
        yield c


def login(client: Any, username: str, password: str) -> str:
    """Sign in through the form like a browser; returns the session's CSRF token."""
    import re

    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf, "next": "/"},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    home = client.get("/")
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', home.text).group(1)


@dataclass
class LiveServer:
    url: str
    settings: DashboardSettings
    app: Any
    server: Any = None
    thread: threading.Thread | None = None

    @property
    def store(self):
        return self.app.state.ctx.store


@pytest.fixture
def live_server(make_settings: Callable[..., DashboardSettings]) -> Iterator[Callable[..., LiveServer]]:
    """Start the dashboard with uvicorn in a thread: ``live_server(**settings_changes)``."""
    import uvicorn

    from dashboard import create_app

    started: list[LiveServer] = []

    def start(**changes: Any) -> LiveServer:
        settings = make_settings(**changes)
        app = create_app(settings)
        config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning",
                                timeout_graceful_shutdown=1, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_port(settings.port)
        live = LiveServer(f"http://127.0.0.1:{settings.port}", settings, app, server, thread)
        started.append(live)
        return live

    yield start
    for live in started:
        live.server.should_exit = True
        live.thread.join(15)


@dataclass
class HookReceiver:
    """A real HTTP endpoint on 127.0.0.1 that records takedown calls; can be taken down."""

    port: int
    calls: list[dict[str, Any]] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/takedown"

    def start(self) -> HookReceiver:
        calls = self.calls

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                calls.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.allow_reuse_address = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_calls(self, n: int, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Every call received once there are at least ``n``."""
        wait_until(lambda: len(self.calls) >= n, timeout_s, lambda: f"{n} takedown call(s), got {len(self.calls)}")
        return list(self.calls)


@pytest.fixture
def hook_receiver() -> Iterator[HookReceiver]:
    receiver = HookReceiver(free_port()).start()
    yield receiver
    receiver.stop()


def publish_alerts(bootstrap: str, alerts: list[dict[str, Any]], topic: str = "livewatch.alerts") -> None:
    from tests.conftest import kafka_for

    producer = make_producer(kafka_for(bootstrap), "test-alerts", acks="all")
    try:
        for alert in alerts:
            producer.send(topic, key=alert["stream_id"].encode(), value=json.dumps(alert).encode())
        producer.flush(10)
    finally:
        producer.close()


def unique_topics() -> KafkaTopics:
    """Per-test topic names: the session broker is shared by every test."""
    tag = f"t{time.monotonic_ns()}"
    return KafkaTopics(alerts=f"livewatch.alerts.{tag}", shadow_alerts=f"livewatch.alerts.shadow.{tag}",
                  decisions=f"livewatch.decisions.{tag}", takedowns=f"livewatch.takedowns.{tag}",
                  takedowns_dlq=f"livewatch.takedowns.dlq.{tag}")


# -- a real PostgreSQL server ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Debian's PostgreSQL 15 in a temp cluster, run as the unprivileged ``postgres`` user."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed: apt-get install postgresql (listed in requirements/apt.txt)")
    user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="lw-pg-"))
    data = base / "data"
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    port = free_port()

    def run(*cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if user is not None else []
        subprocess.run([*prefix, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=base)

    run(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
    run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o",
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")  # -w: returns once it is down
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh database on the shared server, for one test."""
    import psycopg

    name = f"lw_{time.monotonic_ns()}"
    with psycopg.connect(postgres_server.replace("postgresql://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_server.rsplit("/", 1)[0] + "/" + name
