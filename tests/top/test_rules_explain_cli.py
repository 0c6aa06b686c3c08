"""`livewatch rules explain`: screen text by default, speech with --heard (matched by sound too)."""

from __future__ import annotations

import pytest

from livewatch.cli import main


def explained(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["rules", "explain", *args]) == 0
    return capsys.readouterr().out


def test_heard_text_matches_by_sound_and_says_what_a_brand_was_said_of(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = "这款香奈儿的皮带是高访的"  # 高仿 as Whisper may write it
    shown, heard = explained(capsys, "--text", sentence), explained(capsys, "--heard", "--text", sentence)
    assert "said of the product after it" not in shown and "said of the product after it" in heard
    assert "高仿 (as 高访) [homophone]" in heard
    assert "FIRES counterfeit.brand_with_cue" in heard
