"""Audio fingerprints (issue 13): a re-broadcast that keeps the original sound matches; a stream that
only shares the show's licensed backing track, other music, or the host's own voice does not.

The protected show is a real MP4 (H.264 + AAC) registered with ``register_video``;
streams reach ``index.audio.process`` as ingest's 0.5 s chunks of 16 kHz mono audio, the
re-broadcast after a 48 kb/s AAC re-encode. Sound is synthesised: a presenter
(speech-like syllables) over a backing track (chords on a beat).
"""

from __future__ import annotations

import numpy as np
import pytest
from fp_media import RATE, aac_roundtrip, audio_chunks, mix, music, show_soundtrack, voice

from events import ConfigError, Modality
from frames.audio_fingerprint import AudioFingerprintOptions, AudioIndex, chromaprint, pair_codes
from frames.fingerprint import FingerprintIndex

CONTENT = "show-1"


@pytest.fixture(scope="module")
def index(protected_with_sound) -> FingerprintIndex:
    idx = FingerprintIndex()
    idx.register_video(protected_with_sound, CONTENT)
    assert idx.audio.content_ids == (CONTENT,) and len(idx.audio) > 150  # ~8 sub-fingerprints per second
    return idx


def hear_all(index: FingerprintIndex, samples: np.ndarray, stream_id: str) -> list:
    found = []
    for chunk in audio_chunks(samples, stream_id):
        found += index.audio.process(chunk)
    return found + index.audio.finish(stream_id)


def test_rebroadcast_with_original_sound_matches(index):
    show, _ = show_soundtrack()
    copy = aac_roundtrip(show[5 * RATE : 19 * RATE], 48000)  # from 5 s, 14 s long, re-encoded
    evidence = hear_all(index, copy, "audio-copy")
    assert evidence, "no audio evidence for a re-broadcast with the original sound"
    first = evidence[0]
    assert first.modality is Modality.FINGERPRINT and first.text == CONTENT
    assert first.details["kind"] == "audio" and first.box is None
    assert first.confidence >= 0.6 and first.details["ber"] <= 0.2
    assert first.media_end <= 12.0, "the copy should be recognised within ~10 s of sound"
    assert abs(first.details["content_time"] - first.media_end - 5.0) < 0.5, first  # the copy starts 5 s in
    assert evidence[-1].media_end >= 13.0
    assert len({e.observation_id for e in evidence}) == 1
    print(f"audio copy: {len(evidence)} events, {first.media_start:.1f}-{evidence[-1].media_end:.1f} s, "
          f"ber {first.details['ber']}")


@pytest.mark.parametrize("case", ["backing_track_only", "host_voice_over_backing_track", "other_music", "host_voice_only"])
def test_shared_music_or_own_voice_does_not_match(index, case):
    _, track = show_soundtrack()
    host = voice(24, 20, f0=210)
    stream = {
        "backing_track_only": track,
        "host_voice_over_backing_track": mix((host, 1.0), (track, 0.5)),
        "other_music": music(24, 2),
        "host_voice_only": host,
    }[case]
    assert hear_all(index, aac_roundtrip(stream, 48000), f"audio-{case}") == []


def test_bit_error_rates_separate_copies_from_shared_tracks():
    """The margin the ``max_ber`` default relies on, measured on the raw fingerprints."""
    show, track = show_soundtrack()
    idx = AudioIndex()
    idx.register_samples(CONTENT, show, RATE)
    copy = idx.match(chromaprint(aac_roundtrip(show[8 * RATE : 16 * RATE]), RATE))
    assert copy is not None and copy.ber < 0.15, copy
    loose = AudioIndex(AudioFingerprintOptions(max_ber=0.45, min_votes=1, search_bits=24))
    loose.register_samples(CONTENT, show, RATE)
    shared = loose.match(chromaprint(mix((voice(8, 20, f0=210), 1.0), (track[8 * RATE : 16 * RATE], 0.5)), RATE))
    assert shared is None or shared.ber > 0.25, shared


def test_sound_survives_save_and_load(index, tmp_path):
    path = tmp_path / "with_sound.npz"
    index.save(path)
    loaded = FingerprintIndex.load(path)
    assert loaded.audio.content_ids == (CONTENT,) and len(loaded.audio) == len(index.audio)
    show, _ = show_soundtrack()
    assert any(e.details["kind"] == "audio" for e in hear_all(loaded, show[2 * RATE : 16 * RATE], "audio-loaded"))


def test_pair_codes_and_options():
    items = np.array([1, 2, 3], np.uint32)
    assert pair_codes(items).tolist() == [(1 << 32) | 2, (2 << 32) | 3]
    with pytest.raises(ConfigError):
        AudioFingerprintOptions(window_s=1.0)
    with pytest.raises(ConfigError, match="already"):
        idx = AudioIndex()
        idx.register_items("x", items)
        idx.register_items("x", items)


def test_silence_and_room_tone_are_neither_indexed_nor_matched() -> None:
    """Two streams sharing nothing but a quiet background must not look like copies of each other."""
    from frames.audio_fingerprint import AudioIndex, level_dbfs

    rate = 16000
    room_tone = (np.random.default_rng(7).standard_normal(rate * 20) * 0.003).astype(np.float32)
    assert level_dbfs(room_tone) < -40
    index = AudioIndex()
    assert index.register_samples("silent-show", room_tone, rate) == 0
    assert index.content_ids == ()
