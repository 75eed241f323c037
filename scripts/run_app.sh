#!/usr/bin/env bash
# Sets up .venv (run-time requirements only) and starts the web app on the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# glibc's allocator: at most 2 heaps (not 8 per core), and buffers of 512 kB or more mapped
# and unmapped on their own, so the memory of a large photo goes back to the OS after it
# (benchmarks/server_memory.py: peak and resting RSS after 48 MP uploads).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-524288}"
# jemalloc instead where installed (the glibc settings above then go unused).
. scripts/allocator.sh
exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
