#!/usr/bin/env bash
# Moves the tracked files a device run does not need (face-mesh and iris models, the float32
# model, screenshots) out of the working tree and back, so that the tree plus .device/ fit the
# device tool's 64 MiB (docs/GPU.md). Nothing is deleted: they wait in $FER_DEVICE_HOLD.
#   bash scripts/device_stash.sh out    # before the device call
#   bash scripts/device_stash.sh back   # right after it
set -euo pipefail
cd "$(dirname "$0")/.."
HOLD="${FER_DEVICE_HOLD:-/tmp/fer_device_hold}"
case "${1:-}" in
  out)
    if [ -d "$HOLD" ] && [ -n "$(find "$HOLD" -type f | head -1)" ]; then
      echo "$HOLD still holds files: run 'bash $0 back' first" >&2; exit 1
    fi
    for f in models/landmarks/*.onnx models/fer_model.float32.onnx docs/screenshots/*.png; do
      mkdir -p "$HOLD/$(dirname "$f")" && mv "$f" "$HOLD/$f"
    done
    echo "moved $(find "$HOLD" -type f | wc -l) files to $HOLD" ;;
  back)
    (cd "$HOLD" && find . -type f) | while read -r f; do mkdir -p "$(dirname "$f")" && mv "$HOLD/$f" "$f"; done
    missing=$(git status --porcelain | grep -c '^ D' || true)
    echo "restored; tracked files missing now: $missing"
    [ "$missing" = 0 ] ;;
  *) sed -n 2,6p "$0"; exit 2 ;;
esac
