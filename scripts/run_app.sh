#!/usr/bin/env bash
# Sets up .venv (run-time requirements only) and starts the web app on the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
