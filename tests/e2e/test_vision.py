"""End to end through the picture: OCR, logos and re-broadcast fingerprints on real clips.

Clips come from the evaluation corpus generator (livewatch/corpus.py), so the
same scenes are tested here and measured by ``livewatch eval``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from events import Evidence, Modality
from livewatch.config import Config
from livewatch.corpus import CLIPS, generate
from livewatch.service import scan_file
from livewatch.stages import Stages

pytestmark = pytest.mark.slow

WANTED = ("cf03_logo_low_price", "pi01_border", "pi05_scaled_border", "bn05_plain_sale")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    clips = tuple(dataclasses.replace(c, scenes=tuple(dataclasses.replace(s, speech="") for s in c.scenes))
                  for c in CLIPS if c.name in WANTED)
    generate(out, clips)
    return out


@pytest.fixture(scope="module")
def vision(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    cfg = Config(data_dir=tmp_path_factory.mktemp("data"), protected_dir=corpus / "protected")
    cfg = cfg.replace(detectors=dataclasses.replace(cfg.detectors, asr=False))
    stages = Stages.load(cfg, inline=True)
    yield cfg, stages
    stages.close()


def scan(vision, path: Path) -> tuple[list, list[Evidence]]:
    cfg, stages = vision
    evidence: list[Evidence] = []
    alerts = scan_file(cfg, path, stages=stages, evidence=evidence)
    return alerts, evidence


def test_logo_next_to_low_price_and_slang_gives_logo_and_ocr_evidence_with_snapshots(vision, corpus: Path) -> None:
    alerts, evidence = scan(vision, corpus / "clips" / "cf03_logo_low_price.mp4")
    logos = [e for e in evidence if e.modality is Modality.LOGO]
    assert logos and {e.brand for e in logos} == {"gucci"}
    assert all(e.snapshot is not None and Path(e.snapshot.path).exists() for e in logos)
    assert any("99" in e.text for e in evidence if e.modality is Modality.OCR)
    counterfeit = [a for a in alerts if a.category.value == "counterfeit" and a.brand == "gucci"]
    assert counterfeit, [a.to_dict() for a in alerts]
    modalities = {e.modality for a in counterfeit for e in a.evidence}
    assert {Modality.LOGO, Modality.OCR} <= modalities
    assert all(e.snapshot_path and e.snapshot_sha256 for a in counterfeit for e in a.evidence)


@pytest.mark.parametrize("clip", ["pi01_border", "pi05_scaled_border"])
def test_rebroadcast_with_border_or_scaled_picture_gives_fingerprint_evidence(vision, corpus: Path, clip: str) -> None:
    _, evidence = scan(vision, corpus / "clips" / f"{clip}.mp4")
    found = [e for e in evidence if e.modality is Modality.FINGERPRINT]
    assert found, f"no fingerprint evidence for {clip}"
    assert {e.text for e in found} <= {"broadcast-1", "broadcast-2"}


def test_clean_stream_gives_no_logo_fingerprint_or_alert(vision, corpus: Path) -> None:
    alerts, evidence = scan(vision, corpus / "clips" / "bn05_plain_sale.mp4")
    assert [e for e in evidence if e.modality in (Modality.LOGO, Modality.FINGERPRINT)] == []
    assert alerts == []
