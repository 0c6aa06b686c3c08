"""The piracy corpus (livewatch/piracy_corpus.py): what each clip shows and plays, and its labels."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from livewatch import piracy_corpus as pc
from livewatch.synth import SIZE


def _clips(split: str) -> dict[str, pc.PiracyClip]:
    return {c.name: c for c in pc.split_clips(split)}


def test_both_splits_hold_the_same_kinds_with_their_own_sources() -> None:
    tuning, heldout = (pc.split_clips(s) for s in pc.SPLITS)
    assert [c.name for c in tuning] == [c.name for c in heldout]

    def seeds(clips: list[pc.PiracyClip]) -> set[int]:
        return {s.seed for c in clips for s in (c.show, c.audio_show) if s is not None}

    def voices(clips: list[pc.PiracyClip]) -> set[int]:
        return {c.voice_seed for c in clips}

    assert not seeds(tuning) & seeds(heldout), "a show or unrelated programme is shared by the splits"
    assert not voices(tuning) & voices(heldout)
    positives = [c for c in tuning if c.protected is not None]
    assert len(positives) >= 20 and len(tuning) - len(positives) >= 12


def test_positives_cover_the_issue_placements() -> None:
    clips = pc.split_clips("piracy-tuning")
    pips = sorted(c.picture.area for c in clips if c.protected and c.picture.how == "pip")
    assert {0.25, 0.35, 0.45, 0.55} <= set(pips)
    kinds = Counter(c.picture.how for c in clips if c.protected)
    assert kinds["split"] >= 2 and kinds["crop"] >= 2
    assert any(c.picture.mirror for c in clips if c.protected)
    assert any(c.picture.colour for c in clips if c.protected)
    assert any(c.picture.overlay for c in clips if c.protected)
    assert {c.speed for c in clips if c.protected} >= {0.9, 1.1}
    assert any(c.crf >= 36 for c in clips if c.protected)
    audio_only = [c for c in clips if c.protected and c.senses == ("audio",)]
    assert len(audio_only) >= 2


def test_labels_name_the_protected_show_and_negatives_carry_traps() -> None:
    for clip in pc.split_clips("piracy-heldout"):
        entry = pc.entry(clip, "piracy-heldout")
        if clip.protected is None:
            assert entry["labels"] == [] and entry["benign"] and entry["traps"], clip.name
        else:
            (label,) = entry["labels"]  # type: ignore[misc]
            assert label["category"] == "piracy" and label["content"] == clip.protected.content_id
            assert label["senses"], clip.name
            assert entry["traps"] == []
    assert {t["class"] for c in pc.split_clips("piracy-tuning") for t in pc.entry(c, "x")["traps"]} >= {  # type: ignore[attr-defined]
        "unrelated_video", "unrelated_pip", "music_only", "host_voice_licensed_track", "shop_clip", "other_match"}


def test_senses_say_which_copy_is_whose() -> None:
    clips = _clips("piracy-tuning")
    assert clips["p01_pip25"].senses == ("video", "audio")
    assert clips["p02_pip35_host_voice"].senses == ("video",)
    assert clips["p15_fast"].senses == ("video",)  # a sped-up soundtrack is not Chromaprint's to follow
    assert clips["p18_audio_host_camera"].senses == ("audio",)
    assert clips["n06_host_over_track"].protected is None  # a licensed track is not the show


@pytest.mark.parametrize("area", [0.25, 0.35, 0.45, 0.55])
@pytest.mark.parametrize("corner", ["tl", "br"])
def test_pip_covers_its_share_of_the_frame(area: float, corner: str) -> None:
    prog = np.full((360, 640, 3), 255, np.uint8)
    frame = pc._place(prog, pc.Picture("pip", area, corner), np.zeros((SIZE[1], SIZE[0], 3), np.uint8), 0.0)
    ys, xs = np.nonzero(frame[..., 0] == 255)
    assert abs(len(ys) / (SIZE[0] * SIZE[1]) - area) < 0.01
    assert (ys.min() < 30) == (corner[0] == "t") and (xs.min() < 30) == (corner[1] == "l")
    assert (ys.max() > SIZE[1] - 30) == (corner[0] == "b") and (xs.max() > SIZE[0] - 30) == (corner[1] == "r")


def test_split_screen_puts_the_programme_in_one_half() -> None:
    prog = np.full((360, 640, 3), 255, np.uint8)
    backdrop = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    stretched = pc._place(prog, pc.Picture("split", side="right"), backdrop, 0.0)
    assert (stretched[:, 640:] == 255).all() and (stretched[:, :640] == 0).all()
    fit = pc._place(prog, pc.Picture("split", side="left", fit=True), backdrop, 0.0)
    assert (fit[..., 0] == 255).mean() == pytest.approx(0.25, abs=0.01)


def test_sound_of_each_kind() -> None:
    clips = _clips("piracy-tuning")
    n = int(pc.CLIP_S * pc.RATE)
    copy = pc.clip_sound(clips["p18_audio_host_camera"])
    show = clips["p18_audio_host_camera"].audio_show
    assert show is not None
    start = int(clips["p18_audio_host_camera"].start * pc.RATE)
    assert len(copy) == n and np.array_equal(copy, show.sound()[start : start + n])
    fast = pc.clip_sound(clips["p15_fast"])
    assert len(fast) == n
    over_track = pc.clip_sound(clips["n06_host_over_track"])
    assert len(over_track) == n and not np.allclose(over_track, pc.clip_sound(dataclasses.replace(
        clips["n06_host_over_track"], sound="track")))
    assert float(np.abs(pc.clip_sound(clips["n08_shop"])).max()) < 0.05  # room tone


def test_retimed_plays_faster() -> None:
    ramp = np.arange(pc.RATE * 4, dtype=np.float32)
    out = pc.retimed(ramp, 1.1, 2.0)
    assert len(out) == 2 * pc.RATE and out[-1] == pytest.approx(1.1 * (2 * pc.RATE - 1), rel=1e-4)


@pytest.fixture()
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Rendering replaced by empty files; the names of the shows and clips rendered, in order."""
    names: list[str] = []

    def fake(name: str, path: Path) -> None:
        names.append(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")

    monkeypatch.setattr(pc, "render_show", lambda show, path: fake(show.content_id, path))
    monkeypatch.setattr(pc, "render_piracy_clip", lambda clip, path: fake(clip.name, path))
    return names


def test_generate_writes_labels_and_only_the_asked_clips(tmp_path: Path, rendered: list[str]) -> None:
    """generate renders the protected shows and the clips asked for (here short stand-ins)."""
    labels = pc.generate(tmp_path, ("piracy-tuning",), only=("p01_pip25",))
    data = json.loads(labels.read_text(encoding="utf-8"))
    assert len(data["clips"]) == len(pc.split_clips("piracy-tuning"))
    assert "p01_pip25" in rendered and "p02_pip35_host_voice" not in rendered
    assert sorted(p.name for p in (tmp_path / "protected").iterdir()) == sorted(
        f"{s.content_id}.mp4" for s in pc.protected_shows())


def test_rendered_clip_has_pictures_and_the_sound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pc, "CLIP_S", 2.0)
    clip = _clips("piracy-tuning")["p19_audio_shop_lowrate"]
    path = pc.render_piracy_clip(clip, tmp_path / "c.mp4")
    with av.open(str(path)) as container:
        assert container.streams.video[0].width == SIZE[0]
        assert container.streams.audio[0].bit_rate <= 64000
        assert float(container.duration or 0) / 1e6 == pytest.approx(2.0, abs=0.2)


def test_matches_share_the_pitch_and_differ_in_play() -> None:
    """Another match is a look-alike: the same pitch and camera, other teams and runs."""
    a, b = pc.match_frame(1.0, 5), pc.match_frame(1.0, 9)
    assert a.shape == b.shape == (360, 640, 3)
    assert np.array_equal(a, pc.match_frame(1.0, 5))  # deterministic
    green = (a[..., 1] > a[..., 0] + 40) & (b[..., 1] > b[..., 0] + 40)
    assert green.mean() > 0.5 and not np.array_equal(a, b)
    assert not np.array_equal(pc.match_frame(1.0, 5), pc.match_frame(6.0, 5))  # a close shot follows the wide one


def test_a_match_sounds_of_its_commentator_and_crowd() -> None:
    match = pc.Show(5, True, "match")
    sound = match.sound(12.0)
    assert len(sound) == 12 * pc.RATE and 0.1 < float(np.abs(sound).max()) <= 1.0
    other = pc.Show(9, False, "match").sound(12.0)
    assert not np.allclose(sound, other)
    crowd = pc.crowd(6.0, 1)
    spectrum = np.abs(np.fft.rfft(crowd))
    freqs = np.fft.rfftfreq(len(crowd), 1 / pc.RATE)
    assert spectrum[freqs < 1500].sum() > 5 * spectrum[freqs > 3000].sum()  # a roar, not hiss


def test_evidence_corpus_takes_the_rendered_clips_of_its_splits(tmp_path: Path, rendered: list[str]) -> None:
    """bench/evidence_corpus.py scans the piracy corpus as its third corpus, rendering only what is missing."""
    from bench import evidence_corpus as ec

    clips = ec.piracy_clips(tmp_path, ("piracy-heldout",))
    assert {c["split"] for c in clips} == {"piracy-heldout"} and len(clips) == len(pc.split_clips("piracy-heldout"))
    assert all(Path(c["media"]).exists() for c in clips)
    before = len(rendered)
    assert len(ec.piracy_clips(tmp_path, ("piracy-heldout",))) == len(clips) and len(rendered) == before  # nothing again
    assert ec.CORPUS_SPLITS["piracy"] == pc.SPLITS
