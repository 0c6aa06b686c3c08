"""What an object graph still keeps about a stream: a removed stream must leave nothing behind.

A worker runs for days while streams come and go; per-stream state that outlives its stream
grows without bound. ``held(pipeline, "shop")`` walks the attributes of livewatch's own objects
(the pipeline, its stages, their per-stream dicts) and names every place that still mentions
the stream: a dict key, a set or sequence member, or an object whose ``stream_id`` it is.
It walks the objects, not a list of known dicts, so state added later is checked too.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

# Packages whose objects are walked into (third-party objects, numpy arrays and threads are not).
PROJECT = frozenset({"alerts", "asr", "events", "frames", "ingest", "livewatch", "logos", "ocr", "rules", "bench"})


def held(root: object, stream_id: str, *, ignore: frozenset[str] = frozenset(), depth: int = 8) -> list[str]:
    """Paths under ``root`` that still mention ``stream_id`` (attributes named in ``ignore`` are skipped)."""
    found: list[str] = []
    visited: set[int] = set()

    def walk(x: Any, path: str, left: int) -> None:
        if left < 0 or id(x) in visited or isinstance(x, (str, bytes, int, float, bool, type(None))):
            return
        visited.add(id(x))
        if isinstance(x, dict):  # Counter and OrderedDict too
            if stream_id in x:
                found.append(f"{path}[{stream_id!r}]")
            for k, v in list(x.items()):
                walk(v, f"{path}[{k!r}]", left - 1)
        elif isinstance(x, (set, frozenset)):
            if stream_id in x:
                found.append(f"{path} has {stream_id!r}")
        elif isinstance(x, (list, tuple, collections.deque)):
            if any(isinstance(item, str) and item == stream_id for item in x):
                found.append(f"{path} has {stream_id!r}")
            for i, item in enumerate(list(x)):
                walk(item, f"{path}[{i}]", left - 1)
        elif type(x).__module__.split(".")[0] in PROJECT:
            for name, value in _attributes(x):
                if name in ignore:
                    continue
                if name == "stream_id" and value == stream_id:
                    found.append(f"{path} ({type(x).__name__} of the stream)")
                walk(value, f"{path}.{name}", left - 1)

    walk(root, type(root).__name__, depth)
    return found


def _attributes(obj: object) -> list[tuple[str, Any]]:
    if hasattr(obj, "__dict__"):
        return list(vars(obj).items())
    if dataclasses.is_dataclass(obj):  # slotted dataclasses
        return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    return [(s, getattr(obj, s)) for s in getattr(type(obj), "__slots__", ()) if hasattr(obj, s)]
