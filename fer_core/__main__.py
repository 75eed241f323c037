"""Command line: ``python -m fer_core PHOTO... [--json] [--annotate OUT.png]``.

Prints each face's expression and confidence; ``--json`` prints machine-readable
results; ``--annotate`` writes the (first) photo with boxes and labels drawn.
Unreadable files are reported and skipped; the exit code is 1 if any file failed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _read_image(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise FileNotFoundError(f"{path}: no such file")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image (corrupt or unsupported format)")
    return img


def _draw(img: np.ndarray, results) -> np.ndarray:
    import cv2

    out = img.copy()
    scale = max(out.shape[:2]) / 640.0
    for r in results:
        x, y, w, h = r.box
        cv2.rectangle(out, (x, y), (x + w, y + h), (60, 200, 60), max(1, int(2 * scale)))
        cv2.putText(out, f"{r.label} {r.confidence:.0%}", (x, max(y - int(6 * scale), 12)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (60, 200, 60), max(1, int(2 * scale)), cv2.LINE_AA)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_core", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", type=Path, help="image files (JPEG, PNG, BMP, WebP, ...)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("--annotate", type=Path, metavar="OUT.png", help="write the first photo annotated")
    p.add_argument("--model", type=Path, help="an ONNX model (default: the shipped one)")
    args = p.parse_args(argv)

    from fer_core import LABELS, load_recognizer

    rec = load_recognizer(args.model)
    report, failed = [], False
    for i, path in enumerate(args.photos):
        try:
            img = _read_image(path)
            results = rec.analyze(img)
        except (OSError, ValueError) as exc:
            failed = True
            print(f"error: {exc}", file=sys.stderr)
            report.append({"file": str(path), "error": str(exc)})
            continue
        report.append({"file": str(path), "faces": [r.as_dict() for r in results]})
        if args.annotate and i == 0:
            import cv2

            cv2.imwrite(str(args.annotate), _draw(img, results))
        if not args.json:
            print(f"{path}: {len(results)} face(s)" if results else f"{path}: no face found")
            for j, r in enumerate(results, 1):
                top = sorted(zip(r.probabilities, LABELS), reverse=True)[:3]
                alts = ", ".join(f"{lab} {pr:.0%}" for pr, lab in top[1:])
                print(f"  face {j} at {r.box}: {r.label} ({r.confidence:.0%}; then {alts})")
    if args.json:
        print(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
