#!/usr/bin/env bash
# Set up lambench in ./.venv on a fresh Debian/Ubuntu machine with Python 3.11+.
#   bash scripts/setup.sh          # lambench and its core dependencies
#   bash scripts/setup.sh --test   # plus everything the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
PY="${PYTHON:-python3}"

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; install Python 3.11+ (apt-get install -y python3 python3-venv)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: lambench needs Python 3.11+, $PY is $("$PY" -V 2>&1); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    # Debian/Ubuntu ship venv separately.
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      apt-get update -qq && (apt-get install -y -qq "python${ver}-venv" || apt-get install -y -qq python3-venv)
      "$PY" -m venv .venv
    else
      echo "error: '$PY -m venv' failed; install the venv module (sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi

.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ "$mode" = "--test" ]; then
  # --- models: the CPU build of torch first (the hf: adapter's tests run a tiny model on CPU); a plain
  # `pip install torch` would pull several GB of CUDA libraries.
  .venv/bin/python -m pip install -q "torch==2.13.0" || .venv/bin/python -m pip install -q torch
  # --- end models
  .venv/bin/python -m pip install -q -e ".[test]"
  # --- report: the browser test (tests/test_report.py) opens the HTML report in Debian's chromium,
  # driven by playwright (playwright's own browser download is not used).
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null 2>&1; } \
        || echo "note: could not install chromium (apt-get install -y chromium); the browser test will skip, or fail under CI=true" >&2
    else
      echo "note: /usr/bin/chromium is missing, so the browser test will skip, or fail under CI=true (sudo apt-get install chromium)" >&2
    fi
  fi
  # --- end report
  # --- containers: the container sandboxes' tests need a Docker engine and the sandbox images.
  # Debian's docker.io (dockerd started here when none answers) and debootstrap for the offline base
  # image; without root or apt they skip, and fail under CI=true.
  if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
        apt-get install -y -qq docker.io debootstrap >/dev/null 2>&1 \
          || { apt-get update -qq && apt-get install -y -qq docker.io debootstrap >/dev/null 2>&1; } \
          || echo "note: could not install docker.io and debootstrap; the container tests will skip (fail under CI=true)" >&2
      fi
      if command -v dockerd >/dev/null 2>&1; then
        (nohup dockerd >/var/log/lambench-dockerd.log 2>&1 &)
        for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
      fi
    else
      echo "note: no Docker engine answers; the container tests will skip (fail under CI=true): start one, or apt-get install docker.io" >&2
    fi
  fi
  if docker info >/dev/null 2>&1; then
    .venv/bin/lambench sandboxes build >&2 || echo "note: building the sandbox images failed; the container tests will fail" >&2
  fi
  # --- end containers
else
  .venv/bin/python -m pip install -q -e .
fi
echo "lambench $(.venv/bin/lambench --version | awk '{print $NF}') is ready in .venv" >&2
