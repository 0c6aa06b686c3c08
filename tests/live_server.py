"""A real live stream server for tests: Debian's nginx + libnginx-mod-rtmp, fed by ffmpeg.

    from tests.live_server import LiveServer
    with LiveServer() as server:
        pusher = server.push(clip, "shop1")        # ffmpeg -re, looped: a live RTMP stream
        copy = server.relay("shop1", "copy1")      # another publisher re-broadcasting shop1 live
        pusher.wait_publishing()
        url = server.rtmp_url("shop1")             # rtmp://127.0.0.1:PORT/live/shop1
        hls = server.hls_url("shop1")              # http://127.0.0.1:PORT/hls/shop1.m3u8
        pusher.stop(); pusher.start()              # the stream drops and comes back
        pusher.pause(); pusher.resume()            # the stream stalls (connected, no data)

nginx runs in the foreground on free localhost ports with a config, pid file,
logs and temp dirs in its own temporary directory. When started as root its
worker runs as ``nobody`` (so that directory is made world-readable). The
player side is closed when the publisher goes (``idle_streams off``), which
is how a real platform's edge behaves when a broadcast drops. Only the
processes started here are stopped, by their PIDs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from livewatch.broker import free_port
from tests.waiting import wait_until

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def _listens(port: int, proc: subprocess.Popen, what: str) -> bool:
    """Whether ``proc`` listens on 127.0.0.1:``port`` yet; raises if it has exited instead."""
    if proc.poll() is not None:
        raise RuntimeError(f"{what} exited with code {proc.returncode}")
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout_s: float = 5.0) -> None:
    """Stop one process we started, by its PID: ``sig``, then SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout_s)


class Pusher:
    """An ffmpeg process publishing a clip to the server in real time (``-re``), looped by default."""

    def __init__(self, server: LiveServer, clip: str | Path, name: str, loop: bool = True) -> None:
        self.server, self.clip, self.name, self.loop = server, Path(clip), name, loop
        self.proc: subprocess.Popen | None = None
        self.log_path = server.dir / f"ffmpeg-{name}.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Pusher:
        if self.running:
            return self
        cmd = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "warning", *self._input()]
        cmd += ["-c", "copy", "-f", "flv", self.server.rtmp_url(self.name)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        return self

    def _input(self) -> list[str]:
        return ["-re", *(["-stream_loop", "-1"] if self.loop else []), "-i", str(self.clip)]

    def stop(self) -> None:
        """Drop the stream (the publisher goes away as if the broadcaster lost its uplink)."""
        if self.running:
            os.kill(self.proc.pid, signal.SIGCONT)  # a paused ffmpeg must wake to die
        _stop(self.proc, signal.SIGKILL)
        self.proc = None

    def pause(self) -> None:
        """Stall the stream: the publisher stays connected but sends nothing (SIGSTOP to our ffmpeg)."""
        if self.running:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.running:
            os.kill(self.proc.pid, signal.SIGCONT)

    def restart(self) -> Pusher:
        self.stop()
        return self.start()

    def wait_publishing(self, timeout_s: float = 10.0) -> None:
        """Return once nginx reports the stream as being published."""
        wait_until(self._publishing, timeout_s, f"stream {self.name!r} to be published; see {self.log_path}")

    def _publishing(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"ffmpeg pusher exited ({self.proc.returncode}); see {self.log_path}")
        return self.server.is_publishing(self.name)

    def wait_hls(self, timeout_s: float = 15.0, segments: int = 2) -> None:
        """Return once the HLS playlist lists ``segments`` segments."""
        path = self.server.dir / "hls" / f"{self.name}.m3u8"
        wait_until(lambda: path.exists() and path.read_text(errors="replace").count("#EXTINF") >= segments,
                   timeout_s, f"HLS playlist {path} to list {segments} segments")


class Relay(Pusher):
    """An ffmpeg process re-publishing another stream of the server (``clip`` is its name) as it plays."""

    def _input(self) -> list[str]:
        return ["-i", self.server.rtmp_url(str(self.clip))]  # a live input paces itself: no -re


class LiveServer:
    """nginx-rtmp on free localhost ports: RTMP ingest/playback, HLS and stats over HTTP."""

    def __init__(self, app: str = "live", hls_fragment_s: float = 1.0) -> None:
        self.app = app
        self.hls_fragment_s = hls_fragment_s
        self.dir = Path(tempfile.mkdtemp(prefix="livewatch-nginx-"))
        self.rtmp_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.pushers: list[Pusher] = []

    def rtmp_url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{self.app}/{name}"

    def hls_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/hls/{name}.m3u8"

    def _config(self) -> str:
        d = self.dir
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        temps = "\n".join(f"    {k}_temp_path {d}/tmp/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return f"""
load_module {RTMP_MODULE};
{user}
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 128; }}
rtmp {{
  server {{
    listen 127.0.0.1:{self.rtmp_port};
    chunk_size 4096;
    application {self.app} {{
      live on;
      record off;
      idle_streams off;
      wait_key on;
      hls on;
      hls_path {d}/hls;
      hls_fragment {int(self.hls_fragment_s * 1000)}ms;
      hls_playlist_length {int(max(4, 4 * self.hls_fragment_s) * 1000)}ms;
      hls_cleanup on;
    }}
  }}
}}
http {{
  access_log off;
{temps}
  server {{
    listen 127.0.0.1:{self.http_port};
    location /stat {{ rtmp_stat all; }}
    location /hls/ {{
      root {d};
      types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
      add_header Cache-Control no-cache;
    }}
  }}
}}
"""

    def start(self) -> LiveServer:
        for sub in ("hls", "tmp"):
            (self.dir / sub).mkdir(exist_ok=True)
            os.chmod(self.dir / sub, 0o777)
        os.chmod(self.dir, 0o755)
        conf = self.dir / "nginx.conf"
        conf.write_text(self._config())
        with open(self.dir / "nginx.out", "ab") as out:
            self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(conf)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        proc = self.proc
        try:
            wait_until(lambda: all(_listens(port, proc, "nginx") for port in (self.rtmp_port, self.http_port)), 10,
                       lambda: f"nginx to listen on ports {self.rtmp_port} and {self.http_port}:\n{self._log_tail()}")
        except RuntimeError as exc:  # nginx exited
            logs = self._log_tail()
            self.stop()
            raise RuntimeError(f"nginx did not start: {exc}\n{logs}") from None
        except BaseException:  # the wait failed the test
            self.stop()
            raise
        return self

    def _log_tail(self) -> str:
        logs = (self.dir / "nginx.out", self.dir / "error.log")
        return "".join(f.read_text(errors="replace") for f in logs if f.exists())[-2000:]

    def push(self, clip: str | Path, name: str = "stream", loop: bool = True) -> Pusher:
        pusher = Pusher(self, clip, name, loop)
        self.pushers.append(pusher)
        return pusher.start()

    def relay(self, source: str, name: str) -> Pusher:
        """Re-publish the live stream ``source`` as ``name`` as it plays (a re-broadcast while both are on air)."""
        pusher = Relay(self, source, name, loop=False)
        self.pushers.append(pusher)
        return pusher.start()

    def is_publishing(self, name: str) -> bool:
        """Ask nginx-rtmp's stat page whether ``name`` has an active publisher."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/stat", timeout=2) as resp:
                xml = resp.read().decode("utf-8", "replace")
        except OSError:
            return False
        for block in xml.split("<stream>")[1:]:
            if f"<name>{name}</name>" in block and "<publishing/>" in block:
                return True
        return False

    def stop(self) -> None:
        for pusher in self.pushers:
            pusher.stop()
        _stop(self.proc, signal.SIGTERM)  # the master stops its own worker on SIGTERM
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
