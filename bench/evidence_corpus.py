"""Scan once, keep the evidence: every labelled clip's detector output, replayable in seconds.

    python -m bench.evidence_corpus scan [--corpus broadcasts|spoken|corpus|piracy]
                                         [--split tuning|heldout|spoken-tuning|spoken-heldout|old|...]
                                         [--only NAME] [--force] [--out DIR] [--detector asr ...]
    python -m bench.evidence_corpus merge DIR/<corpus>      # fold a scan made with --out DIR into bench/evidence

runs each clip through ``livewatch.service.scan_file`` with the real detectors (default
``Config``: PaddleOCR, logo matching, faster-whisper, fingerprints) and writes the evidence it
produced, one ``Evidence.to_dict()`` per line in the order produced, to

    bench/evidence/<corpus>/<split>/<clip>.jsonl
    bench/evidence/<corpus>/labels.json      (the corpus labels, each clip with "evidence": "<split>/<clip>.jsonl")

Corpora:

- ``broadcasts``: the long multi-product broadcasts of :mod:`bench.broadcasts` (splits
  ``tuning`` and ``heldout``), rendered into ``var/broadcasts`` first if missing;
- ``spoken``: one spoken counterfeit pitch a clip, every name and nickname of each split's
  brands in every spoken counterfeit sentence of its pool (:mod:`bench.spoken`, splits
  ``spoken-tuning`` and ``spoken-heldout``), rendered into ``var/spoken`` if missing;
- ``corpus``: the 26 short clips of :mod:`livewatch.corpus` (split ``old``), rendered with its own
  ``generate()`` into ``var/corpus`` if missing, scanned with ``var/corpus/protected`` as the
  protected content so fingerprints work;
- ``piracy``: the re-broadcasts and look-alikes of :mod:`livewatch.piracy_corpus` (splits
  ``piracy-tuning`` and ``piracy-heldout``), rendered into ``var/piracy`` if missing, scanned
  against its protected shows with only the fingerprint detector on (the clips carry no words
  or logos to read: OCR, logos and ASR would cost CPU and say nothing).

``--detector`` scans stored clips again with only the named detectors (a change to one detector
need not pay for the others): their old evidence is replaced and the new evidence spliced in
among the other detectors' stored evidence at the media time it was produced.

``livewatch eval --evidence bench/evidence/<corpus>`` replays these files through any rule set
(:mod:`livewatch.evaluate`). Clips already scanned are skipped unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from bench.spoken import SPLITS as SPOKEN_SPLITS
from events import Evidence, Modality
from livewatch.config import Config, Detectors
from livewatch.piracy_corpus import SPLITS as PIRACY_SPLITS

EVIDENCE_ROOT = Path("bench/evidence")
BROADCAST_MEDIA = Path("var/broadcasts")
CORPUS_MEDIA = Path("var/corpus")
PIRACY_MEDIA = Path("var/piracy")
SPOKEN_MEDIA = Path("var/spoken")
SCAN_DATA = Path("var/evidence_scan")  # snapshots of the scans (logo crops), not committed
CORPUS_SPLITS: dict[str, tuple[str, ...]] = {
    "broadcasts": ("tuning", "heldout"), "spoken": SPOKEN_SPLITS, "corpus": ("old",), "piracy": PIRACY_SPLITS}
ALL_SPLITS = tuple(s for splits in CORPUS_SPLITS.values() for s in splits)  # in the order labels list them

# The old corpus's benign look-alikes, as traps of the broadcasts' classes (or their own).
OLD_TRAPS = {
    "bn01_genuine_guarantee": ("genuine_guarantee", "正品保障 官方授权 on a genuine coat"),
    "bn02_best_before": ("best_before", "最佳食用时间 on milk"),
    "bn03_brand_no_cue": ("genuine_brand_mention", "路易威登 named at a genuine price, no cue"),
    "bn04_authorised_store_logo": ("authorised_store", "authorised store showing the brand's logo"),
    "bn05_plain_sale": ("plain_sale", "a plain T-shirt sale"),
    "bn06_unrelated_video": ("unrelated_video", "video that is not protected content"),
}


DETECTOR_MODALITIES = {"ocr": Modality.OCR, "logos": Modality.LOGO, "asr": Modality.ASR,
                       "fingerprints": Modality.FINGERPRINT}
SAMPLE_STEP_S = 1.0  # an observation's end is produced by the next sampled frame


def produced_at(ev: Evidence) -> float:
    """The media time at which a scan produced this evidence (speech: when the utterance ended;
    an observation: its start when it starts, its last sight when updated, the next frame when it ends)."""
    event = (ev.details or {}).get("event")
    if ev.modality is Modality.ASR or event == "update":
        return ev.media_end
    if event == "end":
        return ev.media_end + SAMPLE_STEP_S
    return ev.media_start


# The order the vision detectors report one frame in (``Stages.see``: OCR, then logos), live and in
# scans. Rules that bind a logo to a product card depend on it: a logo spliced before the OCR of
# its own frame met the previous card, still open (a Dior logo joined a ¥79 honey card).
FRAME_ORDER = {Modality.OCR: 0, Modality.LOGO: 1}


def _produced_before(fresh: Evidence, kept: Evidence) -> bool:
    """Would a single scan have produced ``fresh`` before ``kept``?"""
    t_fresh, t_kept = produced_at(fresh), produced_at(kept)
    if t_fresh != t_kept:
        return t_fresh < t_kept
    return FRAME_ORDER.get(fresh.modality, len(FRAME_ORDER)) < FRAME_ORDER.get(kept.modality, -1)


def splice(kept: Sequence[Evidence], fresh: Sequence[Evidence]) -> list[Evidence]:
    """Both in the order a single scan would have produced them: ``kept`` keeps its own order and
    each fresh item goes before the first kept item produced after it (in the same frame: by
    ``FRAME_ORDER``; otherwise after what was kept)."""
    out: list[Evidence] = []
    pending = sorted(fresh, key=produced_at)
    i = 0
    for ev in kept:
        while i < len(pending) and _produced_before(pending[i], ev):
            out.append(pending[i])
            i += 1
        out.append(ev)
    return out + pending[i:]


def write_jsonl(path: Path, evidence: Sequence[Evidence]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as out:
        for ev in evidence:
            out.write(json.dumps(ev.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[Evidence]:
    with path.open(encoding="utf-8") as src:
        return [Evidence.from_dict(json.loads(line)) for line in src if line.strip()]


def _media_seconds(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return round(float(container.duration or 0) / 1_000_000, 3)


def rendered_clips(media: Path, splits: Sequence[str], generate: Callable[..., Path]) -> list[dict]:
    """Entries of ``media/labels.json`` for the splits, rendering first (``generate(media, splits,
    log=)``) the splits that have no entry or a clip whose file is missing."""
    labels = media / "labels.json"
    have = json.loads(labels.read_text(encoding="utf-8"))["clips"] if labels.exists() else []
    missing = [s for s in splits if not any(c["split"] == s for c in have)
               or any(c["split"] == s and not (media / c["file"]).exists() for c in have)]
    if missing:
        print(f"[evidence] rendering {', '.join(missing)} into {media}", file=sys.stderr)
        generate(media, tuple(missing), log=lambda m: print(m, file=sys.stderr))
        have = json.loads(labels.read_text(encoding="utf-8"))["clips"]
    return [dict(c, media=str(media / c["file"])) for c in have if c["split"] in splits]


def broadcast_clips(media: Path = BROADCAST_MEDIA, splits: Sequence[str] = ("tuning", "heldout")) -> list[dict]:
    """Entries of var/broadcasts/labels.json for the splits (rendering the missing ones first)."""
    from bench.broadcasts import generate

    return rendered_clips(media, splits, generate)


def spoken_clips(media: Path = SPOKEN_MEDIA, splits: Sequence[str] = SPOKEN_SPLITS) -> list[dict]:
    """Entries of var/spoken/labels.json for the splits (rendering the missing ones first)."""
    from bench.spoken import generate

    return rendered_clips(media, splits, generate)


def corpus_clips(media: Path = CORPUS_MEDIA) -> list[dict]:
    """Entries of var/corpus/labels.json (the 26-clip corpus), with split, seconds and traps added."""
    labels = media / "labels.json"
    if not labels.exists():
        from livewatch.corpus import generate

        print(f"[evidence] rendering the 26-clip corpus into {media}", file=sys.stderr)
        generate(media)
    out = []
    for c in json.loads(labels.read_text(encoding="utf-8"))["clips"]:
        path = media / c["file"]
        seconds = _media_seconds(path)
        name = Path(c["file"]).stem
        traps = []
        if name in OLD_TRAPS:
            cls, note = OLD_TRAPS[name]
            traps.append({"class": cls, "start": 0.0, "end": seconds, "note": note, "brand": None})
        out.append(dict(c, split="old", seconds=seconds, products=c.get("products", []), traps=traps, media=str(path)))
    return out


def piracy_clips(media: Path = PIRACY_MEDIA, splits: Sequence[str] = PIRACY_SPLITS) -> list[dict]:
    """Entries of var/piracy/labels.json for the splits (rendering the missing clips first)."""
    from livewatch.piracy_corpus import generate

    return rendered_clips(media, splits, generate)


def scan(
    corpus: str,
    splits: Sequence[str] | None = None,
    only: Sequence[str] = (),
    force: bool = False,
    out_root: Path = EVIDENCE_ROOT,
    cfg: Config | None = None,
    note: str = "",
    detectors: Sequence[str] = (),
) -> Path:
    """Scan the clips of one corpus with the real detectors; returns the path of its labels copy.

    With ``detectors``, only those run, over clips already scanned (see the module's docstring)."""
    from livewatch.service import scan_file
    from livewatch.sinks import CollectingSink
    from livewatch.stages import Stages

    cfg = cfg or Config(data_dir=SCAN_DATA)
    if detectors:
        note = f"{note} (only {', '.join(detectors)} scanned again)".strip()
        cfg = cfg.replace(detectors=Detectors(**{d: d in detectors for d in DETECTOR_MODALITIES}))
    if corpus == "broadcasts":
        clips = broadcast_clips(splits=splits or ("tuning", "heldout"))
    elif corpus == "spoken":
        clips = spoken_clips(splits=splits or SPOKEN_SPLITS)
    elif corpus == "corpus":
        clips = corpus_clips()
        cfg = cfg.replace(protected_dir=CORPUS_MEDIA / "protected")
    elif corpus == "piracy":
        clips = piracy_clips(splits=splits or PIRACY_SPLITS)
        cfg = cfg.replace(protected_dir=PIRACY_MEDIA / "protected", data_dir=cfg.data_dir / "piracy",
                          detectors=Detectors(ocr=False, logos=False, asr=False, fingerprints=True))
    else:
        raise SystemExit(f"unknown corpus {corpus!r}: one of {', '.join(CORPUS_SPLITS)}")
    if splits:
        clips = [c for c in clips if c["split"] in splits]
    if only:
        clips = [c for c in clips if Path(c["file"]).stem in only]
    out_dir = out_root / corpus
    labels_path = out_dir / "labels.json"
    entries = {}
    if labels_path.exists():
        entries = {c["file"]: c for c in json.loads(labels_path.read_text(encoding="utf-8"))["clips"]}
    stages = None
    try:
        for clip in clips:
            media = Path(clip.pop("media"))
            rel = f"{clip['split']}/{media.stem}.jsonl"
            target = out_dir / rel
            if detectors and not target.exists():
                raise SystemExit(f"{target}: not scanned yet: scan it with every detector before --detector")
            if target.exists() and not force and not detectors and clip["file"] in entries:
                print(f"[evidence] {rel}: already scanned (--force to redo)", file=sys.stderr)
                entries[clip["file"]] = dict(entries[clip["file"]], **{k: v for k, v in clip.items() if k not in ("scan",)})
                continue
            if stages is None:
                stages = Stages.load(cfg, inline=True)
            collected: list[Evidence] = []
            sink = CollectingSink()
            t0 = time.monotonic()
            alerts = scan_file(cfg, media, stages=stages, sink=sink, evidence=collected)
            wall = time.monotonic() - t0
            if detectors:
                redone = {DETECTOR_MODALITIES[d] for d in detectors}
                collected = splice([e for e in read_jsonl(target) if e.modality not in redone], collected)
            write_jsonl(target, collected)
            this_scan = {
                "wall_s": round(wall, 1), "media_s": clip["seconds"], "evidence": len(collected), "alerts": len(alerts),
                "date": time.strftime("%Y-%m-%d", time.gmtime()), **({"note": note} if note else {}),
            }
            if detectors:  # the full scan stays on record; each partial one is added to its list
                full_scan = entries.get(clip["file"], {}).get("scan", {})
                this_scan = dict(full_scan, rescans=[*full_scan.get("rescans", []), dict(this_scan, detectors=list(detectors))])
            entries[clip["file"]] = dict(clip, evidence=rel, scan=this_scan)
            _write_labels(labels_path, entries)
            print(f"[evidence] {rel}: {len(collected)} evidence, {len(alerts)} alert(s), "
                  f"{clip['seconds']:.0f} s media scanned in {wall:.0f} s ({wall / max(clip['seconds'], 1):.2f}x)",
                  file=sys.stderr, flush=True)
    finally:
        if stages is not None:
            stages.close()
    _write_labels(labels_path, entries)
    return labels_path


def merge(source: Path, out_root: Path = EVIDENCE_ROOT) -> Path:
    """Fold the scanned clips of another evidence corpus directory (a scan run elsewhere with
    ``--out``) into ``out_root/<corpus>``: its JSONL files and their labels entries."""
    import shutil

    labels = json.loads((source / "labels.json").read_text(encoding="utf-8"))["clips"]
    out_dir = out_root / source.name
    labels_path = out_dir / "labels.json"
    entries = {}
    if labels_path.exists():
        entries = {c["file"]: c for c in json.loads(labels_path.read_text(encoding="utf-8"))["clips"]}
    for clip in labels:
        if not clip.get("evidence") or not (source / clip["evidence"]).exists():
            continue
        target = out_dir / clip["evidence"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / clip["evidence"], target)
        entries[clip["file"]] = clip
        print(f"[evidence] {source / clip['evidence']} -> {target}", file=sys.stderr)
    _write_labels(labels_path, entries)
    return labels_path


def _write_labels(path: Path, entries: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    order = {split: i for i, split in enumerate(ALL_SPLITS)}
    clips = sorted(entries.values(), key=lambda c: (order.get(c["split"], 3), c["file"]))
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps({"clips": clips}, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.evidence_corpus", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sc = sub.add_parser("scan", help="scan clips with the real detectors and store their evidence")
    sc.add_argument("--corpus", action="append", choices=tuple(CORPUS_SPLITS), help="default: all")
    sc.add_argument("--split", action="append", choices=ALL_SPLITS)
    sc.add_argument("--only", action="append", default=[], help="clip names (bt01, cf01_ocr_slang_price, ...)")
    sc.add_argument("--force", action="store_true", help="scan clips again even if their evidence exists")
    sc.add_argument("--out", default=str(EVIDENCE_ROOT))
    sc.add_argument("--note", default="", help="recorded with each clip's scan (e.g. the commit of the detectors)")
    sc.add_argument("--detector", action="append", default=[], choices=tuple(DETECTOR_MODALITIES),
                    help="scan stored clips again with only these detectors, keeping the others' evidence")
    mg = sub.add_parser("merge", help="fold a corpus scanned elsewhere (scan --out DIR) into bench/evidence")
    mg.add_argument("source", help="DIR/<corpus> of that scan (the directory holding its labels.json)")
    mg.add_argument("--out", default=str(EVIDENCE_ROOT))
    args = parser.parse_args(argv)
    if args.command == "merge":
        print(merge(Path(args.source), Path(args.out)))
        return 0
    from livewatch.logging import configure_logging

    configure_logging("WARNING", json=False)
    corpora = args.corpus or list(CORPUS_SPLITS)
    for corpus in corpora:
        splits = [s for s in (args.split or []) if s in CORPUS_SPLITS[corpus]] or None
        if args.split and not splits:
            continue
        print(scan(corpus, splits, args.only, args.force, Path(args.out), note=args.note, detectors=args.detector))
    return 0


if __name__ == "__main__":
    sys.exit(main())
