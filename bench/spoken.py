"""Spoken counterfeit pitches, one a clip: how often the speech path hears the brand it was told.

The broadcasts (:mod:`bench.broadcasts`) hold twelve counterfeit products a split, four of them
spoken: one miss moves recall by 8 points, so they cannot tell a detector at 0.9 from one at
0.95. Speech is where most misses come from (Whisper base writes 驴家 as 离家, 古驰 as 骨区), so
this corpus says **every Chinese name and nickname of a split's brands in every spoken
counterfeit sentence of its pool** (``cf_asr_slang`` and ``cf_asr_alias``): 45 pitches for the
tuning brands, 40 for the held-out ones, each pitch scored on its own.

A clip is two products, one shot each, as a broadcast would show them: a benign product whose
sentence is one of the pool's spoken traps (comparisons, a brand's story, homophones of
nicknames, ...), then the counterfeit one (a generic title, a cheap sticker, the pitch). One
pitch a clip because an open alert absorbs later evidence of its rule and brand for
``cooldown_s`` (300 s): two pitches of a brand in one stream would be scored by one alert, and a
missed one could be counted as found. The trap before it never involves the pitch's brand, for
the same reason the broadcasts keep a brand's traps and counterfeits apart.

Splits ``spoken-tuning`` (the tuning pool: gucci, chanel, prada) and ``spoken-heldout`` (the
held-out pool: dior, hermes, louis_vuitton), from different sentences, brands and seeds.

    python -m bench.spoken [--out var/spoken] [--split spoken-tuning] [--print]

writes ``<out>/<split>/<name>.mp4`` and ``<out>/labels.json`` in the broadcasts' format (each
counterfeit label also names the ``spelling`` said); ``python -m bench.evidence_corpus scan
--corpus spoken`` renders and scans them.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Sequence

from bench.broadcasts import (
    BRANDS,
    HELDOUT,
    TUNING,
    Broadcast,
    Pool,
    Variant,
    _apply_variant,
    _counterfeit_plan,
    _write_segment,
    _Writer,
    format_script,
    render_split,
    spoken,
    write_labels,
)

SPLITS = ("spoken-tuning", "spoken-heldout")
POOLS = {"spoken-tuning": TUNING, "spoken-heldout": HELDOUT}
SEEDS = {"spoken-tuning": 3101, "spoken-heldout": 4201}
PREFIX = {"spoken-tuning": "st", "spoken-heldout": "sh"}


def spellings(brand: str) -> tuple[str, ...]:
    """The brand's Chinese names and nicknames: what a Mandarin voice can say (it drops Latin letters)."""
    info = BRANDS[brand]
    return tuple(n for n in info["names"] + info["aliases"] if not n[0].isascii())


def pitch(template: str, spelling: str, item: str) -> str:
    """A counterfeit sentence with the brand spelled one way. A nickname that ends in 家 is not
    said twice: "就是{alias}家的高仿" with 狗家 is 就是狗家的高仿, not 狗家家."""
    text = template.replace("{alias}", "{name}")
    if spelling.endswith("家"):
        text = text.replace("{name}家", "{name}")
    return spoken(text.format(name=spelling, item=item))


def _trap_before(traps: list[Variant], brand: str, turn: int) -> Variant:
    """The next trap in turn that does not involve ``brand`` (traps is the pool's, shuffled)."""
    for k in range(len(traps)):
        v = traps[(turn + k) % len(traps)]
        if v.brand != brand:
            return v
    raise ValueError(f"every spoken trap of the pool involves {brand}")


def build_clips(split: str) -> list[tuple[Broadcast, str]]:
    """The split's clips, each with the spelling of the brand its pitch says: deterministic per split."""
    pool: Pool = POOLS[split]
    rng = random.Random(f"{split}:{SEEDS[split]}")
    writer = _Writer(pool, rng)
    traps = [v for v in pool.variants if v.say]
    rng.shuffle(traps)
    clips = []
    templates = pool.cf_asr_slang + pool.cf_asr_alias
    for brand in pool.brands:
        for spelling in spellings(brand):
            for template in templates:
                n = len(clips)
                trap = _apply_variant(pool, _trap_before(traps, brand, n), rng)
                goods = rng.choice(pool.cf_items)
                fake = _counterfeit_plan(pool, brand, "asr_slang", rng, goods=goods)
                fake.special = [(pitch(template, spelling, goods[0]), "", (), ())]
                for plan in (trap, fake):
                    plan.seconds = writer.target()
                segments = (_write_segment(trap, writer, rng, filler=False), _write_segment(fake, writer, rng, filler=False))
                clips.append((Broadcast(f"{PREFIX[split]}{n + 1:02d}", split, SEEDS[split], segments), spelling))
    return clips


def generate(out_dir: Path = Path("var/spoken"), splits: Sequence[str] = SPLITS, log=print) -> Path:
    """Render every clip of the splits (speech in one TTS batch per split) and write labels.json."""
    labels_path = out_dir / "labels.json"
    existing = json.loads(labels_path.read_text(encoding="utf-8"))["clips"] if labels_path.exists() else []
    entries = {e["file"]: e for e in existing}
    for split in splits:
        clips = build_clips(split)
        render_split(out_dir, split, [clip for clip, _ in clips], entries, log)
        for clip, spelling in clips:
            for label in entries[f"{split}/{clip.name}.mp4"]["labels"]:
                if label["category"] == "counterfeit":
                    label["spelling"] = spelling
    write_labels(labels_path, entries)
    return labels_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="var/spoken")
    parser.add_argument("--split", action="append", choices=SPLITS, help="default: both")
    parser.add_argument("--print", dest="show", action="store_true", help="print the scripts instead of rendering")
    args = parser.parse_args(argv)
    splits = args.split or list(SPLITS)
    if args.show:
        for split in splits:
            for clip, _ in build_clips(split):
                print(format_script(clip))
        return 0
    print(generate(Path(args.out), splits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
