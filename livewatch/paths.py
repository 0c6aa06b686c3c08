"""Where the bundled data lives in a checkout (rules, lexicons, brands, tools)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES_DIR = REPO_ROOT / "rules" / "default" / "rules"
DEFAULT_LEXICON_DIR = REPO_ROOT / "rules" / "default" / "lexicons"
DEFAULT_BRANDS_DIR = REPO_ROOT / "logos" / "brands"
