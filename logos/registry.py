"""The brand registry: one folder per brand, a ``brand.yaml`` and its reference logos.

Ops add a brand by adding a folder; nothing is trained. The file is data, read
with ``yaml.safe_load`` and checked field by field, and every error names the
file and says what to fix, because a typo here silently blinds detection.

    brand_id: chanel
    names: [Chanel, 香奈儿]
    aliases: [香奶奶, 小香]
    min_price: 3500        # lowest genuine retail price (optional)
    category_min_prices:   # optional: lower floors of cheaper categories, by a word of the product
      口红: 300
    currency: CNY
    logos: [monogram.png]  # files next to brand.yaml
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cv2
import yaml

from events import Brand, ConfigError

BRAND_FILE = "brand.yaml"
_KEYS = {"brand_id", "names", "aliases", "min_price", "category_min_prices", "currency", "logos"}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def load_brand_registry(directory: str | Path) -> list[Brand]:
    """Every ``<directory>/*/brand.yaml`` as a :class:`events.Brand`, sorted by brand id.

    Raises ``ConfigError`` for a missing directory, an empty registry, a bad
    file, a missing or unreadable logo, or a brand id or alias claimed twice.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"brand registry {root}: not a directory; point the logos config at the folder holding <brand>/brand.yaml")
    files = sorted(root.glob(f"*/{BRAND_FILE}"))
    if not files:
        raise ConfigError(f"brand registry {root}: no */{BRAND_FILE} found; add one folder per brand")
    brands = [_load_brand(path) for path in files]
    _check_unique(brands, files)
    return sorted(brands, key=lambda b: b.brand_id)


def _load_brand(path: Path) -> Brand:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read brand file ({_one_line(exc)}); fix the YAML syntax") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with brand_id, names, logos; got {type(doc).__name__}")
    unknown = set(doc) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    brand_id = doc.get("brand_id")
    if not isinstance(brand_id, str) or not _ID.match(brand_id):
        raise ConfigError(f"{path}: brand_id must be lowercase letters, digits, '_' or '-' (got {brand_id!r})")
    names = _strings(path, doc, "names", required=True)
    aliases = _strings(path, doc, "aliases", required=False)
    return Brand(
        brand_id=brand_id,
        names=names,
        aliases=aliases,
        min_price=_price(path, doc.get("min_price")),
        currency=_currency(path, doc.get("currency", "CNY")),
        category_min_prices=_category_prices(path, doc.get("category_min_prices")),
        logo_paths=_logos(path, doc.get("logos")),
    )


def _strings(path: Path, doc: dict[str, Any], key: str, required: bool) -> tuple[str, ...]:
    value = doc.get(key)
    if value is None and not required:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value and required or not all(isinstance(v, str) and v.strip() for v in value):
        need = "a non-empty list" if required else "a list"
        raise ConfigError(f"{path}: {key} must be {need} of non-empty strings (got {value!r})")
    return tuple(v.strip() for v in value)


def _price(path: Path, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{path}: min_price must be a positive number or left out (got {value!r})")
    return float(value)


def _category_prices(path: Path, value: Any) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and k.strip() and not isinstance(v, bool) and isinstance(v, (int, float)) and v > 0
        for k, v in value.items()
    )
    if not ok:
        raise ConfigError(f"{path}: category_min_prices must map product words to positive prices, e.g. {{口红: 300}} (got {value!r})")
    return tuple((k.strip(), float(v)) for k, v in value.items())


def _currency(path: Path, value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise ConfigError(f"{path}: currency must be a 3-letter ISO code such as CNY or USD (got {value!r})")
    return value


def _logos(path: Path, value: Any) -> tuple[str, ...]:
    """Logo files, resolved next to brand.yaml; they may not point outside the brand's folder."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{path}: logos must be a non-empty list of image file names next to {BRAND_FILE}")
    folder = path.parent.resolve()
    out = []
    for name in value:
        logo = (folder / name).resolve()
        if folder not in logo.parents:
            raise ConfigError(f"{path}: logo {name!r} is outside the brand folder; put the image next to {BRAND_FILE}")
        if not logo.is_file():
            raise ConfigError(f"{path}: logo {name!r} not found; add the image or fix the name")
        image = cv2.imread(str(logo), cv2.IMREAD_UNCHANGED)
        if image is None or min(image.shape[:2]) < 32:
            raise ConfigError(f"{path}: logo {name!r} is not a readable image of at least 32x32 px; use PNG or JPEG")
        out.append(str(logo))
    return tuple(out)


def _check_unique(brands: list[Brand], files: list[Path]) -> None:
    """A brand id or a name/alias claimed by two brands would make evidence ambiguous."""
    owner_id: dict[str, Path] = {}
    owner_name: dict[str, tuple[str, Path]] = {}
    for brand, path in zip(brands, files):
        if brand.brand_id in owner_id:
            raise ConfigError(f"{path}: brand_id {brand.brand_id!r} already used by {owner_id[brand.brand_id]}; ids must be unique")
        owner_id[brand.brand_id] = path
        for name in brand.all_names:
            key = name.casefold()
            other = owner_name.get(key)
            if other and other[0] != brand.brand_id:
                raise ConfigError(f"{path}: name or alias {name!r} already belongs to {other[0]} ({other[1]}); keep each name on one brand")
            owner_name[key] = (brand.brand_id, path)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
