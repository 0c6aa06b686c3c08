"""Fixtures of the distributed tests.

``services`` (a factory) starts ``livewatch worker`` / ``rules-service``
processes against a broker, each with its own data dir, metrics port and log
file, and stops by PID whatever the test left running. ``counterfeit_clip`` is
a short 640x360 clip with a counterfeit card (OCR reads it, the rules fire),
replayed by the workers with ``--loop`` so it stays live.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from events.kafka import KafkaOptions
from livewatch.broker import free_port
from tests.conftest import kafka_env
from tests.distributed.cluster import COUNTERFEIT_CARD, Service
from tests.media import make_clip


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``services(name, kafka, "worker", *args, detectors=("--no-asr",))`` starts one; all are stopped at the end.

    ``kafka`` (``KafkaOptions``, e.g. ``kafka_for(broker, streams=...)``) reaches the process as
    ``LIVEWATCH_KAFKA*`` variables, as in a deployment.
    """
    started: list[Service] = []

    def start(name: str, kafka: KafkaOptions, command: str, *args: str, detectors: tuple[str, ...] = ("--no-asr",),
              data_dir: Path | None = None) -> Service:
        port = free_port()
        data_dir = data_dir or tmp_path / name
        argv = [sys.executable, "-m", "livewatch", "--data-dir", str(data_dir), *detectors,
                command, *args, "--metrics-port", str(port)]
        service = Service(name, argv, tmp_path / f"{name}.log", port, env=kafka_env(kafka))
        started.append(service)
        return service

    yield start
    for service in started:
        service.close()


@pytest.fixture(scope="session")
def counterfeit_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s, 640x360, no audio, the counterfeit card throughout (cheap to decode and to read)."""
    return make_clip(tmp_path_factory.mktemp("distributed-media") / "counterfeit.mp4", 4,
                     text_cards=[(0, 4, COUNTERFEIT_CARD)], with_audio=False, size=(640, 360))


@pytest.fixture
def run_id() -> str:
    """Unique names: the session broker's topics and groups are shared by every test."""
    return uuid.uuid4().hex[:8]


