"""End to end: the ``livewatch`` command against a real broker, real models and a real stream server.

These run the CLI as a user would (a subprocess), read what reached Kafka with
confluent-kafka (not the client livewatch uses), and check the bad inputs get
their one-line message while the other streams keep going.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from livewatch.broker import EmbeddedBroker, free_port
from tests.conftest import read_topic
from tests.live_server import LiveServer
from tests.media import make_clip, make_not_video, make_video_without_audio
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
COUNTERFEIT_CARD = "高仿LV包 1:1 原单 ¥99"


class Cli:
    """A running ``livewatch`` process whose stderr is collected as it comes."""

    def __init__(self, *args: str, data_dir: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("LIVEWATCH_KAFKA", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "livewatch", "--data-dir", str(data_dir), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        """The first output line matching ``pattern``; fails at once if the process ended without one."""

        def match() -> re.Match[str] | None:
            ended = self.proc.poll() is not None and not self._reader.is_alive()  # before reading: no line missed
            found = next((m for line in list(self.lines) if (m := re.search(pattern, line))), None)
            if found is None and ended:
                pytest.fail(f"the process ended without a line matching {pattern!r}; output:\n{self.output[-4000:]}")
            return found

        return wait_until(match, timeout_s, lambda: f"a line matching {pattern!r}; output:\n{self.output[-4000:]}")

    def stop(self, timeout_s: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code

    def wait(self, timeout_s: float) -> int:
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code


def alerts_for(bootstrap: str, stream_id: str, cli: Cli, *, timeout_s: float = 60.0) -> list[dict]:
    """The alerts of ``stream_id`` on livewatch.alerts once there is one; the failure shows ``cli``'s output."""

    def mine() -> list[dict]:
        # idle_s: a fresh reader's first fetch can take longer than read_topic's default wait
        records = read_topic(bootstrap, "livewatch.alerts", timeout_s=10.0, idle_s=3.0)
        return [r.json() for r in records if r.key == stream_id.encode()]

    return wait_until(mine, timeout_s, lambda: f"an alert for {stream_id} on livewatch.alerts; output:\n{cli.output[-4000:]}")


@pytest.fixture(scope="module")
def counterfeit_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "counterfeit.mp4", 8, text_cards=[(0, 8, COUNTERFEIT_CARD)])


@pytest.fixture(scope="module")
def late_counterfeit_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The violation appears 6 s in: a test can take the broker down before anything is raised."""
    return make_clip(tmp_path_factory.mktemp("media") / "late.mp4", 14, text_cards=[(6, 14, COUNTERFEIT_CARD)])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared across this module so the demo clip is generated once."""
    return tmp_path_factory.mktemp("data")


def test_demo_run_puts_an_alert_on_kafka_readable_by_another_client(data_dir: Path) -> None:
    cli = Cli("run", "--demo", "--status-every", "2", data_dir=data_dir)
    try:
        bootstrap = cli.wait_for(r"embedded Kafka broker on (127\.0\.0\.1:\d+)", timeout_s=240).group(1)
        alerts = alerts_for(bootstrap, "demo", cli, timeout_s=120)
        categories = {a["category"] for a in alerts}
        assert "counterfeit" in categories
        cli.wait_for(r"\[demo\] live .*alerts [1-9]", timeout_s=30)
    finally:
        code = cli.stop()
    assert code == 0, cli.output[-3000:]
    assert "draining" in cli.output


def test_run_follows_a_live_rtmp_stream_through_a_drop_and_ends_cleanly(
    counterfeit_clip: Path, kafka_broker: str, tmp_path: Path
) -> None:
    with LiveServer() as server:
        pusher = server.push(counterfeit_clip, "shop1")
        pusher.wait_publishing()
        cli = Cli(
            "--no-asr", "--kafka", kafka_broker, "run", f"shop1={server.rtmp_url('shop1')}",
            "--status-every", "1", "--give-up-after", "8", "--stall-timeout", "3",
            data_dir=tmp_path,
        )
        try:
            cli.wait_for(r"\[shop1\] live .* sampled", timeout_s=60)
            pusher.stop()
            cli.wait_for(r"shop1.*; reconnecting", timeout_s=60)  # the drop is seen before the stream returns
            pusher.restart()
            pusher.wait_publishing()
            alerts_for(kafka_broker, "shop1", cli, timeout_s=90)
            pusher.stop()
            code = cli.wait(120)
        finally:
            if cli.proc.poll() is None:
                cli.stop()
    assert code == 0, cli.output[-3000:]
    assert re.search(r"reconnect", cli.output, re.IGNORECASE), cli.output[-3000:]
    assert "[shop1] ended" in cli.output


def test_bad_sources_get_one_line_each_and_the_good_stream_is_still_watched(
    counterfeit_clip: Path, kafka_broker: str, tmp_path: Path
) -> None:
    not_video = make_not_video(tmp_path / "notes.mp4")
    silent = make_video_without_audio(tmp_path / "silent.mp4", 4)
    missing = tmp_path / "missing.mp4"
    cli = Cli(
        "--no-asr", "--kafka", kafka_broker, "run",
        f"good={counterfeit_clip}", f"gone={missing}", f"junk={not_video}", f"mute={silent}",
        "--status-every", "1",
        data_dir=tmp_path / "data",
    )
    code = cli.wait(240)
    out = cli.output
    assert code == 0, out[-3000:]
    assert re.search(rf"\[gone\] failed .*error: {re.escape(str(missing))}: no such", out), out[-3000:]
    assert re.search(rf"\[junk\] failed .*error: {re.escape(str(not_video))}: not a video", out), out[-3000:]
    assert re.search(r"no audio", out, re.IGNORECASE), out[-3000:]
    assert re.search(r"\[mute\] ended .* [1-9]\d* sampled", out), out[-3000:]
    alerts_for(kafka_broker, "good", cli, timeout_s=30)


def test_unreachable_broker_given_explicitly_fails_fast_with_one_line(counterfeit_clip: Path, tmp_path: Path) -> None:
    port = free_port()
    cli = Cli("--kafka", f"127.0.0.1:{port}", "run", str(counterfeit_clip), data_dir=tmp_path)
    assert cli.wait(60) == 1  # it gives up instead of waiting for the broker
    assert re.search(rf"cannot reach Kafka at 127\.0\.0\.1:{port}", cli.output), cli.output


def test_alerts_raised_while_the_broker_is_down_are_delivered_once_when_it_returns(
    late_counterfeit_clip: Path, tmp_path: Path
) -> None:
    port = free_port()
    broker = EmbeddedBroker(port=port).start()
    cli = Cli(
        "--no-asr", "--kafka", broker.bootstrap, "run", f"outage={late_counterfeit_clip}", "--realtime",
        "--status-every", "1",
        data_dir=tmp_path,
    )
    try:
        cli.wait_for(r"\[outage\] live", timeout_s=90)
        broker.stop()
        cli.wait_for(r"\[outage\] .*alerts [1-9]", timeout_s=90)
        cli.wait_for(r"cannot deliver alerts to Kafka", timeout_s=60)
        cli.wait_for(r"still down after \d+s, \d+ alert\(s\) waiting", timeout_s=30)  # ~10 s after the first line
        broker = EmbeddedBroker(port=port).start()
        alerts_for(broker.bootstrap, "outage", cli, timeout_s=90)
        code = cli.wait(120)
        assert code == 0, cli.output[-3000:]
        alerts = alerts_for(broker.bootstrap, "outage", cli, timeout_s=10)
    finally:
        if cli.proc.poll() is None:
            cli.stop()
        broker.stop()
    assert alerts, cli.output[-3000:]
    keys = [(a["alert_id"], a["revision"]) for a in alerts]
    assert len(keys) == len(set(keys)), f"duplicated alerts: {keys}"

    # The log names the ids that were stored and published (not ids re-derived after the line).
    lines = [json.loads(line) for line in cli.lines if line.startswith("{")]
    logged = {(m.group(1), int(m.group(2))) for e in lines if e["logger"] == "rules.engine"
              and (m := re.match(r"alert (\S+) rev (\d+):", e["msg"]))}
    from alerts import AlertStore

    with AlertStore(tmp_path / "alerts.sqlite3") as store:
        stored = {(s.alert_id, s.revision) for s in store.stored(stream_id="outage")}
    assert logged and logged == stored == set(keys), (logged, stored, keys)

    # The outage: nothing from kafka-python at INFO and above, at most one livewatch line per 10 s.
    client = [e for e in lines if e["logger"].startswith("kafka")]
    assert not client, client[:5]
    outage = [e for e in lines if e["logger"] == "alerts.publisher" and e["level"] == "WARNING"]
    assert outage and "cannot deliver alerts to Kafka" in outage[0]["msg"], outage
    stamps = [datetime.fromisoformat(e["ts"].replace("Z", "+00:00")) for e in outage]
    assert all((b - a).total_seconds() >= 9.9 for a, b in zip(stamps, stamps[1:])), [e["msg"] for e in outage]
    assert any("again after" in e["msg"] for e in lines if e["logger"] == "alerts.publisher"), outage


def test_scan_writes_the_same_records_as_kafka_gets(counterfeit_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    cli = Cli("--no-asr", "scan", str(counterfeit_clip), "--out", str(out), data_dir=tmp_path)
    assert cli.wait(240) == 0, cli.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records and all(r["stream_id"] == "counterfeit" for r in records)
    from alerts import validate_alert

    for record in records:
        validate_alert(record)
    assert any(r["category"] == "counterfeit" for r in records)


def test_scan_of_a_missing_file_says_so_in_one_line(tmp_path: Path) -> None:
    cli = Cli("scan", str(tmp_path / "nope.mp4"), data_dir=tmp_path)
    assert cli.wait(60) == 1
    errors = [line for line in cli.lines if line.startswith("livewatch:")]
    assert len(errors) == 1 and "nope.mp4" in errors[0], cli.output


def test_evidence_verify_catches_a_tampered_snapshot_and_export_bundles_an_alert(
    counterfeit_clip: Path, kafka_broker: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    run = Cli("--no-asr", "--kafka", kafka_broker, "run", f"ledger={counterfeit_clip}", data_dir=data)
    assert run.wait(240) == 0, run.output[-3000:]
    intact = Cli("evidence", "verify", data_dir=data)
    assert intact.wait(60) == 0, intact.output
    assert "evidence intact" in intact.output

    alert = alerts_for(kafka_broker, "ledger", run)[0]
    bundle = Cli("evidence", "export", alert["alert_id"], "--out", str(tmp_path / "bundle"), data_dir=data)
    assert bundle.wait(60) == 0, bundle.output
    assert (tmp_path / "bundle" / "manifest.json").exists()

    snapshot = Path(next(e["snapshot_path"] for e in alert["evidence"] if e["snapshot_path"]))
    snapshot.write_bytes(snapshot.read_bytes() + b"edited")
    tampered = Cli("evidence", "verify", data_dir=data)
    assert tampered.wait(60) == 1
    assert re.search(rf"snapshot_changed: stream ledger .*{re.escape(snapshot.name)}", tampered.output), tampered.output
