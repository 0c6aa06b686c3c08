"""Brand registry and logo matching: sampled frames in, ``logo`` evidence out.

Public face (docs/ARCHITECTURE.md)::

    brands = load_brand_registry(DEFAULT_BRANDS_DIR)      # list[events.Brand]
    stage = LogoStage(brands, LogoOptions(), snapshotter=store.save)
    stage.process(sampled_frame) -> list[Evidence]        # modality LOGO (an events.FrameDetector)
    stage.finish(stream_id) -> list[Evidence]             # end of stream: final spans of logos in view

Two matchers sit behind one small interface (``logos.matcher``): SIFT with one
FLANN index over all reference logos (``logos.sift``) and colour + outline for
flat marks (``logos.shape``).
"""

from pathlib import Path

from logos.registry import load_brand_registry
from logos.stage import LogoOptions, LogoStage

DEFAULT_BRANDS_DIR = Path(__file__).resolve().parent / "brands"

__all__ = ["DEFAULT_BRANDS_DIR", "LogoOptions", "LogoStage", "load_brand_registry"]
