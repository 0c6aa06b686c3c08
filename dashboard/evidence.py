"""What an alert page shows of its evidence: snapshot files, boxes, text with highlights.

Snapshots are served by (alert, evidence index), never by a path from the
request: the path comes from the stored alert, and it must resolve (after
symlinks) to a JPEG inside the snapshot root. So a URL cannot name any other
file, and an alert whose evidence points outside the root shows nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from markupsafe import Markup, escape

TRANSCRIPT_WINDOW_S = 30.0


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


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """``text`` HTML-escaped, with every occurrence of a matched term in ``<mark>``."""
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    if not terms:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
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
