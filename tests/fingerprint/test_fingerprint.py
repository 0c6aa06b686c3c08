"""Re-broadcast fingerprints with real video: PyAV-encoded H.264 clips decoded back at 1 fps.

The protected programme is registered from a file; re-broadcasts start 5 s
into it and show it letterboxed, as a scaled picture in a streamer layout
(with a face cam beside it), mirrored and cropped, and full-frame under a
picture-in-picture face cam. Each must give ``fingerprint`` evidence naming
the content; an unrelated programme in the same layout must give none.
"""

from __future__ import annotations

import numpy as np
import pytest
from fp_media import SIZE, TRANSFORMS, programme_frame, run_stream

from events import WHOLE_HASHES, ConfigError, Modality, SourceError
from frames.fingerprint import FingerprintIndex, FingerprintOptions, phash, region_hashes, work_gray

CONTENT = "programme-1"


@pytest.fixture(scope="module")
def index(protected_clip) -> FingerprintIndex:
    idx = FingerprintIndex()
    assert idx.register_video(protected_clip, CONTENT) == 40  # 20 s, one per 0.5 s
    return idx


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_rebroadcast_is_found(index, rebroadcast, name):
    evidence = run_stream(index, rebroadcast(name), f"stream-{name}")
    assert evidence, f"{name}: no fingerprint evidence"
    first = evidence[0]
    assert first.modality is Modality.FINGERPRINT and first.text == CONTENT
    assert first.media_start < 5.0, "evidence should come within the first seconds of the run"
    assert len({e.observation_id for e in evidence}) == 1, "one continuous re-broadcast is one observation"
    offsets = [e.details["content_time"] - e.media_end for e in evidence[:-1]]
    assert all(3.0 <= o <= 7.0 for o in offsets), offsets  # the re-broadcast starts 5 s into the programme
    assert evidence[-1].media_end >= 8.0  # the final span covers the whole 10 s re-broadcast
    print(f"{name}: {len(evidence)} events, span {first.media_start:.1f}-{evidence[-1].media_end:.1f} s, "
          f"region {first.details['region']}, mirrored {first.details['mirrored']}")


def test_picture_box_points_at_the_picture(index, rebroadcast):
    evidence = run_stream(index, rebroadcast("picture"), "stream-box")
    box = evidence[0].box
    assert abs(box.x - 380) < 24 and abs(box.y - 120) < 24 and abs(box.w - 640) < 40, box


def test_unrelated_stream_gives_nothing(index, unrelated_clip):
    assert run_stream(index, unrelated_clip, "stream-clean") == []


def test_single_frame_match_is_not_evidence(index):
    """One matching frame (a still from the programme shown briefly) is below the run threshold."""
    from events import SampledFrame, VideoFrame

    still = programme_frame(9.0, 1)
    frames = [SampledFrame(VideoFrame("brief", 0, 0.0, 0.0, still), 0)]
    frames += [SampledFrame(VideoFrame("brief", i, float(i), 0.0, programme_frame(i, 7)), 0) for i in range(1, 6)]
    assert [e for f in frames for e in index.process(f)] + index.finish("brief") == []


def test_save_and_load_round_trip(index, tmp_path, rebroadcast):
    path = tmp_path / "index.npz"
    index.save(path)
    loaded = FingerprintIndex.load(path)
    assert loaded.content_ids == (CONTENT,) and len(loaded) == len(index)
    assert run_stream(loaded, rebroadcast("letterbox"), "stream-loaded")


def test_bad_inputs_name_the_problem(tmp_path, index):
    bogus = tmp_path / "not_video.mp4"
    bogus.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceError, match="not_video.mp4"):
        FingerprintIndex().register_video(bogus, "x")
    with pytest.raises(ConfigError, match="already"):
        index.register_frames(CONTENT, [])
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"nope")
    with pytest.raises(ConfigError, match="broken.npz"):
        FingerprintIndex.load(broken)
    with pytest.raises(ConfigError):
        FingerprintOptions(min_run=0)


def test_hash_is_stable_under_scaling_and_mirror_query():
    img = programme_frame(3.0, 1)
    small = work_gray(img)
    big = work_gray(np.repeat(np.repeat(img, 2, axis=0), 2, axis=1))
    assert bin(int(phash(small)) ^ int(phash(big))).count("1") <= 4
    whole, quads, textured = region_hashes(small)
    assert whole.shape == (WHOLE_HASHES,) and quads.shape == (4,) and textured.all()
    assert not region_hashes(np.zeros((90, 160), np.uint8))[2].any(), "flat quadrants carry no information"
    assert SIZE == (640, 360)


def test_clean_live_commerce_stream_gives_nothing(index, tmp_path):
    from tests.media import make_clip

    clip = make_clip(tmp_path / "shop.mp4", 6, text_cards=[(1, 5, "正品保证 假一赔十")], with_audio=False, fps=10)
    assert run_stream(index, clip, "stream-shop") == []
