"""Does turning faces upright (alignment by the detector's eye line) help? PublicTest and real photos.

    python benchmarks/alignment.py --data ../shared/data/fer2013.csv.gz \
        --folder ../shared/data/muxspace [--n 700] [--per-class 150] [--angles 0 15 30]

Every face goes through the app's own path (detector, crop, model) three ways: not turned,
levelled by the detector's eye line, and turned only by the tilt beyond
``fer_core.preprocess.TILT_TOLERANCE`` (what ``Recognizer.align`` does, the default). Each image is also
tilted in the picture by +-angle degrees (on a canvas large enough to keep all of it, edges
replicated), as a head tilted in front of a webcam is. PublicTest faces are enlarged to
160x160 on a 320x320 canvas first (as ``benchmarks/crop_scale.py`` does) so the detector can
find them; the real photos (a fixed sample of ``--per-class`` per class, seed 0) are used as
stored. Prints, per set and tilt: faces found, accuracy and mean recall (Angry, Happy, Sad,
Surprise, Neutral) for each way, and the mean tilt of the eye line the detector measured.
Images with no face found count as wrong. Nothing is written to disk.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

MEAN_RECALL = ("Angry", "Happy", "Sad", "Surprise", "Neutral")


def tilt(image: np.ndarray, angle: float) -> np.ndarray:
    """``image`` turned ``angle`` degrees counter-clockwise on a canvas that keeps all of it."""
    if angle == 0:
        return image
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


MODES = ("none", "full", "tolerant")  # not turned; levelled; turned beyond TILT_TOLERANCE


def score(rec, images: list[np.ndarray], angle: float) -> dict:
    """Probabilities per mode (not turned, fully levelled, levelled beyond the tolerance) for the
    best face of each image tilted by ``angle``."""
    from fer_core.preprocess import TILT_TOLERANCE, crop_face, eye_roll, to_gray

    n = len(images)
    probs_by_mode = {m: np.zeros((n, 7)) for m in MODES}
    found = np.zeros(n, bool)
    residual = []
    for i, img in enumerate(images):
        img = tilt(img, angle)
        bgr = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        dets = rec.detector.detect(bgr)
        if not dets:
            continue
        d = dets[0]
        gray = to_gray(bgr)
        side = max(int(round(max(d.box[2], d.box[3]) * rec.crop_scale)), 2)
        crops = [crop_face(gray, d.box, rec.crop_scale, rec.crop_shift, None if m == "none" else d.eyes,
                           TILT_TOLERANCE if m == "tolerant" else 0.0) for m in MODES]
        probs = rec.predict_proba(np.stack(crops), source_sides=[side] * len(crops))
        for m, p_m in zip(MODES, probs):
            probs_by_mode[m][i] = p_m
        found[i] = True
        if d.eyes is not None:
            residual.append(eye_roll(d.eyes))
    return {**probs_by_mode, "found": found, "roll": np.asarray(residual)}


def summary(probs: np.ndarray, found: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from fer_core.labels import LABELS

    pred = np.where(found, probs.argmax(1), -1)
    acc = float((pred == y).mean())
    recalls = [float((pred[y == k] == k).mean()) for k, name in enumerate(LABELS)
               if name in MEAN_RECALL and (y == k).any()]
    return acc, float(np.mean(recalls))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="FER2013 CSV (PublicTest faces)")
    p.add_argument("--folder", help="labelled real photos, <Class>/*.jpg")
    p.add_argument("--n", type=int, default=700, help="PublicTest faces (fixed sample, seed 0)")
    p.add_argument("--per-class", type=int, default=150, help="real photos per class (fixed sample, seed 0)")
    p.add_argument("--angles", type=float, nargs="+", default=[0, 15, 30])
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    args = p.parse_args(argv)
    if not args.data and not args.folder:
        p.error("give --data, --folder or both")
    from fer_core import load_recognizer

    rec = load_recognizer(args.model, threads=2)
    sets = []
    rng = np.random.default_rng(0)
    if args.data:
        from training.data import load_splits

        val = load_splits(args.data)["PublicTest"]
        idx = rng.choice(len(val), min(args.n, len(val)), replace=False)
        canvas = []
        for face in val.x[idx]:
            big = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
            canvas.append(cv2.copyMakeBorder(big, 80, 80, 80, 80, cv2.BORDER_REFLECT))
        sets.append(("PublicTest", canvas, val.y[idx]))
    if args.folder:
        from training.data import folder_files, read_image

        files = folder_files(args.folder)
        ys = np.array([c for _, c in files])
        pick = np.concatenate([rng.permutation(np.flatnonzero(ys == k))[:args.per_class] for k in np.unique(ys)])
        imgs, labels = [], []
        for i in pick:
            img = read_image(files[i][0])
            if img is not None:
                imgs.append(img)
                labels.append(ys[i])
        sets.append((Path(args.folder).name, imgs, np.asarray(labels)))

    print("| set | tilt | n | found | accuracy: not turned / levelled / beyond tolerance | "
          "mean recall: not turned / levelled / beyond tolerance | mean |eye-line tilt| |")
    print("|---|---|---|---|---|---|---|")
    for name, images, y in sets:
        for a in sorted({abs(v) for v in args.angles}):
            runs = [score(rec, images, s) for s in ([a, -a] if a else [0.0])]
            found = np.concatenate([r["found"] for r in runs])
            yy = np.concatenate([y] * len(runs))
            figures = [summary(np.concatenate([r[m] for r in runs]), found, yy) for m in MODES]
            # The tilt the eye line measures (the image's own plus the added turn).
            roll = np.concatenate([r["roll"] for r in runs])
            print(f"| {name} | +-{a:g} | {len(yy)} | {found.mean():.1%} | "
                  f"{' / '.join(f'{acc:.1%}' for acc, _ in figures)} | "
                  f"{' / '.join(f'{mr:.1%}' for _, mr in figures)} | {np.abs(roll).mean():.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
