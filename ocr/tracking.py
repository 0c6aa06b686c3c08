"""Text over time: turn per-frame OCR readings into observations with a lifetime.

A caption that stays on screen for 40 s is one observation with one
``observation_id``, not 40 events. What is emitted (all as ``Evidence`` with
the same id, ``details["event"]`` saying which):

- ``start`` when a line is first read (media_start = media_end = that frame);
- ``update`` when a better reading of it changes its text (OCR jitter settles on
  the higher-confidence text), and every ``refresh_s`` while it stays, so
  sliding-window rules keep seeing it;
- ``end`` once it is gone, with media_end = the last frame it was seen in.

A reading continues an observation when their normalised texts are equal, or
alike (``same_text_similarity``) with the same digits and overlapping boxes.
Digits must agree because "¥99" becoming "¥89" is a new price, not jitter.

Only frames the sampler marked as changed are read. An unchanged frame extends
every observation still in view; a read that covers an observation's box but
does not find it marks it missing, and it ends after a second such miss or
``end_grace_s`` of media time. A read limited to a changed region says nothing
about text outside it, which simply continues.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import uuid
from dataclasses import dataclass

from events import Box, Evidence, Modality, parse_prices
from ocr.engine import TextLine
from ocr.options import OcrOptions

_ID_NAMESPACE = uuid.UUID("0c7d6a4e-2f4b-4b8e-9d0a-3e1f5c2b7a91")
_DIGITS = re.compile(r"\d+")


@dataclass
class _Observation:
    observation_id: str
    text: str
    norm: str
    score: float
    box: Box
    first_seen: float
    last_seen: float
    reads: int = 1
    misses: int = 0
    missing_since: float | None = None
    last_emit: float = 0.0


class TextTracker:
    """Observations of one stream. Feed frames in media-time order."""

    def __init__(self, stream_id: str, options: OcrOptions, engine: str) -> None:
        self.stream_id = stream_id
        self._opts = options
        self._engine = engine
        self._open: list[_Observation] = []
        self.last_time: float | None = None

    @property
    def open_count(self) -> int:
        return len(self._open)

    def observe(self, t: float, wall: float, lines: list[TextLine], region: Box | None) -> list[Evidence]:
        """A read frame: ``lines`` in frame pixels, read inside ``region`` (None = whole frame)."""
        self.last_time = t
        out: list[Evidence] = []
        lines = [ln for ln in lines if ln.score >= self._opts.min_confidence and len(normalize_text(ln.text)) >= 2]
        pairs = self._match(lines)
        for obs, i in pairs:
            out += self._continue(obs, lines[i], t, wall)
        matched = {id(obs) for obs, _ in pairs}
        taken = {i for _, i in pairs}
        out += [self._start(line, t, wall) for i, line in enumerate(lines) if i not in taken]
        for obs in self._open:
            if id(obs) in matched or obs.first_seen == t:
                continue
            if _covered(obs.box, region):
                obs.misses += 1
                obs.missing_since = obs.missing_since if obs.missing_since is not None else t
            elif obs.missing_since is None:
                obs.last_seen = t
        out += self._age(t, wall)
        return out

    def extend(self, t: float, wall: float) -> list[Evidence]:
        """An unchanged frame: what was in view is still in view."""
        self.last_time = t
        for obs in self._open:
            if obs.missing_since is None:
                obs.last_seen = t
        return self._age(t, wall)

    def finish(self, wall: float) -> list[Evidence]:
        """End of stream: every open observation ends at its last sighting."""
        out = [self._evidence(obs, "end", obs.last_seen, wall) for obs in self._open]
        self._open = []
        return out

    # --- internals -------------------------------------------------------
    def _match(self, lines: list[TextLine]) -> list[tuple[_Observation, int]]:
        """Greedy one-to-one pairing, best first: equal text, then alike text in place."""
        scored = []
        for obs in self._open:
            for i, line in enumerate(lines):
                s = self._affinity(obs, line)
                if s > 0:
                    scored.append((s, i, obs, line))
        scored.sort(key=lambda item: (-item[0], item[1]))
        pairs: list[tuple[_Observation, int]] = []
        used_obs: set[int] = set()
        used_lines: set[int] = set()
        for _, i, obs, _line in scored:
            if id(obs) in used_obs or i in used_lines:
                continue
            used_obs.add(id(obs))
            used_lines.add(i)
            pairs.append((obs, i))
        return pairs

    def _affinity(self, obs: _Observation, line: TextLine) -> float:
        norm = normalize_text(line.text)
        overlap = obs.box.iou(line.box)
        if norm == obs.norm:
            return 2.0 + overlap
        if overlap < 0.3 or _DIGITS.findall(norm) != _DIGITS.findall(obs.norm):
            return 0.0
        ratio = difflib.SequenceMatcher(None, norm, obs.norm, autojunk=False).ratio()
        return ratio + overlap if ratio >= self._opts.same_text_similarity else 0.0

    def _start(self, line: TextLine, t: float, wall: float) -> Evidence:
        norm = normalize_text(line.text)
        key = f"{self.stream_id}|{t:.3f}|{norm}|{line.box.x},{line.box.y}"
        obs = _Observation(
            observation_id=str(uuid.uuid5(_ID_NAMESPACE, key)),
            text=clean_text(line.text),
            norm=norm,
            score=line.score,
            box=line.box,
            first_seen=t,
            last_seen=t,
            last_emit=t,
        )
        self._open.append(obs)
        return self._evidence(obs, "start", t, wall)

    def _continue(self, obs: _Observation, line: TextLine, t: float, wall: float) -> list[Evidence]:
        obs.last_seen, obs.box, obs.reads = t, line.box, obs.reads + 1
        obs.misses, obs.missing_since = 0, None
        norm = normalize_text(line.text)
        if line.score > obs.score:
            changed = norm != obs.norm
            obs.score, obs.text, obs.norm = line.score, clean_text(line.text), norm
            if changed:
                obs.last_emit = t
                return [self._evidence(obs, "update", t, wall)]
        return []

    def _age(self, t: float, wall: float) -> list[Evidence]:
        """End what has been missing long enough; refresh what has been in view long."""
        out: list[Evidence] = []
        still: list[_Observation] = []
        for obs in self._open:
            gone = obs.missing_since is not None and (obs.misses >= 2 or t - obs.missing_since >= self._opts.end_grace_s)
            if gone:
                out.append(self._evidence(obs, "end", obs.last_seen, wall))
                continue
            if self._opts.refresh_s > 0 and obs.missing_since is None and t - obs.last_emit >= self._opts.refresh_s:
                obs.last_emit = t
                out.append(self._evidence(obs, "update", t, wall))
            still.append(obs)
        self._open = still
        return out

    def _evidence(self, obs: _Observation, event: str, end: float, wall: float) -> Evidence:
        return Evidence(
            stream_id=self.stream_id,
            modality=Modality.OCR,
            media_start=obs.first_seen,
            media_end=end,
            text=obs.text,
            confidence=round(obs.score, 4),
            wall_time=wall,
            box=obs.box,
            prices=parse_prices(obs.text),
            observation_id=obs.observation_id,
            details={"event": event, "engine": self._engine, "reads": obs.reads},
        )


def clean_text(text: str) -> str:
    """What evidence carries: NFKC (full-width ￥９９ -> ¥99) with runs of spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def normalize_text(text: str) -> str:
    """What matching compares: NFKC, case-folded, without spaces (OCR spacing is unstable)."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _covered(box: Box, region: Box | None) -> bool:
    """Was ``box`` (mostly) inside the area that was read?"""
    if region is None:
        return True
    area = box.w * box.h
    return area > 0 and box.intersection(region) >= 0.5 * area
