#!/usr/bin/env bash
# Real-browser end-to-end tests of the Streamlit app (tests/e2e), run in a private network
# namespace: only loopback exists (127.0.0.1 and 127.0.0.2, the address aiortc's ICE uses),
# so WebRTC connects locally and nothing can reach the outside.
#
#   tests/e2e/run.sh [pytest args...]        e.g. tests/e2e/run.sh -k webcam -x
#
# Needs: util-linux `unshare` (root, or unprivileged user namespaces), iproute2 (`ip`), Debian's `chromium`
# at /usr/bin/chromium (override with FER_CHROMIUM), and the Python packages of
# requirements.txt plus pytest, playwright and scikit-image. `playwright install` is not
# needed: the tests drive the system Chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
# As root: a new network namespace. Otherwise also a user namespace mapping us to root in it
# (needs unprivileged user namespaces, enabled on most distributions).
if [ "$(id -u)" = 0 ]; then NS="-n"; else NS="-rn"; fi
exec unshare $NS -- bash -c '
    set -e
    ip link set lo up
    ip addr add 127.0.0.2/8 dev lo
    export FER_E2E=1
    exec "$0" -m pytest -p no:cacheprovider tests/e2e "$@"
' "$PY" "$@"
