# The two commands of the README:
#   make run   - set everything up, then watch the bundled demo stream with the embedded broker
#   make test  - set everything up, then lint (ruff) and run the whole test suite (real broker, models, browser)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test bench eval clean

setup:
	bash scripts/setup.sh

run: setup
	$(PY) -m livewatch run --demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

# An hour of 4 live streams, one replaced every minute: RSS and lag slopes (bench/soak.py); not part of `make bench`
.PHONY: soak
soak: setup
	$(PY) -m bench.soak

# Replays the stored evidence (bench/evidence, scanned once per detector change with
# `python -m bench.evidence_corpus scan`) through the rules and the baseline rules: seconds.
eval: setup
	$(PY) -m livewatch eval --evidence bench/evidence --out bench/results/eval.json
	$(PY) -m bench --readme-only

clean:
	rm -rf var .pytest_cache
