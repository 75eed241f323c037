"""How much small image changes move the shipped model (a script that prints a table).

    python benchmarks/robustness.py --data ../shared/data/fer2013.csv.gz [--model models/fer_model.onnx]

Every PublicTest face (the selection split; nothing here is tuned) is perturbed and sent
through ``predict_proba``: mirror image, shifts of 2 px (4% of the face), Gaussian blur,
brightness and contrast changes, a tighter and a looser crop, and a half-resolution copy.
For each change it prints the accuracy, its difference to the clean faces in points, and
how often the top class stays the same. A second table gives the accuracy of faces cut
at 16 to 40 px (``--sides``), as small faces in group photos and video calls reach the model;
``--enlarge linear|cubic|lanczos`` enlarges them with that filter first, to compare filters.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _each(faces: np.ndarray, fn) -> np.ndarray:
    return np.stack([fn(f) for f in faces]).astype(np.uint8)


def shift(faces: np.ndarray, dx: int, dy: int) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return _each(faces, lambda f: cv2.warpAffine(f, m, f.shape[::-1], borderMode=cv2.BORDER_REPLICATE))


def zoom(faces: np.ndarray, factor: float) -> np.ndarray:
    """factor > 1: a tighter crop (the face fills more of the frame); < 1: a looser one."""
    c = (faces.shape[2] / 2 - 0.5, faces.shape[1] / 2 - 0.5)
    m = cv2.getRotationMatrix2D(c, 0.0, factor)
    return _each(faces, lambda f: cv2.warpAffine(f, m, f.shape[::-1], flags=cv2.INTER_LINEAR,
                                                 borderMode=cv2.BORDER_REPLICATE))


def blur(faces: np.ndarray, sigma: float) -> np.ndarray:
    return _each(faces, lambda f: cv2.GaussianBlur(f, (0, 0), sigma))


def brightness(faces: np.ndarray, delta: float) -> np.ndarray:
    return np.clip(faces.astype(np.float32) + delta, 0, 255).astype(np.uint8)


def contrast(faces: np.ndarray, factor: float) -> np.ndarray:
    f = faces.astype(np.float32)
    mean = f.mean(axis=(1, 2), keepdims=True)
    return np.clip(mean + (f - mean) * factor, 0, 255).astype(np.uint8)


def at_side(faces: np.ndarray, side: int) -> list[np.ndarray]:
    """side x side crops (area shrink), as a face cut at that size reaches ``predict_proba``:
    the recognizer enlarges them itself and, knowing their size, skips the card's input blur
    as it does in the app."""
    return [cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in faces]


def half_resolution(faces: np.ndarray) -> list[np.ndarray]:
    return at_side(faces, 24)


#: Face sizes (px) of the small-face table.
SIDES = (16, 20, 24, 32, 40)

#: --enlarge: how the small-face table brings crops to 48 px. "recognizer" hands over the
#: small crops (``preprocess_face`` enlarges them, bicubically); the others enlarge them here
#: with that OpenCV filter first, to compare filters on the same faces.
ENLARGE = {"recognizer": None, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
           "lanczos": cv2.INTER_LANCZOS4}


#: name -> perturbation of an (N, 48, 48) uint8 batch (a batch or a list of crops for ``predict_proba``)
PERTURBATIONS = {
    "mirror image": lambda x: x[:, :, ::-1],
    "shift 2 px right": lambda x: shift(x, 2, 0),
    "shift 2 px left": lambda x: shift(x, -2, 0),
    "shift 2 px down": lambda x: shift(x, 0, 2),
    "shift 2 px up": lambda x: shift(x, 0, -2),
    "Gaussian blur sigma 0.7": lambda x: blur(x, 0.7),
    "brightness +25": lambda x: brightness(x, 25),
    "brightness -25": lambda x: brightness(x, -25),
    "contrast x0.75": lambda x: contrast(x, 0.75),
    "contrast x1.25": lambda x: contrast(x, 1.25),
    "crop 8% tighter": lambda x: zoom(x, 1.08),
    "crop 8% looser": lambda x: zoom(x, 1 / 1.08),
    "half resolution": half_resolution,
}


def table(rec, faces: np.ndarray, labels: np.ndarray) -> list[tuple[str, float, float, float]]:
    """(condition, accuracy, change in points, top-class agreement with the clean faces) rows."""
    clean = rec.predict_proba(faces).argmax(1)
    base = float((clean == labels).mean())
    rows = [("clean", base, 0.0, 1.0)]
    for name, fn in PERTURBATIONS.items():
        pred = rec.predict_proba(fn(faces)).argmax(1)
        acc = float((pred == labels).mean())
        rows.append((name, acc, 100 * (acc - base), float((pred == clean).mean())))
    return rows


def side_table(rec, faces: np.ndarray, labels: np.ndarray, sides=SIDES,
               enlarge: str = "recognizer") -> list[tuple[int, float, float]]:
    """(side in px, accuracy, change in points against the 48 px faces) rows; ``enlarge``: a key
    of :data:`ENLARGE`. Pre-enlarged crops still count as cut at ``side`` (no input blur)."""
    base = float((rec.predict_proba(faces).argmax(1) == labels).mean())
    rows = [(faces.shape[1], base, 0.0)]
    flag = ENLARGE[enlarge]
    for side in sides:
        small = at_side(faces, side)
        if flag is None:
            probs = rec.predict_proba(small)
        else:
            big = np.stack([cv2.resize(f, faces.shape[1:3][::-1], interpolation=flag) for f in small])
            probs = rec.predict_proba(big, source_sides=np.full(len(big), side))
        acc = float((probs.argmax(1) == labels).mean())
        rows.append((int(side), acc, 100 * (acc - base)))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV")
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--sides", default=",".join(map(str, SIDES)),
                   help="face sizes in px for the small-face table, comma-separated")
    p.add_argument("--enlarge", choices=list(ENLARGE), default="recognizer",
                   help="small-face table: let the recognizer enlarge the crops (default), or "
                        "enlarge them first with this OpenCV filter")
    args = p.parse_args(argv)
    try:
        sides = [int(v) for v in args.sides.split(",") if v.strip()]
    except ValueError:
        p.error(f"--sides takes whole numbers separated by commas, not {args.sides!r}")
    if any(not 2 <= v <= 48 for v in sides):
        p.error("--sides must lie between 2 and 48 px")
    from fer_core import load_recognizer
    from training.data import load_splits

    val = load_splits(args.data)["PublicTest"]
    rec = load_recognizer(args.model, threads=2)
    print(f"model: {rec.model_path.name}, mirror averaging {'on' if rec.flip_tta else 'off'}; "
          f"PublicTest, {len(val)} faces")
    print("| change | accuracy | change (points) | same top class |\n|---|---|---|---|")
    worst = 0.0
    for name, acc, delta, agree in table(rec, val.x, val.y):
        print(f"| {name} | {acc:.2%} | {delta:+.2f} | {agree:.1%} |")
        worst = max(worst, abs(delta))
    print(f"largest change: {worst:.2f} points (goal: < 3)")
    how = "by the recognizer" if args.enlarge == "recognizer" else f"with {args.enlarge} first"
    print(f"\nSmall faces (cut at N px, enlarged {how}):")
    print("| face size | accuracy | change (points) |\n|---|---|---|")
    for side, acc, delta in side_table(rec, val.x, val.y, sides, args.enlarge):
        print(f"| {side} px | {acc:.2%} | {delta:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
