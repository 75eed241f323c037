#!/usr/bin/env bash
# Sets up .venv-dev (run-time + training + test requirements, Debian's Chromium for the
# browser tests) and runs the whole test suite with pytest, the real-browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-dev/bin/python ]; then "${PYTHON:-python3}" -m venv .venv-dev; fi
.venv-dev/bin/python -m pip install -q --upgrade pip
.venv-dev/bin/python -m pip install -q -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: Debian's chromium is not installed; the browser tests will be skipped" >&2
  fi
fi
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" TF_CPP_MIN_LOG_LEVEL=3
.venv-dev/bin/python -m pytest -q -p no:cacheprovider tests "$@"
