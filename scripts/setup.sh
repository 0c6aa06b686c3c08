#!/usr/bin/env bash
# Sets up everything livewatch needs on a fresh Debian machine, idempotently:
# Debian packages (requirements/apt.txt), a virtualenv in .venv with the pinned
# Python packages (requirements/*.txt), then each scripts/setup.d/*.sh step
# (model weights, test assets). Safe to run again: it skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

log() { printf '[setup] %s\n' "$*" >&2; }

apt_missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$pkg")
done < requirements/apt.txt
if ((${#apt_missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${apt_missing[*]} - install them with: sudo apt-get install ${apt_missing[*]}"
    exit 1
  fi
  log "installing Debian packages: ${apt_missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
pip_reqs=()
for f in requirements/*.txt; do
  [[ "$f" == requirements/apt.txt ]] || pip_reqs+=("$f")
done
stamp=.venv/.requirements.sha256
want=$(cat "${pip_reqs[@]}" pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  log "installing Python packages"
  .venv/bin/pip install -q --disable-pip-version-check $(printf -- '-r %s ' "${pip_reqs[@]}")
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi

for step in scripts/setup.d/*.sh; do
  [[ -e "$step" ]] || continue
  log "running $(basename "$step")"
  bash "$step"
done
log "ready"
