#!/usr/bin/env bash
# The one prepared command for a lent GPU (docs/GPU.md): on the device machine, with
# carry [".device"] made by scripts/prepare_device.sh. Installs the carried wheels, then runs
# training.device_recipe on Keras's JAX backend within FER_MINUTES (default 8) and leaves the
# models, logs and summary.json in $OUT, which the tool brings back.
#   bash scripts/device_train.sh [more training.device_recipe options]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder whose files come back}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/fer_site .device/whl/*.whl
export PYTHONPATH="/tmp/fer_site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# Each stage is a new process: a persistent cache lets a stage reuse what its probe compiled.
export JAX_COMPILATION_CACHE_DIR=/tmp/fer_jax_cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=1
python3 -c 'import jax, keras; print("keras", keras.__version__, "on", jax.devices())'
python3 -m training.device_recipe --data .device/fer_train.npz --out "$OUT" \
  --minutes "${FER_MINUTES:-8}" --extra-teacher models/fer_model.onnx "$@"
