#!/usr/bin/env bash
# Run here, before a lent GPU's `run` (docs/GPU.md): fills .device/ (git-ignored; the device tool
# carries it) with the Training split packed losslessly and the wheels the GPU image lacks
# (keras and two of its needs), and checks that what travels fits the tool's 64 MiB.
#   bash scripts/prepare_device.sh [path/to/fer2013.csv.gz [path/to/fer2013new.csv]]
# With the FER+ file the pack also holds the FER+ vote shares (for --ferplus-mix) and drops non-faces.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/fer2013.csv.gz}"
PY="${PYTHON:-.venv-dev/bin/python}"
mkdir -p .device
"$PY" -m training.pack --data "$DATA" --out .device/fer_train.npz --splits Training ${2:+--ferplus "$2"}
KERAS_VERSION="$("$PY" -c 'import keras; print(keras.__version__)')"
rm -rf .device/whl
# The GPU image runs Python 3.12 and has numpy, h5py, ml-dtypes, rich, absl-py and jax, not these.
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .device/whl "keras==$KERAS_VERSION" namex optree
"$PY" - <<'PY'
import subprocess
from pathlib import Path

tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout.decode().split("\0")
tree = sum(Path(f).stat().st_size for f in tracked if f and Path(f).is_file())
carry = sum(p.stat().st_size for p in Path(".device").rglob("*") if p.is_file())
total, limit = tree + carry, 64 * 2**20
print(f"working tree {tree / 2**20:.1f} MiB + .device {carry / 2**20:.1f} MiB = {total / 2**20:.1f} MiB "
      f"of the device tool's {limit / 2**20:.0f} MiB")
raise SystemExit(0 if total <= limit else "too large to carry: `bash scripts/device_stash.sh out` moves "
                 "what the run does not need out of the tree (docs/GPU.md), `... back` after the call")
PY
