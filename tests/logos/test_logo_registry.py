"""The brand registry: data ops edit, checked with the file named in every error."""

from __future__ import annotations

import shutil

import pytest

from events import ConfigError
from logos import DEFAULT_BRANDS_DIR, load_brand_registry
from logos.matcher import load_references
from logos.synthetic import flat_mark, textured_mark, write_brand


def test_default_registry_has_brands_nicknames_prices_and_logos(brands):
    by_id = {b.brand_id: b for b in brands}
    assert set(by_id) == {"chanel", "louis_vuitton", "gucci", "hermes", "dior", "prada"}
    assert "香奶奶" in by_id["chanel"].aliases
    assert "驴牌" in by_id["louis_vuitton"].aliases
    assert {"古奇", "狗家"} <= set(by_id["gucci"].aliases)
    assert {"爱马仕", "爱马"} <= set(by_id["hermes"].all_names)
    assert all(b.min_price and b.min_price > 0 and b.currency == "CNY" and b.logo_paths for b in brands)


def test_flat_marks_are_told_from_textured_ones(brands):
    refs = load_references(brands, 400)
    flat = [(r.brand_id, r.path.rsplit("/", 1)[-1]) for r in refs if r.flat]
    assert flat == [("hermes", "flat_mark.png")]


def test_adding_a_brand_is_adding_files(tmp_path):
    root = tmp_path / "brands"
    shutil.copytree(DEFAULT_BRANDS_DIR, root)
    write_brand(root, "acme", ["Acme", "艾克美"], {"a.png": textured_mark("AC", 9)}, aliases=["A家"], min_price=99)
    brands = load_brand_registry(root)
    acme = next(b for b in brands if b.brand_id == "acme")
    assert acme.names == ("Acme", "艾克美") and acme.min_price == 99.0 and len(brands) == 7


def _registry(tmp_path, text: str, logos=("logo.png",)):
    folder = tmp_path / "reg" / "brand_a"
    folder.mkdir(parents=True)
    import cv2

    for name in logos:
        cv2.imwrite(str(folder / name), textured_mark("AB", 1, 96))
    (folder / "brand.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "reg"


GOOD = "brand_id: brand_a\nnames: [Brand A]\nlogos: [logo.png]\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("brand_id: [unclosed\n", "YAML"),
        ("- just a list\n", "mapping"),
        (GOOD + "colour: red\n", "unknown field"),
        (GOOD.replace("brand_a", "Brand A!"), "brand_id"),
        ("brand_id: brand_a\nnames: []\nlogos: [logo.png]\n", "names"),
        (GOOD + "min_price: -5\n", "min_price"),
        (GOOD + "min_price: cheap\n", "min_price"),
        (GOOD + "currency: yuan\n", "currency"),
        ("brand_id: brand_a\nnames: [A]\nlogos: [missing.png]\n", "missing.png"),
        ("brand_id: brand_a\nnames: [A]\nlogos: [../../etc/passwd]\n", "outside"),
        ("brand_id: brand_a\nnames: [A]\n", "logos"),
    ],
)
def test_bad_brand_file_names_file_and_problem(tmp_path, text, message):
    root = _registry(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as err:
        load_brand_registry(root)
    assert "brand_a/brand.yaml" in str(err.value) and "\n" not in str(err.value)


def test_unreadable_logo_is_refused(tmp_path):
    root = _registry(tmp_path, GOOD)
    (root / "brand_a" / "logo.png").write_bytes(b"not an image")
    with pytest.raises(ConfigError, match="logo.png"):
        load_brand_registry(root)


def test_duplicate_ids_and_shared_aliases_are_refused(tmp_path):
    root = tmp_path / "reg"
    write_brand(root, "one", ["One"], {"l.png": textured_mark("ON", 1, 96)}, aliases=["小一"])
    write_brand(root, "two", ["Two"], {"l.png": textured_mark("TW", 2, 96)}, aliases=["小一"])
    with pytest.raises(ConfigError, match="小一.*already belongs to one"):
        load_brand_registry(root)
    (root / "two" / "brand.yaml").write_text("brand_id: one\nnames: [Two]\nlogos: [l.png]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="two/brand.yaml: brand_id 'one' already used"):
        load_brand_registry(root)


def test_missing_or_empty_registry(tmp_path):
    with pytest.raises(ConfigError, match="not a directory"):
        load_brand_registry(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no \\*/brand.yaml"):
        load_brand_registry(tmp_path)


def test_flat_mark_png_keeps_its_alpha(tmp_path):
    root = tmp_path / "reg"
    write_brand(root, "flat", ["Flat"], {"f.png": flat_mark(3, (40, 200, 40), 128)})
    refs = load_references(load_brand_registry(root), 400)
    assert refs[0].flat and refs[0].mask.min() == 0 and refs[0].mask.max() == 255
