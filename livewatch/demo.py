"""The bundled demo stream: 30 s of live commerce with violations of two kinds.

It is generated on first use (speech is synthesised on the machine, see
``livewatch.synth``) and cached under the data directory. Scenes:

1. a counterfeit pitch: a luxury brand's bag, "1:1 高仿" on screen, ¥99;
2. a banned claim: a supplement that "治愈失眠", "国家级" formula;
3. a clean ending: "正品保障 官方授权", which must raise nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from livewatch.paths import DEFAULT_BRANDS_DIR
from livewatch.synth import ClipSpec, Scene, build_clip, tts_available


def _brand_logo(brand_dir: Path) -> Path | None:
    logos = sorted(brand_dir.glob("*.png")) if brand_dir.is_dir() else []
    return logos[0] if logos else None


def demo_spec(brands_dir: Path = DEFAULT_BRANDS_DIR) -> ClipSpec:
    return ClipSpec(
        name="demo",
        scenes=(
            Scene(
                seconds=10,
                title="LV 经典老花手袋",
                price="¥99",
                caption="高仿 1:1 原单品质 和专柜一模一样",
                speech="这款包包是高仿的，和专柜一模一样，只要九十九元。",
                logo=_brand_logo(brands_dir / "louis_vuitton"),
                background_seed=1,
            ),
            Scene(
                seconds=10,
                title="草本安眠胶囊",
                price="¥199",
                caption="国家级配方 能治愈失眠",
                speech="这个产品能治愈失眠，效果是国家级的。",
                background_seed=2,
            ),
            Scene(
                seconds=10,
                title="羊毛围巾 秋冬新款",
                price="¥259",
                caption="正品保障 官方授权 七天无理由退货",
                speech="喜欢的宝宝可以下单，支持七天无理由退货。",
                background_seed=3,
            ),
        ),
    )


def ensure_demo(data_dir: Path, brands_dir: Path = DEFAULT_BRANDS_DIR) -> Path:
    """Path of the demo clip, rendering it when missing or when its recipe changed."""
    spec = demo_spec(brands_dir)
    recipe = json.dumps([repr(s) for s in spec.scenes] + [tts_available()], ensure_ascii=False)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    path = data_dir / "demo" / f"demo-{digest}.mp4"
    if not path.exists():
        build_clip(spec, path)
    return path
