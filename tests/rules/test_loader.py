"""Rule and lexicon files: validated with file and line in every error, never executed."""

from __future__ import annotations

from pathlib import Path

import pytest

import rules
from events import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(ruleset: Path) -> list[str]:
    return [str(e) for e in rules.check_rules(ruleset)]


def test_bundled_rule_set_is_valid() -> None:
    assert rules.check_rules(rules.DEFAULT_RULES_DIR) == []


def test_bad_enum_names_file_and_line(ruleset: Path) -> None:
    path = ruleset / "rules" / "false_claim_absolute.yaml"
    write(path, path.read_text(encoding="utf-8").replace("severity: medium", "severity: urgent"))
    (err,) = rules.check_rules(ruleset)
    assert (Path(err.file).name, err.line) == ("false_claim_absolute.yaml", 4)
    assert "severity" in err.message and "urgent" in err.message


def test_unknown_key_points_at_that_key(ruleset: Path) -> None:
    path = ruleset / "rules" / "counterfeit_brand_cue.yaml"
    text = path.read_text(encoding="utf-8").replace("window_s: 90", "widow_s: 90")
    write(path, text)
    (err,) = rules.check_rules(ruleset)
    line = text.splitlines().index("widow_s: 90") + 1
    assert err.line == line and "unknown key 'widow_s'" in err.message


def test_nested_condition_error_has_its_line(ruleset: Path) -> None:
    path = ruleset / "rules" / "counterfeit_brand_cue.yaml"
    text = path.read_text(encoding="utf-8").replace("price_below: {fraction: 0.3, bind: product}", "price_below: {fraction: 3, bind: product}")
    write(path, text)
    (err,) = rules.check_rules(ruleset)
    assert err.line == next(i for i, line in enumerate(text.splitlines(), 1) if "fraction: 3" in line)
    assert "conditions.all.1.any.1.price_below.fraction" in err.message


def test_yaml_syntax_error_has_its_line(ruleset: Path) -> None:
    write(ruleset / "rules" / "broken.yaml", "id: x\nversion: 1\nconditions: [terms: {lexicons: [a]}\n")
    (err,) = rules.check_rules(ruleset)
    assert Path(err.file).name == "broken.yaml" and err.line >= 3 and "invalid YAML" in err.message


def test_unknown_lexicon_and_duplicate_id(ruleset: Path) -> None:
    write(
        ruleset / "rules" / "zz_more.yaml",
        "- id: false_claim.absolute_terms\n  version: 2\n  category: false_claim\n  severity: low\n"
        "  conditions:\n    terms:\n      lexicons: [absolute_terms, no_such_lexicon]\n",
    )
    errs = errors_of(ruleset)
    assert any("zz_more.yaml:7:" in e and "unknown lexicon 'no_such_lexicon'" in e for e in errs), errs
    assert any("zz_more.yaml:1:" in e and "duplicate rule id" in e for e in errs), errs


def test_duplicate_yaml_key_is_an_error(ruleset: Path) -> None:
    path = ruleset / "rules" / "piracy_rebroadcast.yaml"
    write(path, path.read_text(encoding="utf-8") + "severity: low\n")
    errs = errors_of(ruleset)
    assert any("duplicate key 'severity'" in e for e in errs), errs


def test_unquoted_ratio_in_lexicon_gets_a_hint(ruleset: Path) -> None:
    write(ruleset / "lexicons" / "extra.yaml", "terms:\n  - 精仿\n  - 1:1\n")
    (err,) = rules.check_rules(ruleset)
    assert err.line == 3 and "put it in quotes" in err.message


def test_code_in_yaml_is_not_executed(ruleset: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    write(ruleset / "rules" / "evil.yaml", f"!!python/object/apply:os.system ['touch {marker}']\n")
    errs = errors_of(ruleset)
    assert errs and not marker.exists()


def test_engine_refuses_to_start_on_invalid_rules(ruleset: Path) -> None:
    write(ruleset / "rules" / "broken.yaml", "id: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+"):
        rules.RuleEngine(ruleset)


def test_plain_rules_dir_uses_sibling_lexicons(ruleset: Path) -> None:
    engine = rules.RuleEngine(ruleset / "rules")
    assert {lex.name for lex in engine.lexicons} == {p.stem for p in (ruleset / "lexicons").glob("*.yaml")}
    assert engine.rules and all(r.source for r in engine.rules)


BOMB = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8))


def test_yaml_alias_bomb_is_refused_before_it_is_built(ruleset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Walking the bomb's document would expand it (9**9 items): it is refused from the parse events alone."""
    import yaml

    built: list[str] = []
    real = yaml.SafeLoader.get_single_node

    def spy(loader: yaml.SafeLoader) -> object:
        built.append(loader.buffer)
        return real(loader)

    monkeypatch.setattr(yaml.SafeLoader, "get_single_node", spy)
    write(ruleset / "rules" / "bomb.yaml", BOMB)
    found = errors_of(ruleset)
    assert any("bomb.yaml:1: YAML anchors and aliases" in e for e in found), found
    assert built and not any(text.startswith(BOMB) for text in built), "the bomb was built into a document"


def test_anchors_are_refused_in_lexicons_too(ruleset: Path) -> None:
    path = ruleset / "lexicons" / "absolute_terms.yaml"
    write(path, "x: &same 1\n" + path.read_text(encoding="utf-8"))
    assert any("absolute_terms.yaml:1: YAML anchors" in e for e in errors_of(ruleset))


def test_oversized_rule_file_is_refused(ruleset: Path) -> None:
    write(ruleset / "rules" / "huge.yaml", "# " + "x" * (4 * 1024 * 1024) + "\n")
    assert any("huge.yaml: file is larger than" in e for e in errors_of(ruleset))
