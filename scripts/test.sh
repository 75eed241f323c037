#!/usr/bin/env bash
# Sets up .venv-dev (run-time + training + test requirements, Debian's Chromium for the
# browser tests), lints with ruff, type-checks fer_core with mypy (settings in pyproject.toml),
# audits requirements.txt for known vulnerabilities (tools/audit_deps.py) and runs the whole
# test suite with pytest, the real-browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-dev/bin/python ]; then "${PYTHON:-python3}" -m venv .venv-dev; fi
.venv-dev/bin/python -m pip install -q --upgrade pip
.venv-dev/bin/python -m pip install -q -r requirements-dev.txt
# Ray, for tests/test_batch.py's cluster run (optional for users: requirements-batch.txt).
# Measured: 44 s and 285 MB on a fresh venv; it changes no version of requirements-dev.txt.
.venv-dev/bin/python -m pip install -q -r requirements-batch.txt
# The real-browser tests (tests/e2e, run through tests/e2e/run.sh in a private network
# namespace) need Debian's Chromium, iproute2 and root for `unshare -n`; the multi-server
# test (tests/e2e/test_cluster.py, ~40 s) also HAProxy and coturn (deploy/cluster.py); jemalloc
# for tests/test_memory.py's check of the allocator the start script prefers.
if ! command -v chromium >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1 \
    || ! command -v turnserver >/dev/null 2>&1 || ! [ -x /usr/sbin/haproxy ] \
    || ! ldconfig -p 2>/dev/null | grep libjemalloc >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium iproute2 haproxy coturn libjemalloc2 >/dev/null
  fi
fi
if command -v chromium >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  export FER_RUN_E2E=1 PYTHON=.venv-dev/bin/python
else
  echo "note: no Chromium/iproute2/root here: the real-browser tests will be skipped" >&2
fi
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" TF_CPP_MIN_LOG_LEVEL=3
.venv-dev/bin/ruff check .
.venv-dev/bin/mypy
# Known vulnerabilities of requirements.txt's packages (PyPI's advisory data): fails when a
# fixed release exists; warns, without failing, when the service cannot be reached.
.venv-dev/bin/python tools/audit_deps.py
.venv-dev/bin/python -m pytest -q -p no:cacheprovider tests "$@"
