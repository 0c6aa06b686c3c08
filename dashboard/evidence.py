"""What an alert page shows of its evidence: snapshot files, boxes, text with highlights,
and the schema 1.1 facts (confidence, product segment, bound price, match strength).

Alerts of schema 1.0 lack those facts: the helpers return None for them and the
pages show "—". Every value here is data for autoescaped templates, never markup,
except :func:`highlight`, which escapes the text itself.

Snapshots are served by (alert, evidence index), never by a path from the
request: the path comes from the stored alert, and it must resolve (after
symlinks) to a JPEG inside the snapshot root. So a URL cannot name any other
file, and an alert whose evidence points outside the root shows nothing.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from markupsafe import Markup, escape

TRANSCRIPT_WINDOW_S = 30.0
FEED_TITLE_CHARS = 160  # the feed shows this much of a title; the alert page shows all of it
MAX_MARKS = 200  # highlights per text: past this, the rest of the text is shown plain
# Bidirectional controls reorder what is displayed ("…/exe.gpj" for "…/jpg.exe"); evidence text comes
# from the streamer's screen and speech, so they are shown as a visible mark instead of acting.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BIDI_MARK = "\ufffd"


def neutralise(text: str) -> str:
    """``text`` with bidirectional control characters replaced by a visible mark."""
    return BIDI_CONTROLS.sub(BIDI_MARK, text)


def shorten(text: str, limit: int = FEED_TITLE_CHARS) -> str:
    """At most ``limit`` characters, with "…" when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def key_snapshot(alert: Mapping[str, Any]) -> int | None:
    """The evidence index of the alert's key snapshot (the first evidence with one), for thumbnails."""
    for i, ev in enumerate(alert.get("evidence") or []):
        if isinstance(ev, Mapping) and ev.get("snapshot_path"):
            return i
    return None

# What opened a product segment (``Segment.reason``), in the moderator's words.
SEGMENT_REASONS = {"card": "product card changed", "speech": "host moved on", "start": "stream start"}
# How a text matched (``AlertEvidence.strength``): badge label and what it means.
STRENGTHS = {
    "exact": ("exact", "the characters as the lexicon writes them"),
    "normalized": ("normalised", "equal after Traditional to Simplified, width, case and separators"),
    "homophone": ("sounds like", "only the pronunciation (pinyin) agrees: a mishearing or a word that sounds alike"),
    "near_homophone": ("sounds close to", "a brand name heard with one syllable's initial or final off (古驰 as 武池): "
                       "only ever counted with a counterfeit cue said with it"),
    "detected": ("detected", "a logo or fingerprint match: its detector confidence says how sure"),
}
CONFIDENCE_HINT = ("how sure the evidence makes the violation: match strength, modalities agreeing, "
                   "binding to one product")


def snapshot_file(alert: Mapping[str, Any], index: int, root: Path) -> Path | None:
    """The snapshot file of evidence ``index``, if it is a JPEG inside ``root``."""
    items = alert.get("evidence") or []
    if not 0 <= index < len(items):
        return None
    raw = items[index].get("snapshot_path")
    if not raw or "\x00" in str(raw):
        return None
    root = root.resolve()
    candidate = Path(raw)
    path = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not path.is_relative_to(root) or path.suffix.lower() not in (".jpg", ".jpeg") or not path.is_file():
        return None
    return path


def image_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the JPEG header (no full decode)."""
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.size
    except Exception:
        return None


def highlight(text: str, terms: Iterable[str], max_marks: int = MAX_MARKS) -> Markup:
    """``text`` HTML-escaped and bidi-neutralised, with the first ``max_marks`` matched terms in ``<mark>``."""
    text = neutralise(text)
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    if not terms:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for n, m in enumerate(pattern.finditer(text)):
        if n >= max_marks:
            break
        out.append(escape(text[last:m.start()]))
        out.append(Markup("<mark>") + escape(m.group(0)) + Markup("</mark>"))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def snapshots(alert: Mapping[str, Any], root: Path) -> list[dict[str, Any]]:
    """Evidence items with a servable snapshot: index, size and boxes to draw."""
    shown = []
    for i, ev in enumerate(alert.get("evidence") or []):
        if not ev.get("snapshot_path"):
            continue
        path = snapshot_file(alert, i, root)
        size = image_size(path) if path else None
        shown.append({
            "index": i,
            "modality": ev.get("modality"),
            "text": ev.get("text", ""),
            "brand": ev.get("brand"),
            "sha256": ev.get("snapshot_sha256"),
            "media_start": ev.get("media_start"),
            "available": size is not None,
            "width": size[0] if size else 0,
            "height": size[1] if size else 0,
            "box": ev.get("box"),
        })
    return shown


def transcript(alert: Mapping[str, Any], neighbours: Iterable[Mapping[str, Any]],
               window_s: float = TRANSCRIPT_WINDOW_S) -> list[dict[str, Any]]:
    """Speech around the alert: its own ASR evidence plus other alerts' of the same stream nearby.

    Lines are in media-time order, deduplicated, with this alert's matched
    terms highlighted everywhere so a moderator sees the context of the words.
    """
    start = float(alert.get("media_start", 0.0)) - window_s
    end = float(alert.get("media_end", 0.0)) + window_s
    terms = matched_terms(alert)
    lines: dict[tuple[float, str], dict[str, Any]] = {}
    for source in (alert, *neighbours):
        own = source is alert
        for ev in source.get("evidence") or []:
            if ev.get("modality") != "asr":
                continue
            t0, t1 = float(ev.get("media_start", 0.0)), float(ev.get("media_end", 0.0))
            if not own and (t1 < start or t0 > end):
                continue
            key = (round(t0, 2), ev.get("text", ""))
            if key in lines and not own:
                continue
            lines[key] = {"media_start": t0, "media_end": t1, "own": own,
                          "html": highlight(ev.get("text", ""), terms | set(ev.get("matched_terms") or ()))}
    return [lines[k] for k in sorted(lines)]


def screen_text(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OCR lines of the alert, highlighted."""
    return [
        {"media_start": ev.get("media_start"), "media_end": ev.get("media_end"),
         "html": highlight(ev.get("text", ""), ev.get("matched_terms") or ())}
        for ev in alert.get("evidence") or [] if ev.get("modality") == "ocr"
    ]


def matched_terms(alert: Mapping[str, Any]) -> set[str]:
    return {t for ev in alert.get("evidence") or [] for t in (ev.get("matched_terms") or ())}


def safe_stream_link(url: str | None) -> str | None:
    """Only web and streaming schemes become links (never ``javascript:``)."""
    if url and re.match(r"^(https?|rtmps?|rtsps?|srt)://", url, re.IGNORECASE):
        return url
    return None


# -- schema 1.1 facts ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite number, or None (absent in 1.0 records, or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def percent(value: Any) -> str:
    """A 0..1 confidence as a whole percentage, halves up like the feed's script; "—" when there is none."""
    number = _number(value)
    return "—" if number is None else f"{math.floor(min(max(number, 0.0), 1.0) * 100 + 0.5)}%"


def _span(start: Any, end: Any, open_end: str = "—") -> str:
    """A media-time span, "12.0 s – 40.0 s"; ``open_end`` stands for a missing end."""
    t0, t1 = _number(start), _number(end)
    return f"{'—' if t0 is None else f'{t0:.1f} s'} – {open_end if t1 is None else f'{t1:.1f} s'}"


def segment(alert: Mapping[str, Any]) -> dict[str, Any] | None:
    """The alert's product segment: title, media span and what opened it; None without one."""
    seg = alert.get("segment")
    if not isinstance(seg, Mapping):
        return None
    reason = str(seg.get("reason") or "")
    return {
        "segment_id": str(seg.get("segment_id") or ""),
        "title": str(seg.get("title") or ""),
        "span": _span(seg.get("media_start"), seg.get("media_end"), open_end="still open"),
        "reason": SEGMENT_REASONS.get(reason, reason or "—"),
    }


def bound_price(alert: Mapping[str, Any]) -> dict[str, str] | None:
    """The selling price that made a price rule fire: amount, currency and the text it was read from."""
    price = alert.get("price")
    if not isinstance(price, Mapping):
        return None
    amount = _number(price.get("amount"))
    if amount is None:
        return None
    return {
        "amount": f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}",
        "currency": str(price.get("currency") or ""),
        "text": str(price.get("text") or ""),
    }


def strength(value: Any) -> dict[str, str] | None:
    """A match strength as a badge: key (for the CSS class), label and hint; None when unknown."""
    key = str(value) if value else ""
    if key not in STRENGTHS:
        return None
    label, hint = STRENGTHS[key]
    return {"key": key, "label": label, "hint": hint}


def evidence_rows(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every evidence item of the alert, with its match strength and its segment when it is another one."""
    seg = alert.get("segment")
    own_segment = seg.get("segment_id") if isinstance(seg, Mapping) else None
    rows = []
    for i, ev in enumerate(alert.get("evidence") or []):
        segment_id = ev.get("segment_id")
        rows.append({
            "index": i,
            "modality": str(ev.get("modality") or ""),
            "span": _span(ev.get("media_start"), ev.get("media_end")),
            "html": highlight(str(ev.get("text") or ""), ev.get("matched_terms") or ()),
            "brand": ev.get("brand"),
            "confidence": percent(ev.get("confidence")),
            "strength": strength(ev.get("strength")),
            "other_segment": str(segment_id) if segment_id and segment_id != own_segment else None,
        })
    return rows


# Sources a browser can open at a media time: a recording over HTTP(S) takes a media fragment.
_SEEKABLE = re.compile(r"^https?://[^\s#]+\.(mp4|webm|mov|m4v|ogv)(\?[^\s#]*)?$", re.IGNORECASE)


def media_link(alert: Mapping[str, Any]) -> str | None:
    """The stream opened at the alert's media time (``#t=``), when its source is a seekable recording.

    Live sources (RTMP, RTSP, SRT, live HLS) cannot be opened at a past time: None.
    """
    url, start = alert.get("stream_url"), _number(alert.get("media_start"))
    if not isinstance(url, str) or start is None or not _SEEKABLE.match(url):
        return None
    return f"{url}#t={max(0.0, start):.1f}"
