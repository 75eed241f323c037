"""Choose the crop margin that makes detector crops look like FER2013 faces (tuned on PublicTest only).

    python benchmarks/crop_scale.py --data ../shared/data/fer2013.csv.gz [--n 800]

Each PublicTest face is upscaled to 160x160 and placed in a 320x320 canvas (edges
reflected), the detector finds it, and the crop around the detector box is
enlarged by each candidate scale and moved by each vertical shift before ``predict_proba``. Prints detection rate,
accuracy and agreement with the model's prediction on the original 48x48 face.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--n", type=int, default=800)
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--scales", default="1.1,1.2,1.3,1.4,1.5")
    p.add_argument("--shifts", default="-0.15,-0.1,-0.05,0.0")
    args = p.parse_args(argv)
    from fer_core import load_recognizer
    from training.data import load_splits

    val = load_splits(args.data)["PublicTest"]
    idx = np.random.default_rng(0).choice(len(val), min(args.n, len(val)), replace=False)
    x, y = val.x[idx], val.y[idx]
    rec = load_recognizer(args.model, threads=2)
    direct = rec.predict_proba(x).argmax(1)
    boxes, found = [], []
    for face in x:
        big = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(big, 80, 80, 80, 80, cv2.BORDER_REFLECT)
        dets = rec.detector.detect(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
        found.append(bool(dets))
        boxes.append((canvas, dets[0].box if dets else None))
    found = np.array(found)
    print(f"faces: {len(x)}, detected: {found.mean():.1%}; direct 48x48 accuracy on detected "
          f"{(direct[found] == y[found]).mean():.2%}")
    for s in map(float, args.scales.split(",")):
        for shift in map(float, args.shifts.split(",")):
            rec.crop_scale, rec.crop_shift = s, shift
            crops = [rec.crop_faces(c, [b])[0] for c, b in boxes if b is not None]
            pred = rec.predict_proba(np.stack(crops)).argmax(1)
            print(f"crop scale {s:.2f} shift {shift:+.2f}: accuracy {(pred == y[found]).mean():.2%}, "
                  f"agreement with direct {(pred == direct[found]).mean():.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
