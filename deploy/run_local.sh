#!/usr/bin/env bash
# The multi-server set-up on this machine, inside a private network namespace (only loopback
# exists: 127.0.0.1, plus 127.0.0.2 for aiortc's ICE, as in tests/e2e/run.sh):
# coturn + FER_APPS Streamlit servers + HAProxy with sticky sessions.
#
#   bash deploy/run_local.sh            start, check (HTTP stickiness, a TURN allocation), print, stop
#   bash deploy/run_local.sh up         start and keep running (only reachable inside the namespace)
#
# Needs: root (or unprivileged user namespaces), iproute2, Debian's haproxy and coturn.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if [ "$(id -u)" = 0 ]; then NS="-n"; else NS="-rn"; fi
ARGS=(up --check)
[ "${1:-}" = up ] && ARGS=(up)
exec unshare $NS -- bash -c '
    set -e
    ip link set lo up
    ip addr add 127.0.0.2/8 dev lo
    export FER_TURN_LOOPBACK=1
    exec "$0" deploy/cluster.py "$@"
' "$PY" "${ARGS[@]}"
