"""Where the bundled data lives in a checkout (rules, lexicons, brands, tools)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# A rule set: rules/ (the rules) beside lexicons/ (the term lists they name).
DEFAULT_RULES_DIR = REPO_ROOT / "rules" / "default"
DEFAULT_BRANDS_DIR = REPO_ROOT / "logos" / "brands"
